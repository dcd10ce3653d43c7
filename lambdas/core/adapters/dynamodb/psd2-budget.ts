/**
 * PSD2 unattended-access budget: at most `limit` (default 4, RTS 2018/389 Art. 36(5)) forced syncs with
 * `psu_requested=false` per connection per ROLLING 24 h, enforced atomically without transactions.
 *
 * Design: `limit` slot items per connection (pk `PSD2#{userId}#{connectionId}`, sk `SLOT#{i}`). Reserving = a
 * conditional UpdateItem on slot i (`attribute_not_exists(usedAt) OR usedAt < :cutoff`, cutoff = now - 24 h),
 * trying i = 0..limit-1 until one succeeds. Each slot is one item, and DynamoDB serialises conditional writes per
 * item, so two callers can never both take the same slot: concurrent reservations can never exceed `limit` in any
 * 24 h window. A slot frees itself when its `usedAt` falls out of the window; `expiresAt` (usedAt + 24 h + 1 day)
 * only lets DynamoDB TTL clean up idle connections — correctness never depends on TTL deletion.
 *
 * Reservations are never released: a sync that failed may still have reached the bank, and the regulation counts
 * accesses, not successes. Retries of the same step in one execution reuse their reservation (execution markers,
 * ../domain/execution-markers.ts), so Step Functions retries do not burn the budget. Syncs the account holder asked
 * for (psuRequested) are outside this budget and never call reserve().
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoErrorToStepError, isConditionalCheckFailed } from './errors';
import { tableKeys } from './table-schema';

export const PSD2_WINDOW_MS = 24 * 60 * 60 * 1000;
const EXPIRY_GRACE_SECONDS = 24 * 60 * 60;

export type Psd2Reservation =
  | { granted: true; slot: number; usedAt: string }
  | { granted: false; limit: number };

export interface Psd2Budget {
  readonly limit: number;
  /** Takes one unattended-sync slot for the connection, or says the 24 h budget is spent. */
  reserve(userId: number, connectionId: number, context?: { executionId?: string }): Promise<Psd2Reservation>;
  readonly requestCount: number;
}

export interface Psd2BudgetOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  limit?: number;
  clock?: () => Date;
}

export function createPsd2Budget(options: Psd2BudgetOptions): Psd2Budget {
  const { client, tableName } = options;
  const limit = options.limit ?? 4;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`PSD2 limit must be an integer >= 1, got ${limit}`);
  const clock = options.clock ?? (() => new Date());
  let requestCount = 0;

  async function reserve(
    userId: number,
    connectionId: number,
    context: { executionId?: string } = {},
  ): Promise<Psd2Reservation> {
    const now = clock();
    const nowMs = now.getTime();
    for (let slot = 0; slot < limit; slot++) {
      requestCount += 1;
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: tableKeys.psd2Slot(userId, connectionId, slot),
            UpdateExpression: 'SET usedAt = :now, usedAtIso = :nowIso, expiresAt = :exp, executionId = :exec',
            ConditionExpression: 'attribute_not_exists(usedAt) OR usedAt < :cutoff',
            ExpressionAttributeValues: {
              ':now': nowMs,
              ':nowIso': now.toISOString(),
              ':cutoff': nowMs - PSD2_WINDOW_MS,
              ':exp': Math.floor((nowMs + PSD2_WINDOW_MS) / 1000) + EXPIRY_GRACE_SECONDS,
              ':exec': context.executionId ?? 'none',
            },
          }),
        );
        return { granted: true, slot, usedAt: now.toISOString() };
      } catch (error) {
        if (isConditionalCheckFailed(error)) continue;
        throw dynamoErrorToStepError(error, 'UpdateItem', tableName);
      }
    }
    return { granted: false, limit };
  }

  return {
    limit,
    reserve,
    get requestCount() {
      return requestCount;
    },
  };
}
