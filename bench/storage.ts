/**
 * Storage throughput: the fetch-balances domain (real Powens client → sandbox, real balance store → embedded dynalite
 * through the real AWS SDK) storing n accounts, next to a naive writer storing the same items one PutItem at a time.
 * DynamoDB requests are counted by an SDK middleware on the client, so nothing in the store is trusted for the count.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  createBalanceStore,
  BATCH_WRITE_LIMIT,
  DEFAULT_LATEST_CONCURRENCY,
  type BalanceStore,
} from '../lambdas/core/adapters/dynamodb/balance-store';
import type { AccountBalanceRecord } from '../lambdas/core/domain/balances';
import { tableKeys } from '../lambdas/core/adapters/dynamodb/table-schema';
import { isConditionalCheckFailed } from '../lambdas/core/adapters/dynamodb/errors';
import { settleWithConcurrency } from '../lambdas/core/concurrency';
import { fetchBalances } from '../lambdas/core/domain/fetch-balances';
import { createPowensClient } from '../lambdas/core/adapters/powens/client';
import { LOCAL_AWS_CREDENTIALS, LOCAL_AWS_REGION, type LocalDynamoDb } from '../infra/local/embedded-dynamodb';
import { generateDataset, startPowensSandbox } from '../infra/local/powens-sandbox';
import { elapsed, round, startDynamoDbProcess } from './support';

/** Judged behind the latency proxy (DynamoDB-like round trips), with the store's default settings. */
export const STORAGE_TARGETS = { latencyMs: 5, maxSecondsAt10k: 2, minSpeedupVsNaive: 10 } as const;

/** Per-request delay of the latency proxy (bench/latency-proxy.mjs): an in-region DynamoDB round trip. */
export const DEFAULT_LATENCY_MS = STORAGE_TARGETS.latencyMs;

/** Store knob used (the store's default) and the fixed history fan-out in store.ts. */
export const STORE_LATEST_CONCURRENCY = DEFAULT_LATEST_CONCURRENCY;
const STORE_HISTORY_CHUNKS_IN_FLIGHT = 4;

export interface RequestCounts {
  /** Requests sent per DynamoDB operation (every SDK attempt). */
  byCommand: Record<string, number>;
  total: number;
  /** Items carried by write requests (BatchWriteItem puts + PutItem). */
  itemsWritten: number;
  conditionalCheckFailures: number;
}

/** Counts every request a DynamoDB client sends (finalizeRequest step: once per attempt, after marshalling). */
export function countRequests(client: DynamoDBClient): { counts: () => RequestCounts; reset: () => void } {
  let counts: RequestCounts = { byCommand: {}, total: 0, itemsWritten: 0, conditionalCheckFailures: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      counts.byCommand[command] = (counts.byCommand[command] ?? 0) + 1;
      counts.total += 1;
      const input = args.input as { RequestItems?: Record<string, unknown[]>; Item?: unknown };
      if (command === 'BatchWriteItem') {
        for (const requests of Object.values(input.RequestItems ?? {})) counts.itemsWritten += requests.length;
      } else if (command === 'PutItem' && input.Item !== undefined) counts.itemsWritten += 1;
      try {
        return await next(args);
      } catch (error) {
        if (isConditionalCheckFailed(error)) counts.conditionalCheckFailures += 1;
        throw error;
      }
    },
    { step: 'finalizeRequest', name: 'benchRequestCounter', priority: 'low' },
  );
  return {
    counts: () => structuredClone(counts),
    reset: () => {
      counts = { byCommand: {}, total: 0, itemsWritten: 0, conditionalCheckFailures: 0 };
    },
  };
}

