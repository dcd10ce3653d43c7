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
 *   Exception: the same snapshot read while its connection is in another state (e.g. now SCARequired) rewrites the
 *   latest item (`latestConnectionStateChanged`), so staleness by connection state is visible without a new balance.
 *
 * History is written before latest: if history fails the step fails and latest has not moved, so latest never
 * points at a snapshot missing from history. No transactions are used (dynalite has none, and none are needed:
 * every write is single-item and idempotent or monotonic).
 */
import {
  type DynamoDBDocumentClient,
  type NativeAttributeValue,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ServiceUnavailableError } from '../../errors';
import { settleWithConcurrency } from '../../concurrency';
import { conditionalWrite, dynamoSender, isConditionalCheckFailed, queryAllPages } from './errors';
import { assetClassOf, isAssetClass } from '../../domain/asset-class';
import type { AccountBalanceRecord } from '../../domain/balances';
import { TABLE_KEY_PREFIX, tableKeys } from './table-schema';

export type { AccountBalanceRecord } from '../../domain/balances';

export const BATCH_WRITE_LIMIT = 25;
const DAY_SECONDS = 86_400;

export interface BatchRetryPolicy {
  /** Total BatchWriteItem calls per chunk, first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_BATCH_RETRY: BatchRetryPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2_000 };

/**
 * Conditional latest writes in flight at once. Each is one round trip (a few ms in-region): at 8 the latest phase of
 * 10,000 accounts was round-trip bound (bench/storage.ts behind its 5 ms latency proxy); 32 stays under the SDK's
 * default of 50 sockets per client, leaving room for the history batches that run beside it.
 */
export const DEFAULT_LATEST_CONCURRENCY = 32;

export interface BalanceStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: () => Date;
  /** History retention (DynamoDB TTL), days after the balance time. Default 400. */
  historyTtlDays?: number;
  /** Conditional latest writes in flight at once. Default DEFAULT_LATEST_CONCURRENCY. */
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
  /** Latest items kept at the same balance time but rewritten because their connection's state changed. */
  latestConnectionStateChanged: number;
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

/**
 * Why a latest balance left positions. `user_removed` (DELETE /users/{id}: we stopped serving the user) is the one a
 * refresh lifts even at the same balance time, since a refresh means the user is served again (registered anew); the
 * others are facts about the account at Powens, which only a newer balance overrides.
 */
export type ExclusionReason = 'account_disabled' | 'connection_deleted' | 'user_deleted' | 'user_removed';

const LIFTED_BY_A_REFRESH: ExclusionReason = 'user_removed';

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
  /** Snapshots of one account, oldest first, unexpired only (DynamoDB TTL deletes lazily). */
  queryHistory(tenantId: string, accountId: string, range?: HistoryRange): Promise<AccountBalanceRecord[]>;
  /** The latest balance of one account, if any. */
  getLatest(tenantId: string, accountId: string): Promise<AccountBalanceRecord | undefined>;
  /**
   * One page of latest balances (DynamoDB order: by `LATEST#{accountId}` as a string). `lastKey` is present when
   * more may follow; pass it back as `startKey`.
   */
  listLatestPage(tenantId: string, page: PageRequest): Promise<RecordPage>;
  /** One page of an account's history, oldest first (expired items dropped, so a page may hold fewer). */
  queryHistoryPage(tenantId: string, accountId: string, range: HistoryRange, page: PageRequest): Promise<RecordPage>;
  /** DynamoDB requests made by this store since it was created. */
  readonly requestCount: number;
}

/** A DynamoDB LastEvaluatedKey of this table (the key attributes only). */
export interface PageKey {
  pk: string;
  sk: string;
}

export interface PageRequest {
  /** Items DynamoDB evaluates for this page (its `Limit`); default: as many as fit in 1 MB. */
  limit?: number;
  startKey?: PageKey;
}

export interface RecordPage {
  records: AccountBalanceRecord[];
  lastKey?: PageKey;
}

type QueryInput = ConstructorParameters<typeof QueryCommand>[0];

function withLastKey(page: RecordPage, lastKey: PageKey | undefined): RecordPage {
  return lastKey === undefined ? page : { ...page, lastKey };
}

/** Attributes of an item that are not part of the record. */
const ITEM_ONLY_ATTRIBUTES = new Set([
  'pk',
  'sk',
  'balanceAt',
  'expiresAt',
  'itemType',
  'updatedAt',
  'excludedReason',
  'excludedAt',
]);

type Item = Record<string, NativeAttributeValue>;

function recordAttributes(record: AccountBalanceRecord): Item {
  // Explicit copy: undefined optional fields are left out so the marshaller never sees them.
  const item: Item = {
    id: record.id,
    accountId: record.accountId,
    tenantId: record.tenantId,
    connectionId: record.connectionId,
    balanceType: record.balanceType,
    accountType: record.accountType,
    assetClass: record.assetClass,
    currentBalance: record.currentBalance,
    currency: record.currency,
    lastUpdatedAt: record.lastUpdatedAt,
    createdAt: record.createdAt,
  };
  if (record.connectionState !== undefined) item.connectionState = record.connectionState;
  if (record.availableBalance !== undefined) item.availableBalance = record.availableBalance;
  if (record.metadata !== undefined) item.metadata = record.metadata;
  return item;
}

