/**
 * Connection health items: pk `HEALTH#{tenantId}`, sk `CONN#{userId}#{connectionId}`, one per connection, written by
 * refresh-balances (every connection it looks at) and the Powens webhooks (CONNECTION_SYNCED, deletions).
 *
 * A write is a conditional PutItem that never replaces a newer observation (`observedAt`, ISO, fixed width so string
 * order is time order) nor one with a newer last successful sync (`lastUpdate`), whichever of workflow or webhook
 * arrives last. A deleted connection stays deleted (a late retry of an earlier sync cannot bring it back). Read by
 * `GET /connections`, by whoever needs "does this connection need the account holder" (balances are flagged `stale`
 * then) and by the fan-out, which skips users none of whose connections needs a refresh
 * (lambdas/core/domain/fan-out.ts).
 */
import { DeleteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ConnectionHealth } from '../../domain/connection-health';
import { settleWithConcurrency } from '../../concurrency';
import { conditionalPut, dynamoSender, queryAllPages } from './errors';
import { TABLE_KEY_PREFIX, tableKeys } from './table-schema';

export interface ConnectionHealthStore {
  /**
   * Stores the observation unless a newer one is stored; returns whether it was written. `onlyExisting`: update a
   * connection already known, never create one (a deletion for a user the tenant does not serve).
   */
  record(tenantId: string, health: ConnectionHealth, options?: { onlyExisting?: boolean }): Promise<boolean>;
  /** Every connection of the tenant, sorted by user then connection; `needsUser` filters, `userId` reads one user's. */
  list(tenantId: string, filter?: { needsUser?: boolean; userId?: number }): Promise<ConnectionHealth[]>;
  /**
   * The known connections (deleted ones included) of each of these users, by user id; a user never observed maps to
   * []. One Query per user, at most HEALTH_READ_CONCURRENCY at once: `CONN#{userId}#…` sort keys are not zero-padded,
   * so a page of users in numeric order is not one key range (user 10 sorts between 1 and 2).
   */
  listForUsers(tenantId: string, userIds: readonly number[]): Promise<Map<number, ConnectionHealth[]>>;
  /**
   * Deletes every item of one user (DELETE /users: the tenant stops serving it), returns how many. Its connections
   * leave GET /connections, and a user registered again is one never observed: the next fan-out refreshes it.
   */
  forgetUser(tenantId: string, userId: number): Promise<number>;
  readonly requestCount: number;
}

/** Per-user Queries in flight at once (a fan-out page reads up to a few thousand users). */
export const HEALTH_READ_CONCURRENCY = 16;

const ITEM_ONLY = new Set(['pk', 'sk', 'itemType']);

const toHealth = (item: Record<string, unknown>): ConnectionHealth =>
  Object.fromEntries(Object.entries(item).filter(([key]) => !ITEM_ONLY.has(key))) as unknown as ConnectionHealth;

/**
 * Observation times alone cannot order a webhook: Powens signs every delivery attempt anew, so a retried delivery of
 * an old sync looks recent. Its `last_update` (last successful sync) does not lie: an observation with an older one
 * is older news and never replaces the stored one.
 */
const NOT_OLDER_SYNC = '(attribute_not_exists(lastUpdate) OR attribute_type(lastUpdate, :null) OR lastUpdate <= :lu)';

export function createConnectionHealthStore(options: {
  client: DynamoDBDocumentClient;
  tableName: string;
}): ConnectionHealthStore {
  const { client, tableName } = options;
  const dynamo = dynamoSender(tableName);

  /** Every item of the tenant's health partition whose sort key starts with `prefix`, all pages. */
  const query = async (tenantId: string, prefix: string): Promise<ConnectionHealth[]> =>
    (
      await queryAllPages(dynamo, client, {
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :conn)',
        ExpressionAttributeValues: { ':pk': `${TABLE_KEY_PREFIX.health}${tenantId}`, ':conn': prefix },
      })
    ).map(toHealth);

  return {
    async record(tenantId, health, options = {}) {
      return conditionalPut(dynamo, client, {
        TableName: tableName,
        Item: {
          ...tableKeys.connectionHealth(tenantId, health.userId, health.connectionId),
          itemType: 'health',
          ...health,
        },
        ConditionExpression:
          (options.onlyExisting
            ? 'attribute_exists(pk) AND observedAt <= :t'
            : '(attribute_not_exists(pk) OR observedAt <= :t)') +
          (health.lastUpdate === null ? '' : ` AND ${NOT_OLDER_SYNC}`) +
          // Powens never reuses a deleted connection's id: deletion is final, whatever arrives after it.
          (health.deleted === true ? '' : ' AND attribute_not_exists(deleted)'),
        ExpressionAttributeValues: {
          ':t': health.observedAt,
          ...(health.lastUpdate === null ? {} : { ':lu': health.lastUpdate, ':null': 'NULL' }),
        },
      });
    },

    async list(tenantId, filter = {}) {
      const prefix =
        filter.userId === undefined ? TABLE_KEY_PREFIX.connection : tableKeys.connectionHealthOfUser(filter.userId);
      return (await query(tenantId, prefix))
        .filter((health) => filter.needsUser === undefined || health.needsUser === filter.needsUser)
        .sort((a, b) => a.userId - b.userId || a.connectionId - b.connectionId);
    },

    async listForUsers(tenantId, userIds) {
      const read = await settleWithConcurrency(userIds, HEALTH_READ_CONCURRENCY, (userId) =>
        // The trailing `#` keeps user 1 from matching users 10, 11, ...
        query(tenantId, tableKeys.connectionHealthOfUser(userId)),
      );
      const byUser = new Map<number, ConnectionHealth[]>();
      read.forEach((result, i) => {
        if (result.status === 'rejected') throw result.reason;
        byUser.set(userIds[i] as number, result.value);
      });
      return byUser;
    },

    async forgetUser(tenantId, userId) {
      const known = await query(tenantId, tableKeys.connectionHealthOfUser(userId));
      const deleted = await settleWithConcurrency(known, HEALTH_READ_CONCURRENCY, (health) =>
        dynamo.send('DeleteItem', () =>
          client.send(
            new DeleteCommand({
              TableName: tableName,
              Key: tableKeys.connectionHealth(tenantId, health.userId, health.connectionId),
            }),
          ),
        ),
      );
      const failed = deleted.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return known.length;
    },

    get requestCount() {
      return dynamo.requestCount;
    },
  };
}