export interface StorageCase {
  accounts: number;
  dataset: { users: number; connectionsPerUser: number; accountsPerConnection: number };
  fetchMs: number;
  storeWriteMs: number;
  accountsPerSecond: number;
  store: RequestCounts & { historyWritten: number; latestAdvanced: number; latestStale: number };
  /** ceil(n/25) BatchWriteItem + n conditional PutItem. */
  requestFloor: { batchWriteItem: number; putItem: number; total: number };
  atFloor: boolean;
  naive: {
    sequentialMs?: number;
    concurrentMs: number;
    concurrency: number;
    requests: RequestCounts;
  };
  /** naive (same concurrency) ÷ store write phase. */
  speedupVsNaiveConcurrent: number;
  /** naive sequential ÷ store write phase, when measured. */
  speedupVsNaiveSequential?: number;
  /**
   * The same records written again by the store with a higher latestConcurrency (fresh table, writeSnapshots only):
   * an extra row, the default row above stays the reference.
   */
  higherConcurrency?: {
    latestConcurrency: number;
    storeWriteMs: number;
    requests: RequestCounts;
    speedupVsNaiveConcurrent: number;
    speedupVsNaiveSequential?: number;
  };
  /**
   * The same records written again through the latency proxy (every request held `latencyMs`), fresh tables: the
   * store (default and higher latest concurrency) against the sequential naive writer.
   */
  atLatency?: LatencyCase;
}

export interface LatencyCase {
  latencyMs: number;
  storeWriteMs: number;
  /** Same requests as at 0 ms (the floor), only slower. */
  requests: RequestCounts;
  naiveSequentialMs?: number;
  speedupVsNaiveSequential?: number;
  higherConcurrency?: { latestConcurrency: number; storeWriteMs: number; speedupVsNaiveSequential?: number };
}

export interface StorageResult {
  method: string;
  targets: typeof STORAGE_TARGETS;
  storeSettings: { latestConcurrency: number; historyBatchesInFlight: number; batchSize: number };
  cases: StorageCase[];
}

export interface StorageOptions {
  sizes: number[];
  /** Also run the naive writer sequentially for sizes up to this (it is slow). Default 10,000. */
  naiveSequentialUpTo?: number;
  /** Extra store run with this latestConcurrency (0 = none). Default HIGHER_LATEST_CONCURRENCY. */
  higherLatestConcurrency?: number;
  /** Also write every case behind the latency proxy with this per-request delay (0 = no latency run). Default 5. */
  latencyMs?: number;
}

/** The extra row's latest concurrency: the store's knob raised, to show what the default leaves on the table. */
export const HIGHER_LATEST_CONCURRENCY = 48;

const ACCOUNTS_PER_CONNECTION = 10;
const CONNECTIONS_PER_USER = 5;

/** Users × 5 connections × 10 accounts, rounded up: the smallest generated dataset holding at least n accounts. */
export function datasetFor(accounts: number): StorageCase['dataset'] {
  const perUser = ACCOUNTS_PER_CONNECTION * CONNECTIONS_PER_USER;
  if (accounts % ACCOUNTS_PER_CONNECTION !== 0) {
    throw new RangeError(`storage sizes must be multiples of ${ACCOUNTS_PER_CONNECTION} accounts, got ${accounts}`);
  }
  if (accounts < perUser)
    return {
      users: 1,
      connectionsPerUser: accounts / ACCOUNTS_PER_CONNECTION,
      accountsPerConnection: ACCOUNTS_PER_CONNECTION,
    };
  if (accounts % perUser !== 0)
    throw new RangeError(`storage sizes above ${perUser} must be multiples of ${perUser}, got ${accounts}`);
  return {
    users: accounts / perUser,
    connectionsPerUser: CONNECTIONS_PER_USER,
    accountsPerConnection: ACCOUNTS_PER_CONNECTION,
  };
}

/** dynalite answers CreateTable with CREATING and flips to ACTIVE on a timer: wait for it, or writes may 404. */
export async function createActiveTable(db: LocalDynamoDb, tableName: string): Promise<void> {
  await db.createTable(tableName);
  for (let i = 0; i < 200; i++) {
    const described = await db.client.send(new DescribeTableCommand({ TableName: tableName }));
    if (described.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`dynalite table ${tableName} did not become ACTIVE within 1 s`);
}

interface MeteredClient {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  meter: ReturnType<typeof countRequests>;
}

function meteredClient(db: LocalDynamoDb): MeteredClient {
  const client = new DynamoDBClient({
    endpoint: db.endpoint,
    region: LOCAL_AWS_REGION,
    credentials: LOCAL_AWS_CREDENTIALS,
  });
  const meter = countRequests(client);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc, meter };
}