function itemToRecord(item: Record<string, unknown>): AccountBalanceRecord {
  const record: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) if (!ITEM_ONLY_ATTRIBUTES.has(key)) record[key] = value;
  // Items written before asset classes existed carry the Powens type in metadata only: classify them the same way.
  if (!isAssetClass(record.assetClass)) {
    const type = record.accountType ?? (record.metadata as { type?: unknown } | undefined)?.type;
    record.accountType = typeof type === 'string' ? type : null;
    record.assetClass = assetClassOf(record.accountType as string | null);
  }
  return record as unknown as AccountBalanceRecord;
}

function balanceTime(record: AccountBalanceRecord): number {
  const ms = Date.parse(record.lastUpdatedAt);
  if (Number.isNaN(ms))
    throw new RangeError(`record ${record.id} has an invalid lastUpdatedAt ${record.lastUpdatedAt}`);
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
  const latestConcurrency = options.latestConcurrency ?? DEFAULT_LATEST_CONCURRENCY;
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
    for (let i = 0; i < historyItems.length; i += BATCH_WRITE_LIMIT)
      chunks.push(historyItems.slice(i, i + BATCH_WRITE_LIMIT));
    const chunkResults = await settleWithConcurrency(chunks, 4, writeHistoryChunk);
    for (const result of chunkResults) if (result.status === 'fulfilled') requests += result.value;
    const failedChunk = chunkResults.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failedChunk) throw failedChunk.reason;

    let latestAdvanced = 0;
    let latestStale = 0;
    let latestConnectionStateChanged = 0;
    const latestResults = await settleWithConcurrency(
      [...newestPerAccount.values()],
      latestConcurrency,
      async ({ record, at }) => {
        requests += 1;
        // Same balance time but another connection state (a connection blocked, or unblocked, since the balance was
        // taken): the latest item is rewritten so dashboards see that the balance is stuck, or no longer is. Still one
        // PutItem per account; `connectionState` is compared as stored (a string or NULL).
        const knowsState = record.connectionState !== undefined;
        try {
          const put = await send('PutItem', () =>
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
                // An excluded account (disabled, deleted) is not brought back by a state change of the same balance:
                // only a newer balance would do that. A user removed from the registry is: its accounts are being
                // refreshed again, so the same balance is current again.
                ConditionExpression:
                  'attribute_not_exists(pk) OR balanceAt < :t OR (balanceAt = :t AND excludedReason = :lifted)' +
                  (knowsState
                    ? ' OR (balanceAt = :t AND NOT connectionState = :cs AND attribute_not_exists(excludedReason))'
                    : ''),
                ExpressionAttributeValues: {
                  ':t': at,
                  ':lifted': LIFTED_BY_A_REFRESH,
                  ...(knowsState ? { ':cs': record.connectionState } : {}),
                },
                ReturnValues: 'ALL_OLD',
              }),
            ),
          );
          // Same balance time: a connection state change, or a removed user's balance brought back (counted advanced).
          if (put.Attributes?.balanceAt === at && put.Attributes.excludedReason === undefined)
            latestConnectionStateChanged += 1;
          else latestAdvanced += 1;
        } catch (error) {
          if (!isConditionalCheckFailed(error)) throw error;
          latestStale += 1;
        }
      },
    );
    const failedLatest = latestResults.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failedLatest) throw failedLatest.reason;

    return { historyWritten: historyItems.length, latestAdvanced, latestStale, latestConnectionStateChanged, requests };
  }

  async function queryPage(
    input: QueryInput,
    page: PageRequest,
  ): Promise<{ items: Record<string, unknown>[]; lastKey?: PageKey }> {
    const response = await send('Query', () =>
      client.send(new QueryCommand({ ...input, Limit: page.limit, ExclusiveStartKey: page.startKey })),
    );
    const items = (response.Items ?? []) as Record<string, unknown>[];
    const last = response.LastEvaluatedKey;
    return last === undefined ? { items } : { items, lastKey: { pk: String(last.pk), sk: String(last.sk) } };
  }

  const queryAll = (input: QueryInput): Promise<Record<string, unknown>[]> => queryAllPages(dynamo, client, input);

  const latestQuery = (tenantId: string): QueryInput => ({
    TableName: tableName,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': tableKeys.latest(tenantId, '').pk, ':prefix': TABLE_KEY_PREFIX.latest },
  });

  function historyQuery(tenantId: string, accountId: string, range: HistoryRange): QueryInput {
    const { pk } = tableKeys.history(tenantId, accountId, '');
    // `AT#` + ISO is fixed width, so string bounds are time bounds; `AT$` sorts right after every `AT#...`.
    const from = range.from === undefined ? TABLE_KEY_PREFIX.at : `${TABLE_KEY_PREFIX.at}${toIso(range.from)}`;
    const to = range.to === undefined ? 'AT$' : `${TABLE_KEY_PREFIX.at}${toIso(range.to)}`;
    return {
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': to },
      ConsistentRead: true,
    };
  }

  const unexpired = (items: Record<string, unknown>[]): Record<string, unknown>[] => {
    const nowSeconds = Math.floor(clock().getTime() / 1000);
    return items.filter((item) => typeof item.expiresAt !== 'number' || item.expiresAt > nowSeconds);
  };

  async function latestItems(tenantId: string): Promise<Record<string, unknown>[]> {
    return queryAll(latestQuery(tenantId));
  }

  async function updateLatest(
    items: Record<string, unknown>[],
    expression: string,
    values: Record<string, NativeAttributeValue>,
  ): Promise<number> {
    const results = await settleWithConcurrency(items, latestConcurrency, async (item) => {
      const written = await conditionalWrite(dynamo, 'UpdateItem', () =>
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
      return written === undefined ? 0 : 1;
    });
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0);
  }

  /** The latest items of these accounts: one GetItem each, not a read of the tenant's whole latest partition. */
  async function latestItemsOf(tenantId: string, accountIds: readonly string[]): Promise<Record<string, unknown>[]> {
    const read = await settleWithConcurrency([...new Set(accountIds)], latestConcurrency, (accountId) =>
      send('GetItem', () =>
        client.send(new GetCommand({ TableName: tableName, Key: tableKeys.latest(tenantId, accountId) })),
      ),
    );
    return read.flatMap((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value.Item === undefined ? [] : [result.value.Item];
    });
  }

  async function excludeLatest(tenantId: string, select: LatestSelection, excluded: LatestExclusion): Promise<number> {
    const accounts = select.accountIds === undefined ? undefined : new Set(select.accountIds);
    const onlyAccounts =
      select.accountIds !== undefined && select.connectionId === undefined && select.powensUserId === undefined;
    const candidates = onlyAccounts
      ? await latestItemsOf(tenantId, select.accountIds as readonly string[])
      : await latestItems(tenantId);
    const chosen = candidates.filter((item) => {
      if (item.excludedReason !== undefined) return false;
      if (accounts?.has(String(item.accountId))) return true;
      if (select.connectionId !== undefined && item.connectionId === select.connectionId) return true;
      const owner = (item.metadata as { powensUserId?: unknown } | undefined)?.powensUserId;
      return select.powensUserId !== undefined && owner === select.powensUserId;
    });
    return updateLatest(chosen, 'SET excludedReason = :reason, excludedAt = :at', {
      ':reason': excluded.reason,
      ':at': excluded.at,
    });
  }

  /** Accounts excluded by excludeLatest (disabled, connection or user deleted) no longer count anywhere. */
  const included = (items: Record<string, unknown>[]): Record<string, unknown>[] =>
    items.filter((item) => item.excludedReason === undefined);

  async function listLatest(
    tenantId: string,
    options: { includeExcluded?: boolean } = {},
  ): Promise<AccountBalanceRecord[]> {
    const items = await latestItems(tenantId);
    return (options.includeExcluded === true ? items : included(items))
      .map(itemToRecord)
      .sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  }

  async function queryHistory(
    tenantId: string,
    accountId: string,
    range: HistoryRange = {},
  ): Promise<AccountBalanceRecord[]> {
    return unexpired(await queryAll(historyQuery(tenantId, accountId, range))).map(itemToRecord);
  }

  async function getLatest(tenantId: string, accountId: string): Promise<AccountBalanceRecord | undefined> {
    const response = await send('GetItem', () =>
      client.send(new GetCommand({ TableName: tableName, Key: tableKeys.latest(tenantId, accountId) })),
    );
    return response.Item === undefined || response.Item.excludedReason !== undefined
      ? undefined
      : itemToRecord(response.Item);
  }

  async function listLatestPage(tenantId: string, page: PageRequest): Promise<RecordPage> {
    const result = await queryPage(latestQuery(tenantId), page);
    return withLastKey({ records: included(result.items).map(itemToRecord) }, result.lastKey);
  }

  async function queryHistoryPage(
    tenantId: string,
    accountId: string,
    range: HistoryRange,
    page: PageRequest,
  ): Promise<RecordPage> {
    const result = await queryPage(historyQuery(tenantId, accountId, range), page);
    return withLastKey({ records: unexpired(result.items).map(itemToRecord) }, result.lastKey);
  }

  return {
    writeSnapshots,
    listLatest,
    excludeLatest,
    queryHistory,
    getLatest,
    listLatestPage,
    queryHistoryPage,
    get requestCount() {
      return dynamo.requestCount;
    },
  };
}
