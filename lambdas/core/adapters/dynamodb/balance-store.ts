/**
 * Balance snapshots in the single table (key design: ./table-schema.ts).
 *
 * - History: one item per (account, balance time), key `ACCOUNT#{tenant}#{account}` / `AT#{lastUpdatedAt}`. The key
 *   is the snapshot's identity, so writing the same snapshot again (a replayed step, an unchanged account) overwrites
 *   the item with the same content instead of adding a duplicate. Written with BatchWriteItem (25 per request), which
 *   cannot be conditional — fine, because the write is idempotent. TTL: `expiresAt` = balance time + HISTORY_TTL_DAYS.
 * - Latest: one item per account under `TENANT#{tenant}` / `LATEST#{account}`, written with a conditional PutItem
 *   that only moves forward in balance time (`attribute_not_exists(pk) OR balanceAt < :t`). An older or equal
 *   snapshot (a late replay, a slow concurrent execution) fails the condition: counted as `latestStale`, not an error.
 *
 * History is written before latest: if history fails the step fails and latest has not moved, so latest never
 * points at a snapshot missing from history. No transactions are used (dynalite has none, and none are needed:
 * every write is single-item and idempotent or monotonic).
 */
import {
  type DynamoDBDocumentClient,
  type NativeAttributeValue,
  BatchWriteCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ServiceUnavailableError } from '../../errors';
import { settleWithConcurrency } from '../../concurrency';
import { dynamoSender, isConditionalCheckFailed } from './errors';
import type { AccountBalanceRecord } from '../../domain/balances';
import { TABLE_KEY_PREFIX, tableKeys } from './table-schema';

export { cashPositions } from '../../domain/balances';
export type { AccountBalanceRecord, CashPosition } from '../../domain/balances';

export const BATCH_WRITE_LIMIT = 25;
const DAY_SECONDS = 86_400;

export interface BatchRetryPolicy {
  /** Total BatchWriteItem calls per chunk, first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BATCH_RETRY: BatchRetryPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2_000 };

export interface BalanceStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: () => Date;
  /** History retention (DynamoDB TTL), days after the balance time. Default 400. */
  historyTtlDays?: number;
  /** Conditional latest writes in flight at once. Default 8. */
  latestConcurrency?: number;
  batchRetry?: BatchRetryPolicy;
  /** Injected so retry tests never sleep for real. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

export interface WriteSnapshotsResult {
  historyWritten: number;
  latestAdvanced: number;
  latestStale: number;
  /** DynamoDB requests this call made (BatchWriteItem attempts + PutItem), for benchmarks. */
  requests: number;
}

export interface HistoryRange {
  /** Inclusive lower bound on lastUpdatedAt. */
  from?: Date | string;
  /** Inclusive upper bound on lastUpdatedAt. */
  to?: Date | string;
}

/** Which latest items to mark: any of the given accounts, or every account of a connection or of a Powens user. */
export interface LatestSelection {
  accountIds?: readonly string[];
  connectionId?: string;
  powensUserId?: number;
}

export type ExclusionReason = 'account_disabled' | 'connection_deleted' | 'user_deleted';

export interface LatestExclusion {
  reason: ExclusionReason;
  /** ISO time of the fact (account disabled, connection or user deleted). */
  at: string;
}

export interface BalanceStore {
  writeSnapshots(records: readonly AccountBalanceRecord[]): Promise<WriteSnapshotsResult>;
  /**
   * Latest snapshot of every account of the tenant, sorted by accountId. Accounts excluded by markLatest (disabled,
   * connection or user deleted) are left out unless `includeExcluded`: they no longer count in positions.
   */
  listLatest(tenantId: string, options?: { includeExcluded?: boolean }): Promise<AccountBalanceRecord[]>;
  /**
   * Takes the selected accounts' latest items out of listLatest (never touches history). A newer snapshot of the
   * account replaces the item and so brings it back (a re-enabled account). Returns how many items were marked.
   */
  excludeLatest(tenantId: string, select: LatestSelection, excluded: LatestExclusion): Promise<number>;
  /**
   * Latest items of the `known` connections get `stale: true` when their connection is in `needsUser`, lose it
   * otherwise; only items whose flag changes are written (one Query + the transitions).
   */
  syncStaleFlags(tenantId: string, known: ReadonlySet<string>, needsUser: ReadonlySet<string>): Promise<{ flagged: number; cleared: number }>;
  /** Snapshots of one account, oldest first, unexpired only (DynamoDB TTL deletes lazily). */
  queryHistory(tenantId: string, accountId: string, range?: HistoryRange): Promise<AccountBalanceRecord[]>;
  /** DynamoDB requests made by this store since it was created. */
  readonly requestCount: number;
}

/** Attributes of an item that are not part of the record. */
const ITEM_ONLY_ATTRIBUTES = new Set(['pk', 'sk', 'balanceAt', 'expiresAt', 'itemType', 'updatedAt', 'excludedReason', 'excludedAt']);

