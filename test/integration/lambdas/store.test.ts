import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import type { AccountBalanceRecord } from '../../../lambdas/core/domain/balances';
import { tableKeys } from '../../../lambdas/core/adapters/dynamodb/table-schema';
import { useDynalite } from '../../support/dynalite';

const TENANT = 't1';
const NOW = new Date('2025-06-02T06:00:00Z');

function record(
  accountId: string,
  lastUpdatedAt: string,
  currentBalance: number,
  extra: Partial<AccountBalanceRecord> = {},
): AccountBalanceRecord {
  return {
    id: `powens:${accountId}:${lastUpdatedAt}`,
    accountId,
    tenantId: TENANT,
    connectionId: '9',
    balanceType: 'current',
    accountType: 'checking',
    assetClass: 'cash',
    currentBalance,
    currency: 'EUR',
    lastUpdatedAt,
    createdAt: NOW.toISOString(),
    ...extra,
  };
}

describe('balance store on dynalite', () => {
  const dynamo = useDynalite();
  let n = 0;
  async function newStore() {
    const tableName = `store-${++n}`;
    await dynamo().createTable(tableName);
    return {
      tableName,
      store: createBalanceStore({ client: dynamo().doc, tableName, clock: () => NOW, historyTtlDays: 400 }),
    };
  }

  it('writes history + latest and reads them back (latest, history range, TTL attribute)', async () => {
    const { tableName, store } = await newStore();
    const a1 = record('1', '2025-06-01T10:00:00.000Z', 100, { availableBalance: 90, metadata: { name: 'Checking' } });
    const b1 = record('2', '2025-06-01T11:00:00.000Z', 5);
    const result = await store.writeSnapshots([a1, b1]);
    expect(result).toEqual({
      historyWritten: 2,
      latestAdvanced: 2,
      latestStale: 0,
      latestConnectionStateChanged: 0,
      requests: 3,
    });

    expect(await store.listLatest(TENANT)).toEqual([a1, b1]);
    expect(await store.queryHistory(TENANT, '1')).toEqual([a1]);

    const { Item } = await dynamo().doc.send(
      new GetCommand({ TableName: tableName, Key: tableKeys.history(TENANT, '1', a1.lastUpdatedAt) }),
    );
    expect(Item?.expiresAt).toBe(Date.parse(a1.lastUpdatedAt) / 1000 + 400 * 86_400);
    const latest = await dynamo().doc.send(
      new GetCommand({ TableName: tableName, Key: tableKeys.latest(TENANT, '1') }),
    );
    expect(latest.Item?.expiresAt).toBeUndefined();
  });

  it('is idempotent: the same snapshots twice give the same items, no duplicates, latest counted stale', async () => {
    const { store } = await newStore();
    const snapshots = [record('1', '2025-06-01T10:00:00.000Z', 100), record('2', '2025-06-01T10:00:00.000Z', 7)];
    await store.writeSnapshots(snapshots);
    const second = await store.writeSnapshots(snapshots);
    expect(second).toMatchObject({ historyWritten: 2, latestAdvanced: 0, latestStale: 2 });
    expect(await store.queryHistory(TENANT, '1')).toEqual([snapshots[0]]);
    expect(await store.listLatest(TENANT)).toEqual(snapshots);
  });

  it('never lets an older or equal snapshot overwrite a newer latest (out-of-order writes)', async () => {
    const { store } = await newStore();
    const newer = record('1', '2025-06-01T12:00:00.000Z', 200);
    const older = record('1', '2025-06-01T09:00:00.000Z', 50);
    const sameTimeOtherAmount = record('1', '2025-06-01T12:00:00.000Z', 999);
    await store.writeSnapshots([newer]);
    expect(await store.writeSnapshots([older])).toMatchObject({ latestAdvanced: 0, latestStale: 1 });
    expect(await store.writeSnapshots([sameTimeOtherAmount])).toMatchObject({ latestAdvanced: 0, latestStale: 1 });
    expect((await store.listLatest(TENANT))[0]?.currentBalance).toBe(200);
    // The older snapshot still lands in history, in time order.
    expect((await store.queryHistory(TENANT, '1')).map((r) => r.currentBalance)).toEqual([50, 999]);
  });

  it('a user removed from the registry: its balances leave latest (history kept) until it is refreshed again, same balance included', async () => {
    const { store } = await newStore();
    const at = '2025-06-01T12:00:00.000Z';
    const of = (userId: number) => ({ metadata: { powensUserId: userId } });
    const removedA = record('a1', at, 10, { ...of(7), connectionState: null });
    const removedB = record('a2', at, 20, of(7)); // no connection state known (the other write condition)
    const deleted = record('c1', at, 30, of(9));
    const other = record('b1', at, 40, of(8));
    await store.writeSnapshots([removedA, removedB, deleted, other]);
    const removal = { reason: 'user_removed', at: NOW.toISOString() } as const;
    expect(await store.excludeLatest(TENANT, { powensUserId: 7 }, removal)).toBe(2);
    expect(await store.excludeLatest(TENANT, { powensUserId: 7 }, removal)).toBe(0); // idempotent
    await store.excludeLatest(TENANT, { powensUserId: 9 }, { reason: 'user_deleted', at: NOW.toISOString() });
    expect((await store.listLatest(TENANT)).map((r) => r.accountId)).toEqual(['b1']);
    expect(await store.queryHistory(TENANT, 'a1')).toHaveLength(1);

    // Registered and refreshed again: the very same snapshots bring the removed user's accounts back...
    expect(await store.writeSnapshots([removedA, removedB])).toMatchObject({ latestAdvanced: 2, latestStale: 0 });
    // ...but not those of a user Powens deleted (nor a disabled account): only a newer balance would.
    expect(await store.writeSnapshots([deleted])).toMatchObject({ latestAdvanced: 0, latestStale: 1 });
    expect((await store.listLatest(TENANT)).map((r) => r.accountId)).toEqual(['a1', 'a2', 'b1']);
  });

  it('concurrent writers of different snapshots converge on the newest', async () => {
    const { store } = await newStore();
    const snapshots = Array.from({ length: 12 }, (_, i) =>
      record('1', new Date(Date.UTC(2025, 5, 1, i)).toISOString(), i),
    );
    const shuffled = [5, 11, 0, 3, 9, 1, 7, 10, 2, 8, 4, 6].map((i) => snapshots[i] as AccountBalanceRecord);
    await Promise.all(shuffled.map((s) => store.writeSnapshots([s])));
    expect((await store.listLatest(TENANT))[0]?.currentBalance).toBe(11);
    expect(await store.queryHistory(TENANT, '1')).toHaveLength(12);
  });

  it('chunks history into BatchWriteItem calls of 25 and keeps one latest per account', async () => {
    const { store } = await newStore();
    const records = Array.from({ length: 60 }, (_, i) =>
      record(String(i % 20), new Date(Date.UTC(2025, 5, 1, Math.floor(i / 20))).toISOString(), i),
    );
    const result = await store.writeSnapshots(records);
    // 60 history items → 3 batches; 20 accounts → 20 conditional puts (only the newest snapshot per account).
    expect(result).toEqual({
      historyWritten: 60,
      latestAdvanced: 20,
      latestStale: 0,
      latestConnectionStateChanged: 0,
      requests: 23,
    });
    const latest = await store.listLatest(TENANT);
    expect(latest).toHaveLength(20);
    expect(latest.every((r) => r.lastUpdatedAt === '2025-06-01T02:00:00.000Z')).toBe(true);
  });

  it('filters history by inclusive time range', async () => {
    const { store } = await newStore();
    const times = ['2025-05-01T00:00:00.000Z', '2025-05-15T00:00:00.000Z', '2025-06-01T00:00:00.000Z'];
    await store.writeSnapshots(times.map((t, i) => record('1', t, i)));
    const range = await store.queryHistory(TENANT, '1', {
      from: '2025-05-15T00:00:00.000Z',
      to: new Date('2025-06-01T00:00:00Z'),
    });
    expect(range.map((r) => r.lastUpdatedAt)).toEqual(times.slice(1));
  });

  it('maps a missing table to ConfigurationError naming it', async () => {
    const store = createBalanceStore({ client: dynamo().doc, tableName: 'does-not-exist' });
    await expect(store.listLatest(TENANT)).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringContaining('does-not-exist'),
    });
  });
});