/**
 * What a first attempt would look like: a PutItem per account for history and a conditional PutItem per account for
 * latest, with the same item contents and the same condition as the store.
 */
export async function naiveWrite(
  doc: DynamoDBDocumentClient,
  tableName: string,
  records: readonly AccountBalanceRecord[],
  concurrency: number,
  now: Date,
): Promise<void> {
  const ttlSeconds = 400 * 86_400;
  const results = await settleWithConcurrency(records, concurrency, async (record) => {
    const at = Date.parse(record.lastUpdatedAt);
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          ...tableKeys.history(record.tenantId, record.accountId, new Date(at).toISOString()),
          ...record,
          itemType: 'history',
          balanceAt: at,
          expiresAt: Math.floor(at / 1000) + ttlSeconds,
        },
      }),
    );
    try {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            ...tableKeys.latest(record.tenantId, record.accountId),
            ...record,
            itemType: 'latest',
            balanceAt: at,
            updatedAt: now.toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR balanceAt < :t',
          ExpressionAttributeValues: { ':t': at },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  });
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Writes `records` with the store (fresh table) and returns the wall time and the requests it sent. */
async function timeStoreWrite(
  db: LocalDynamoDb,
  tableName: string,
  records: readonly AccountBalanceRecord[],
  latestConcurrency: number,
): Promise<{ ms: number; requests: RequestCounts }> {
  const metered = meteredClient(db);
  try {
    await createActiveTable(db, tableName);
    const store = createBalanceStore({ client: metered.doc, tableName, latestConcurrency });
    const started = performance.now();
    const result = await store.writeSnapshots(records);
    const ms = elapsed(started);
    if (result.historyWritten !== records.length || result.latestAdvanced !== records.length) {
      throw new Error(`storage bench ${tableName}: expected ${records.length} writes, got ${JSON.stringify(result)}`);
    }
    return { ms, requests: metered.meter.counts() };
  } finally {
    metered.client.destroy();
  }
}

/** The latency row of a case: the captured records written behind the proxy by the store and the naive writer. */
export async function runLatencyCase(
  records: readonly AccountBalanceRecord[],
  db: LocalDynamoDb & { latencyMs: number },
  options: StorageOptions,
): Promise<LatencyCase> {
  const n = records.length;
  const base = `bench-latency-${n}`;
  const store = await timeStoreWrite(db, base, records, STORE_LATEST_CONCURRENCY);
  let naiveSequentialMs: number | undefined;
  if (n <= (options.naiveSequentialUpTo ?? 10_000)) {
    const metered = meteredClient(db);
    try {
      await createActiveTable(db, `${base}-naive-seq`);
      const started = performance.now();
      await naiveWrite(metered.doc, `${base}-naive-seq`, records, 1, new Date());
      naiveSequentialMs = elapsed(started);
    } finally {
      metered.client.destroy();
    }
  }
  const higher = options.higherLatestConcurrency ?? HIGHER_LATEST_CONCURRENCY;
  const faster = higher > 0 ? await timeStoreWrite(db, `${base}-c${higher}`, records, higher) : undefined;
  const ratio = (ms: number) =>
    naiveSequentialMs === undefined ? {} : { speedupVsNaiveSequential: round(naiveSequentialMs / ms) };
  return {
    latencyMs: db.latencyMs,
    storeWriteMs: round(store.ms),
    requests: store.requests,
    ...(naiveSequentialMs === undefined ? {} : { naiveSequentialMs: round(naiveSequentialMs) }),
    ...ratio(store.ms),
    ...(faster === undefined
      ? {}
      : { higherConcurrency: { latestConcurrency: higher, storeWriteMs: round(faster.ms), ...ratio(faster.ms) } }),
  };
}

