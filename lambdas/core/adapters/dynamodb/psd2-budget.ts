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
 * The budget counts bank ACCESSES, not executions: every request that may reach the bank takes its own slot before
 * it is sent, including a retry's re-send after a timeout, reset or 5xx (the bank may have been reached the first
 * time). Reservations are never released for the same reason: the regulation counts accesses, not successes.
 * Syncs the account holder asked for (psuRequested) are outside this budget and never call reserve().
 *
 * Powens' own automatic sync (about once a day) reaches the bank too: observeSync() counts a sync we did not send
 * (seen in a CONNECTION_SYNCED webhook or as a moved `last_update`) by taking a slot dated at that sync, so the
 * window holds at most `limit` accesses whoever made them. Idempotent per sync time (item `SEEN#{iso}`); a sync that
 * finished while one of our reserved requests was in flight is ours and takes no second slot.
 */
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoErrorToStepError, isConditionalCheckFailed } from './errors';
import { TABLE_KEY_PREFIX, tableKeys } from './table-schema';

export const PSD2_WINDOW_MS = 24 * 60 * 60 * 1000;
const EXPIRY_GRACE_SECONDS = 24 * 60 * 60;
/** A sync finishing at most this long after one of our reservations is taken to be the one we sent. */
export const FORCED_SYNC_MATCH_MS = 30 * 60 * 1000;

export type ObservedSync = 'counted' | 'already_counted' | 'ours' | 'outside_window' | 'budget_full';

export type Psd2Reservation = { granted: true; slot: number; usedAt: string } | { granted: false; limit: number };

export interface Psd2Budget {
  readonly limit: number;
  /** Takes one unattended-sync slot for the connection, or says the 24 h budget is spent. */
  reserve(userId: number, connectionId: number, context?: { executionId?: string }): Promise<Psd2Reservation>;
  /** Counts a bank access we did not send (Powens' automatic sync) that finished at `syncedAt`. */
  observeSync(userId: number, connectionId: number, syncedAt: Date): Promise<ObservedSync>;
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

  async function takeSlot(userId: number, connectionId: number, at: Date, by: string): Promise<number | undefined> {
    const nowMs = clock().getTime();
    const atMs = at.getTime();
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
              ':now': atMs,
              ':nowIso': at.toISOString(),
              ':cutoff': nowMs - PSD2_WINDOW_MS,
              ':exp': Math.floor((atMs + PSD2_WINDOW_MS) / 1000) + EXPIRY_GRACE_SECONDS,
              ':exec': by,
            },
          }),
        );
        return slot;
      } catch (error) {
        if (isConditionalCheckFailed(error)) continue;
        throw dynamoErrorToStepError(error, 'UpdateItem', tableName);
      }
    }
    return undefined;
  }

  async function reserve(
    userId: number,
    connectionId: number,
    context: { executionId?: string } = {},
  ): Promise<Psd2Reservation> {
    const now = clock();
    const slot = await takeSlot(userId, connectionId, now, context.executionId ?? 'none');
    return slot === undefined ? { granted: false, limit } : { granted: true, slot, usedAt: now.toISOString() };
  }

  async function observeSync(userId: number, connectionId: number, syncedAt: Date): Promise<ObservedSync> {
    const nowMs = clock().getTime();
    const atMs = syncedAt.getTime();
    if (Number.isNaN(atMs) || atMs <= nowMs - PSD2_WINDOW_MS) return 'outside_window';
    const pk = tableKeys.psd2Slot(userId, connectionId, 0).pk;
    requestCount += 1;
    try {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            pk,
            sk: `${TABLE_KEY_PREFIX.seen}${syncedAt.toISOString()}`,
            seenAt: new Date(nowMs).toISOString(),
            expiresAt: Math.floor((atMs + PSD2_WINDOW_MS) / 1000) + EXPIRY_GRACE_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (isConditionalCheckFailed(error)) return 'already_counted';
      throw dynamoErrorToStepError(error, 'PutItem', tableName);
    }
    requestCount += 1;
    let slots;
    try {
      slots = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :slot)',
          ExpressionAttributeValues: { ':pk': pk, ':slot': TABLE_KEY_PREFIX.slot },
          ConsistentRead: true,
        }),
      );
    } catch (error) {
      throw dynamoErrorToStepError(error, 'Query', tableName);
    }
    const ours = (slots.Items ?? []).some((item) => {
      const usedAt = item.usedAt as number | undefined;
      // Powens stamps whole seconds: a sync of ours may read up to a second before the reservation.
      return (
        item.executionId !== 'observed' &&
        usedAt !== undefined &&
        atMs >= usedAt - 2_000 &&
        atMs - usedAt <= FORCED_SYNC_MATCH_MS
      );
    });
    if (ours) return 'ours';
    return (await takeSlot(userId, connectionId, syncedAt, 'observed')) === undefined ? 'budget_full' : 'counted';
  }

  return {
    limit,
    reserve,
    observeSync,
    get requestCount() {
      return requestCount;
    },
  };
}