type Item = Record<string, NativeAttributeValue>;

function recordAttributes(record: AccountBalanceRecord): Item {
  // Explicit copy: undefined optional fields are left out so the marshaller never sees them.
  const item: Item = {
    id: record.id,
    accountId: record.accountId,
    tenantId: record.tenantId,
    connectionId: record.connectionId,
    balanceType: record.balanceType,
    currentBalance: record.currentBalance,
    currency: record.currency,
    lastUpdatedAt: record.lastUpdatedAt,
    createdAt: record.createdAt,
  };
  if (record.availableBalance !== undefined) item.availableBalance = record.availableBalance;
  if (record.metadata !== undefined) item.metadata = record.metadata;
  if (record.stale === true) item.stale = true;
  return item;
}

function itemToRecord(item: Record<string, unknown>): AccountBalanceRecord {
  const record: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) if (!ITEM_ONLY_ATTRIBUTES.has(key)) record[key] = value;
  return record as unknown as AccountBalanceRecord;
}

function balanceTime(record: AccountBalanceRecord): number {
  const ms = Date.parse(record.lastUpdatedAt);
  if (Number.isNaN(ms)) throw new RangeError(`record ${record.id} has an invalid lastUpdatedAt ${record.lastUpdatedAt}`);
  return ms;
}

function toIso(value: Date | string): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new RangeError(`invalid date ${String(value)}`);
  return date.toISOString();
}