export async function runStorageCase(
  accounts: number,
  db: LocalDynamoDb,
  options: StorageOptions,
  latencyDb?: LocalDynamoDb & { latencyMs: number },
): Promise<StorageCase> {
  const shape = datasetFor(accounts);
  const sandbox = await startPowensSandbox({
    dataset: generateDataset({ ...shape, seed: accounts }),
    syncLatencyMs: 0,
  });
  const metered = meteredClient(db);
  try {
    const tableName = `bench-storage-${accounts}`;
    await createActiveTable(db, tableName);
    const inner = createBalanceStore({ client: metered.doc, tableName, latestConcurrency: STORE_LATEST_CONCURRENCY });
    let storeWriteMs = 0;
    let captured: AccountBalanceRecord[] = [];
    const store: BalanceStore = {
      listLatest: (tenantId, options) => inner.listLatest(tenantId, options),
      excludeLatest: (tenantId, select, excluded) => inner.excludeLatest(tenantId, select, excluded),
      queryHistory: (tenantId, accountId, range) => inner.queryHistory(tenantId, accountId, range),
      getLatest: (tenantId, accountId) => inner.getLatest(tenantId, accountId),
      listLatestPage: (tenantId, page) => inner.listLatestPage(tenantId, page),
      queryHistoryPage: (tenantId, accountId, range, page) => inner.queryHistoryPage(tenantId, accountId, range, page),
      get requestCount() {
        return inner.requestCount;
      },
      writeSnapshots: async (records) => {
        captured = [...records];
        const started = performance.now();
        const result = await inner.writeSnapshots(records);
        storeWriteMs = elapsed(started);
        return result;
      },
    };
    const powens = createPowensClient({ baseUrl: sandbox.baseUrl, timeoutMs: 30_000, syncTimeoutMs: 30_000 });
    const fetchStarted = performance.now();
    const output = await fetchBalances(
      {},
      { executionId: `bench-storage-${accounts}` },
      {
        powens,
        secrets: { description: 'bench sandbox secret', load: async () => sandbox.secret },
        store,
        tenantId: 'bench',
      },
    );
    const fetchMs = elapsed(fetchStarted);
    const storeCounts = metered.meter.counts();
    if (output.storage.historyWritten !== accounts || output.storage.latestAdvanced !== accounts) {
      throw new Error(
        `storage bench n=${accounts}: expected ${accounts} history and latest writes, got ${JSON.stringify(output.storage)}`,
      );
    }

    const now = new Date();
    metered.meter.reset();
    let sequentialMs: number | undefined;
    if (accounts <= (options.naiveSequentialUpTo ?? 10_000)) {
      await createActiveTable(db, `${tableName}-naive-seq`);
      const started = performance.now();
      await naiveWrite(metered.doc, `${tableName}-naive-seq`, captured, 1, now);
      sequentialMs = elapsed(started);
      metered.meter.reset();
    }
    await createActiveTable(db, `${tableName}-naive`);
    const naiveStarted = performance.now();
    await naiveWrite(metered.doc, `${tableName}-naive`, captured, STORE_LATEST_CONCURRENCY, now);
    const concurrentMs = elapsed(naiveStarted);
    const naiveCounts = metered.meter.counts();

    let higherConcurrency: StorageCase['higherConcurrency'];
    const higher = options.higherLatestConcurrency ?? HIGHER_LATEST_CONCURRENCY;
    if (higher > 0) {
      metered.meter.reset();
      await createActiveTable(db, `${tableName}-c${higher}`);
      const faster = createBalanceStore({
        client: metered.doc,
        tableName: `${tableName}-c${higher}`,
        latestConcurrency: higher,
      });
      const started = performance.now();
      const result = await faster.writeSnapshots(captured);
      const ms = elapsed(started);
      if (result.historyWritten !== accounts || result.latestAdvanced !== accounts) {
        throw new Error(
          `storage bench n=${accounts}, latestConcurrency ${higher}: expected ${accounts} writes, got ${JSON.stringify(result)}`,
        );
      }
      higherConcurrency = {
        latestConcurrency: higher,
        storeWriteMs: round(ms),
        requests: metered.meter.counts(),
        speedupVsNaiveConcurrent: round(concurrentMs / ms),
        ...(sequentialMs === undefined ? {} : { speedupVsNaiveSequential: round(sequentialMs / ms) }),
      };
    }

    const atLatency = latencyDb === undefined ? undefined : await runLatencyCase(captured, latencyDb, options);

    const floor = { batchWriteItem: Math.ceil(accounts / BATCH_WRITE_LIMIT), putItem: accounts, total: 0 };
    floor.total = floor.batchWriteItem + floor.putItem;
    return {
      accounts,
      dataset: shape,
      fetchMs: round(fetchMs),
      storeWriteMs: round(storeWriteMs),
      accountsPerSecond: Math.round(accounts / (storeWriteMs / 1000)),
      store: { ...storeCounts, ...output.storage },
      requestFloor: floor,
      atFloor:
        (storeCounts.byCommand.BatchWriteItem ?? 0) === floor.batchWriteItem &&
        (storeCounts.byCommand.PutItem ?? 0) === floor.putItem,
      naive: {
        ...(sequentialMs === undefined ? {} : { sequentialMs: round(sequentialMs) }),
        concurrentMs: round(concurrentMs),
        concurrency: STORE_LATEST_CONCURRENCY,
        requests: naiveCounts,
      },
      speedupVsNaiveConcurrent: round(concurrentMs / storeWriteMs),
      ...(sequentialMs === undefined ? {} : { speedupVsNaiveSequential: round(sequentialMs / storeWriteMs) }),
      ...(higherConcurrency === undefined ? {} : { higherConcurrency }),
      ...(atLatency === undefined ? {} : { atLatency }),
    };
  } finally {
    metered.client.destroy();
    await sandbox.close();
  }
}

