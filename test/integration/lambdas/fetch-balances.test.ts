/**
 * fetch-balances domain against the real Powens HTTP client + sandbox (loopback) and real dynalite.
 */
import { fetchBalances } from '../../../lambdas/core/domain/fetch-balances';
import { refreshBalances } from '../../../lambdas/core/domain/refresh-balances';
import { FAMILY_OFFICE_IDS } from '../../../infra/local/powens-sandbox';
import { formatPowensDateTime } from '../../../lambdas/core/adapters/powens/datetime';
import { useDynalite } from '../../support/dynalite';
import { startHarness, TENANT, type Harness } from './harness';

const C = FAMILY_OFFICE_IDS.connections;
const U = FAMILY_OFFICE_IDS.users;
const ALL_CONNECTIONS = Object.values(C);

describe('fetchBalances (real client + sandbox + dynalite)', () => {
  const dynamo = useDynalite();
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ dynamo: dynamo() });
  });
  afterEach(async () => {
    await h.close();
  });

  /** Enabled accounts the sandbox serves, straight from its live objects (the expectation's source of truth). */
  function listedAccounts() {
    return ALL_CONNECTIONS.flatMap((cid) => h.sandbox.accounts(cid)).filter((a) => !a.disabled && !a.deleted);
  }

  it('maps, stores and returns every enabled account with its asset class, staleness and positions', async () => {
    const out = await fetchBalances({}, { executionId: 'e1' }, h.fetchDeps());
    const accounts = listedAccounts();
    expect(out.balances).toHaveLength(accounts.length);
    expect(out.balances.map((b) => b.accountId)).not.toContain(String(FAMILY_OFFICE_IDS.disabledAccount));
    expect(out.storage).toEqual({
      historyWritten: accounts.length,
      latestAdvanced: accounts.length,
      latestStale: 0,
      latestConnectionStateChanged: 0,
    });
    expect(out.skipped).toEqual([]);
    expect(out.failedUsers).toEqual([]);

    const checking = out.balances.find((b) => b.accountId === '3101');
    expect(checking).toMatchObject({
      tenantId: TENANT,
      connectionId: String(C.claireBnp),
      balanceType: 'current',
      currentBalance: 18_452.37,
      availableBalance: 18_139.97, // 18 452.37 + (-312.40) pending
      currency: 'EUR',
      createdAt: h.clock.now.toISOString(),
    });
    expect(out.balances.find((b) => b.accountId === '3102')?.availableBalance).toBeUndefined(); // coming null

    // Cash = checking, joint, savings, deposit (the README's table, restated here); totals in integer cents.
    const CASH_TYPES = new Set(['checking', 'joint', 'savings', 'deposit']);
    const cents = (n: number) => Math.round(n * 100);
    const expected = new Map<string, { current: number; available: number; accounts: number }>();
    for (const a of accounts.filter((x) => CASH_TYPES.has(x.type))) {
      const e = expected.get(a.currency!.id) ?? { current: 0, available: 0, accounts: 0 };
      expected.set(a.currency!.id, {
        current: e.current + cents(a.balance!),
        available: e.available + cents(a.balance! + (a.coming ?? 0)),
        accounts: e.accounts + 1,
      });
    }
    expect(out.cashPositions.map((p) => p.currency)).toEqual(['CHF', 'EUR', 'GBP', 'USD']);
    for (const p of out.cashPositions) {
      const e = expected.get(p.currency)!;
      expect([cents(p.current), cents(p.available), p.accounts]).toEqual([e.current, e.available, e.accounts]);
      expect(out.positions).toContainEqual(expect.objectContaining({ assetClass: 'cash', ...p }));
    }
    // Portfolios, life insurance, the loan, the card and the unclassified account are never in cash.
    const byId = new Map(out.balances.map((b) => [b.accountId, b]));
    expect(['3104', '3106', '3112', '3122', '3202', '3501'].map((id) => byId.get(id)?.assetClass)).toEqual(
      Array(6).fill('investment'),
    );
    expect([byId.get('3114')?.assetClass, byId.get('3103')?.assetClass, byId.get('3303')?.assetClass]).toEqual([
      'loan',
      'card',
      'unknown',
    ]);
    // Every account is in exactly one position row.
    expect(out.positions.reduce((n, p) => n + p.accounts, 0)).toBe(accounts.length);
    // The SCA-blocked connection's accounts are stale because of it, whatever their age.
    for (const b of out.balances.filter((x) => x.connectionId === String(C.louisBoursorama))) {
      expect(b).toMatchObject({
        connectionState: 'SCARequired',
        stale: true,
        staleReasons: expect.arrayContaining(['needs_user']),
      });
    }
    expect(out.balances.find((b) => b.accountId === '3201')).toMatchObject({ connectionState: null, stale: false });

    expect(out.asOf).toBe(
      out.balances
        .map((b) => b.lastUpdatedAt)
        .sort()
        .at(-1),
    );
    // Read back from the table: latest items are exactly the records returned.
    expect(await h.store.listLatest(TENANT)).toEqual(
      out.balances.map(({ stale: _s, staleReasons: _r, ...record }) => record),
    );
  });

  it('replaying the step writes the same items again: no duplicates, latest unchanged', async () => {
    await fetchBalances({}, { executionId: 'e1' }, h.fetchDeps());
    const before = await h.scan();
    const replay = await fetchBalances({}, { executionId: 'e1' }, h.fetchDeps());
    expect(replay.storage).toEqual({
      historyWritten: before.length / 2,
      latestAdvanced: 0,
      latestStale: before.length / 2,
      latestConnectionStateChanged: 0,
    });
    expect(await h.scan()).toEqual(before);
  });

  it('after a refresh, history grows and latest advances to the new balance', async () => {
    await fetchBalances({}, {}, h.fetchDeps());
    h.clock.now = new Date(h.clock.now.getTime() + 3_600_000);
    h.sandbox.scriptSync(C.claireBnp, { balanceDelta: 100 });
    await refreshBalances({ connectionIds: [C.claireBnp] }, { executionId: 'r1' }, h.refreshDeps());
    const out = await fetchBalances({ connectionIds: [C.claireBnp] }, {}, h.fetchDeps());
    expect(out.balances.map((b) => b.accountId)).toEqual(['3101', '3102', '3103', '3104', '3105', '3106']);
    expect(out.storage).toEqual({
      historyWritten: 6,
      latestAdvanced: 6,
      latestStale: 0,
      latestConnectionStateChanged: 0,
    });
    const history = await h.store.queryHistory(TENANT, '3101');
    expect(history.map((r) => r.currentBalance)).toEqual([18_452.37, 18_552.37]);
    expect(history[1]?.lastUpdatedAt).toBe(h.clock.now.toISOString());
    expect((await h.store.listLatest(TENANT)).find((r) => r.accountId === '3101')?.currentBalance).toBe(18_552.37);
  });

  it('an out-of-order (older) snapshot goes to history but never regresses latest', async () => {
    await fetchBalances({ connectionIds: [C.claireBnp] }, {}, h.fetchDeps());
    const account = h.sandbox.account(3101);
    account.balance = 1;
    account.last_update = formatPowensDateTime(new Date(h.clock.now.getTime() - 5 * 86_400_000));
    const out = await fetchBalances({ connectionIds: [C.claireBnp] }, {}, h.fetchDeps());
    expect(out.storage).toMatchObject({ latestStale: 6, latestAdvanced: 0 });
    expect((await h.store.listLatest(TENANT)).find((r) => r.accountId === '3101')?.currentBalance).toBe(18_452.37);
    expect((await h.store.queryHistory(TENANT, '3101')).map((r) => r.currentBalance)).toEqual([1, 18_452.37]);
  });

  it('skips accounts without balance or currency, falls back to the connection time when the account has none', async () => {
    h.sandbox.account(3101).balance = null;
    h.sandbox.account(3102).currency = null;
    h.sandbox.account(3103).last_update = null;
    const out = await fetchBalances({ connectionIds: [C.claireBnp] }, {}, h.fetchDeps());
    expect(out.skipped).toEqual([
      { userId: U.claire, accountId: '3101', connectionId: String(C.claireBnp), reason: 'no_balance' },
      { userId: U.claire, accountId: '3102', connectionId: String(C.claireBnp), reason: 'no_currency' },
    ]);
    const card = out.balances.find((b) => b.accountId === '3103');
    expect(card?.metadata).toMatchObject({ lastUpdatedFrom: 'connection' });
    expect(card?.lastUpdatedAt).toBe(out.balances.find((b) => b.accountId === '3104')?.lastUpdatedAt);
    expect((await h.scan()).map((i) => i.accountId)).not.toContain('3101');
  });

  it('a transient Powens failure throws before anything is written', async () => {
    h.sandbox.faults.failNext('GET', `/users/${U.holding}/accounts`, { kind: 'status', status: 503 });
    await expect(fetchBalances({}, {}, h.fetchDeps())).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    expect(await h.scan()).toEqual([]);
  });

  it('a revoked token fails that user only; every user failing throws', async () => {
    h.sandbox.faults.failNext('GET', `/users/${U.louis}/accounts`, {
      kind: 'status',
      status: 401,
      code: 'invalidToken',
    });
    const out = await fetchBalances({}, {}, h.fetchDeps());
    expect(out.failedUsers).toEqual([{ userId: U.louis, error: expect.objectContaining({ name: 'Unauthenticated' }) }]);
    expect(out.balances.some((b) => b.metadata?.powensUserId === U.louis)).toBe(false);
    expect(out.balances.length).toBeGreaterThan(0);

    h.sandbox.faults.failNext('GET', '/users/*/accounts', { kind: 'status', status: 403, code: 'forbidden' }, 3);
    await expect(fetchBalances({}, {}, h.fetchDeps())).rejects.toMatchObject({ name: 'Forbidden' });
  });

  it('returns every balance (no size cap: the state keeps each step output once)', async () => {
    const out = await fetchBalances({}, {}, h.fetchDeps());
    const total = listedAccounts().length;
    expect(out.balances).toHaveLength(total);
    expect(out).not.toHaveProperty('balancesTruncated');
    expect(out.positions.reduce((n, p) => n + p.accounts, 0)).toBe(total);
    expect(out.storage.historyWritten).toBe(total);
  });

  it("reads its selection from the workflow data and ignores earlier steps' outputs", async () => {
    const out = await fetchBalances(
      { connectionIds: [C.claireBnp], refreshedAt: 'x', summary: {}, connections: [] },
      {},
      h.fetchDeps(),
    );
    expect(new Set(out.balances.map((b) => b.connectionId))).toEqual(new Set([String(C.claireBnp)]));
  });

  it('rejects invalid input with ValidationFailed before calling Powens', async () => {
    await expect(fetchBalances({ connectionIds: ['2001'] }, {}, h.fetchDeps())).rejects.toMatchObject({
      name: 'ValidationFailed',
      message: expect.stringContaining('input.connectionIds.0 must be integer'),
    });
    expect(h.sandbox.requests).toEqual([]);
    expect(await h.scan()).toEqual([]);
  });
});