export function createBalanceStore(options: BalanceStoreOptions): BalanceStore {
  const { client, tableName } = options;
  const clock = options.clock ?? (() => new Date());
  const ttlSeconds = (options.historyTtlDays ?? 400) * DAY_SECONDS;
  const latestConcurrency = options.latestConcurrency ?? 8;
  const retry = options.batchRetry ?? DEFAULT_BATCH_RETRY;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const dynamo = dynamoSender(tableName);
  const send = dynamo.send;


  async function writeHistoryChunk(items: Item[]): Promise<number> {
    let pending: { PutRequest: { Item: Item } }[] = items.map((Item) => ({ PutRequest: { Item } }));
    let requests = 0;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) {
        // Full jitter: concurrent writers that were throttled together do not retry together.
        const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 2));
        await sleep(Math.floor(random() * cap));
      }
      requests += 1;
      const response = await send('BatchWriteItem', () =>
        client.send(new BatchWriteCommand({ RequestItems: { [tableName]: pending } })),
      );
      const unprocessed = response.UnprocessedItems?.[tableName] ?? [];
      pending = unprocessed.flatMap((request) =>
        request.PutRequest?.Item ? [{ PutRequest: { Item: request.PutRequest.Item as Item } }] : [],
      );
      if (pending.length > 0 && attempt >= retry.maxAttempts) {
        throw new ServiceUnavailableError(
          `DynamoDB BatchWriteItem on ${tableName} left ${pending.length} history item(s) unprocessed after ` +
            `${attempt} attempts (throttling); the step retry will write them (writes are idempotent).`,
          { details: { operation: 'BatchWriteItem', tableName, unprocessed: pending.length, attempts: attempt } },
        );
      }
    }
    return requests;
  }

  async function writeSnapshots(records: readonly AccountBalanceRecord[]): Promise<WriteSnapshotsResult> {
    const history = new Map<string, Item>();
    const newestPerAccount = new Map<string, { record: AccountBalanceRecord; at: number }>();
    for (const record of records) {
      const at = balanceTime(record);
      const key = tableKeys.history(record.tenantId, record.accountId, new Date(at).toISOString());
      // Same key twice in one BatchWriteItem is a ValidationException: keep one item per snapshot.
      history.set(`${key.pk}\u0000${key.sk}`, {
        ...key,
        ...recordAttributes(record),
        itemType: 'history',
        balanceAt: at,
        expiresAt: Math.floor(at / 1000) + ttlSeconds,
      });
      const accountKey = `${record.tenantId}\u0000${record.accountId}`;
      const current = newestPerAccount.get(accountKey);
      if (current === undefined || at > current.at) newestPerAccount.set(accountKey, { record, at });
    }

    let requests = 0;
    const historyItems = [...history.values()];
    const chunks: Item[][] = [];
    for (let i = 0; i < historyItems.length; i += BATCH_WRITE_LIMIT) chunks.push(historyItems.slice(i, i + BATCH_WRITE_LIMIT));
    const chunkResults = await settleWithConcurrency(chunks, 4, writeHistoryChunk);
    for (const result of chunkResults) if (result.status === 'fulfilled') requests += result.value;
    const failedChunk = chunkResults.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failedChunk) throw failedChunk.reason;

    let latestAdvanced = 0;
    let latestStale = 0;
    const latestResults = await settleWithConcurrency([...newestPerAccount.values()], latestConcurrency, async ({ record, at }) => {
      requests += 1;
      try {
        await send('PutItem', () =>
          client.send(
            new PutCommand({
              TableName: tableName,
              Item: {
                ...tableKeys.latest(record.tenantId, record.accountId),
                ...recordAttributes(record),
                itemType: 'latest',
                balanceAt: at,
                updatedAt: clock().toISOString(),
              },
              ConditionExpression: 'attribute_not_exists(pk) OR balanceAt < :t',
              ExpressionAttributeValues: { ':t': at },
            }),
          ),
        );
        latestAdvanced += 1;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        latestStale += 1;
      }
    });
    const failedLatest = latestResults.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failedLatest) throw failedLatest.reason;

    return { historyWritten: historyItems.length, latestAdvanced, latestStale, requests };
  }

  async function queryAll(input: ConstructorParameters<typeof QueryCommand>[0]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const response = await send('Query', () =>
        client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey })),
      );
      items.push(...((response.Items ?? []) as Record<string, unknown>[]));
      startKey = response.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  async function latestItems(tenantId: string): Promise<Record<string, unknown>[]> {
    return queryAll({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': tableKeys.latest(tenantId, '').pk, ':prefix': TABLE_KEY_PREFIX.latest },
    });
  }

  async function listLatest(tenantId: string, options: { includeExcluded?: boolean } = {}): Promise<AccountBalanceRecord[]> {
    const items = (await latestItems(tenantId)).filter((item) => options.includeExcluded === true || item.excludedReason === undefined);
    return items.map(itemToRecord).sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  }

  async function updateLatest(items: Record<string, unknown>[], expression: string, values: Record<string, NativeAttributeValue>): Promise<number> {
    const results = await settleWithConcurrency(items, latestConcurrency, async (item) => {
      try {
        await send('UpdateItem', () =>
          client.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { pk: item.pk, sk: item.sk },
              UpdateExpression: expression,
              // Only the snapshot we read: a newer one written meanwhile is not marked by an older fact.
              ConditionExpression: 'balanceAt = :balanceAt',
              ExpressionAttributeValues: { ...values, ':balanceAt': item.balanceAt as number },
            }),
          ),
        );
        return 1;
      } catch (error) {
        if (isConditionalCheckFailed(error)) return 0;
        throw error;
      }
    });
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0);
  }

  async function excludeLatest(tenantId: string, select: LatestSelection, excluded: LatestExclusion): Promise<number> {
    const accounts = select.accountIds === undefined ? undefined : new Set(select.accountIds);
    const chosen = (await latestItems(tenantId)).filter((item) => {
      if (item.excludedReason !== undefined) return false;
      if (accounts?.has(String(item.accountId))) return true;
      if (select.connectionId !== undefined && item.connectionId === select.connectionId) return true;
      const owner = (item.metadata as { powensUserId?: unknown } | undefined)?.powensUserId;
      return select.powensUserId !== undefined && owner === select.powensUserId;
    });
    return updateLatest(chosen, 'SET excludedReason = :reason, excludedAt = :at', { ':reason': excluded.reason, ':at': excluded.at });
  }

  async function syncStaleFlags(
    tenantId: string,
    known: ReadonlySet<string>,
    needsUser: ReadonlySet<string>,
  ): Promise<{ flagged: number; cleared: number }> {
    const items = (await latestItems(tenantId)).filter((item) => known.has(String(item.connectionId)));
    const toFlag = items.filter((item) => needsUser.has(String(item.connectionId)) && item.stale !== true);
    const toClear = items.filter((item) => !needsUser.has(String(item.connectionId)) && item.stale === true);
    const [flagged, cleared] = await Promise.all([
      updateLatest(toFlag, 'SET stale = :stale', { ':stale': true }),
      updateLatest(toClear, 'REMOVE stale', {}),
    ]);
    return { flagged, cleared };
  }

  async function queryHistory(tenantId: string, accountId: string, range: HistoryRange = {}): Promise<AccountBalanceRecord[]> {
    const { pk } = tableKeys.history(tenantId, accountId, '');
    // `AT#` + ISO is fixed width, so string bounds are time bounds; `AT$` sorts right after every `AT#...`.
    const from = range.from === undefined ? TABLE_KEY_PREFIX.at : `${TABLE_KEY_PREFIX.at}${toIso(range.from)}`;
    const to = range.to === undefined ? 'AT$' : `${TABLE_KEY_PREFIX.at}${toIso(range.to)}`;
    const items = await queryAll({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': to },
      ConsistentRead: true,
    });
    const nowSeconds = Math.floor(clock().getTime() / 1000);
    return items
      .filter((item) => typeof item.expiresAt !== 'number' || item.expiresAt > nowSeconds)
      .map(itemToRecord);
  }

  return {
    writeSnapshots,
    listLatest,
    excludeLatest,
    syncStaleFlags,
    queryHistory,
    get requestCount() {
      return dynamo.requestCount;
    },
  };
}