export async function runStorage(options: StorageOptions): Promise<StorageResult> {
  const db = await startDynamoDbProcess();
  const latencyMs = options.latencyMs ?? DEFAULT_LATENCY_MS;
  // A second dynalite process behind the proxy: the zero-latency server's tables and caches stay out of it.
  const latencyDb = latencyMs > 0 ? await startDynamoDbProcess({ latencyMs }) : undefined;
  try {
    const cases: StorageCase[] = [];
    for (const accounts of options.sizes) cases.push(await runStorageCase(accounts, db, options, latencyDb));
    return {
      method:
        'fetchBalances (lambdas/core/domain/fetch-balances.ts) with the real Powens client against the Powens sandbox ' +
        '(in this process; generated dataset, users × connections × 10 accounts, zero latency) and the real balance store ' +
        'on dynalite running in a SEPARATE Node process (bench/dynamo-server.mjs, forked, 127.0.0.1, fresh table per case), ' +
        "real AWS SDK v3. Changed from dynalite in the benchmark's own process and thread: there the DynamoDB server " +
        'competed with the client for one event loop and core, so batching and concurrency could not show; a separate ' +
        'process is a remote-like server (its own core), closer to DynamoDB than an in-thread emulator. dynalite still has ' +
        'no network latency (loopback, ~0 ms per request), so real DynamoDB (a few ms per request) favours batching and ' +
        'concurrency more than this. storeWriteMs = store.writeSnapshots wall time; fetchMs = ' +
        'the whole fetchBalances call. Requests counted by an SDK middleware (finalizeRequest step, one per attempt). ' +
        'Naive writer (same server process): PutItem history + conditional PutItem latest per account, same items and ' +
        `condition, run sequentially and with ${STORE_LATEST_CONCURRENCY} accounts in flight (the store's latest concurrency). ` +
        `higherConcurrency (when present): the same records written again by the store with latestConcurrency ` +
        `${options.higherLatestConcurrency ?? HIGHER_LATEST_CONCURRENCY} on a fresh table, writeSnapshots only; the default row stays the reference. ` +
        `atLatency: the captured records written again through bench/latency-proxy.mjs (own process, every request held ` +
        `${latencyMs} ms before it reaches a second dynalite process, concurrent requests wait concurrently) by the store ` +
        '(default and higher latest concurrency) and by the sequential naive writer; fresh tables. The proxy models ' +
        'round-trip latency only, not DynamoDB throughput limits (e.g. ~1,000 WCU/s per partition: the latest items of ' +
        'one tenant share a partition key).',
      targets: STORAGE_TARGETS,
      storeSettings: {
        latestConcurrency: STORE_LATEST_CONCURRENCY,
        historyBatchesInFlight: STORE_HISTORY_CHUNKS_IN_FLIGHT,
        batchSize: BATCH_WRITE_LIMIT,
      },
      cases,
    };
  } finally {
    await latencyDb?.close();
    await db.close();
  }
}
