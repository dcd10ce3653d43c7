/**
 * The read routes (GET /balances, /positions, /accounts/{accountId}/history) through the API handler, against dynalite
 * on 127.0.0.1 with the real AWS SDK and the real balance store. Expected totals are computed here independently
 * (integer cents over the records the test wrote), not with the product's positions code.
 *
 * Two ways in: the deployed handler module (refresh-api/handler.ts, configured from the environment like a cold
 * start) for routes that need no cursor key, and createApiHandler with the same store plus a cursor key given in
 * memory for pagination — the one substitution, because there is no local Secrets Manager to hold the key.
 * StartExecution is not exercised here (see test/unit/api/router.test.ts).
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { createApiHandler } from '../../../lambdas/api/app';
import { createCursorCodec } from '../../../lambdas/api/cursor';
import type { AssetClass } from '../../../lambdas/core/domain/asset-class';
import type { AccountBalanceRecord } from '../../../lambdas/core/domain/balances';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { ENV } from '../../../lambdas/core/env-names';
import { createConnectionHealthStore } from '../../../lambdas/core/adapters/dynamodb/connection-health';
import { healthFromConnection } from '../../../lambdas/core/domain/connection-health';
import { REFRESH_API_TABLE_ACTIONS } from '../../../infra/stack';
import { DUMMY_AWS_ENV, startDynalite, type LocalDynamo } from '../../support/dynalite';
import { apiEvent } from '../../support/api-events';
import { FakeSfn } from '../../support/fake-sfn';

const TABLE = 'balances-api-test';
const TENANT = 'family-office';
const OTHER = 'other-tenant';
const NOW = new Date('2025-03-01T06:00:00.000Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();

const TYPES: [string, AssetClass][] = [
  ['checking', 'cash'],
  ['savings', 'cash'],
  ['deposit', 'cash'],
  ['card', 'card'],
  ['market', 'investment'],
  ['lifeinsurance', 'investment'],
  ['loan', 'loan'],
  ['unknown', 'unknown'],
];
const CURRENCIES = ['EUR', 'USD', 'CHF'];

function record(
  i: number,
  tenantId: string,
  at: string,
  overrides: Partial<AccountBalanceRecord> = {},
): AccountBalanceRecord {
  const [accountType, assetClass] = TYPES[i % TYPES.length]!;
  // Amounts with cents that float addition gets wrong (x.10, x.20, x.70...).
  const current = (i % 7 === 0 ? -1 : 1) * (1_000 * i + ((i * 37) % 100) / 100 + 0.1);
  const rounded = Math.round(current * 100) / 100;
  const r: AccountBalanceRecord = {
    id: `powens:${i}:${at}`,
    accountId: String(1000 + i),
    tenantId,
    connectionId: String(i % 5 === 0 ? 99 : 7),
    balanceType: 'current',
    accountType,
    assetClass,
    currentBalance: rounded,
    currency: CURRENCIES[i % CURRENCIES.length]!,
    lastUpdatedAt: at,
    createdAt: NOW.toISOString(),
    connectionState: i % 5 === 0 ? 'SCARequired' : null,
    metadata: { precision: 2 },
    ...overrides,
  };
  if (i % 3 === 0) r.availableBalance = Math.round((rounded - 12.3) * 100) / 100;
  return r;
}

type Json = Record<string, unknown>;

describe('read API (handler + real store on dynalite)', () => {
  let dynamo: LocalDynamo;
  let moduleHandler: (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;
  let handler: (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;
  const savedEnv = { ...process.env };
  const ours: AccountBalanceRecord[] = [];

  beforeAll(async () => {
    dynamo = await startDynalite();
    await dynamo.createTable(TABLE);
    const store = createBalanceStore({ client: dynamo.doc, tableName: TABLE, clock: () => NOW });
    for (let i = 1; i <= 40; i++) ours.push(record(i, TENANT, hoursAgo(i % 4 === 0 ? 30 : 1)));
    await store.writeSnapshots([...ours, ...Array.from({ length: 5 }, (_, i) => record(i + 1, OTHER, hoursAgo(1)))]);
    // History of one account: 12 snapshots, one per day; an older snapshot never becomes latest.
    await store.writeSnapshots(
      Array.from({ length: 12 }, (_, d) =>
        record(1, TENANT, new Date(Date.UTC(2025, 1, 10 + d, 6)).toISOString(), { currentBalance: d }),
      ),
    );
    const health = createConnectionHealthStore({ client: dynamo.doc, tableName: TABLE });
    await health.record(
      TENANT,
      healthFromConnection(1001, { id: 7, state: null, last_update: '2025-03-01 06:00:00' }, NOW, 'workflow'),
    );
    await health.record(
      TENANT,
      healthFromConnection(1002, { id: 8, state: 'SCARequired', last_update: '2025-02-20 06:00:00' }, NOW, 'webhook'),
    );

    Object.assign(process.env, DUMMY_AWS_ENV, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      [ENV.tableName]: TABLE,
      [ENV.tenantId]: TENANT,
      [ENV.stateMachineArn]: 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh',
      [ENV.fanOutStateMachineArn]: 'arn:aws:states:eu-west-3:123456789012:stateMachine:FanOut',
      [ENV.cursorSecretId]: 'no-secrets-manager-here',
    });
    // Imported after the environment is set: the module reads it once, like a Lambda cold start.
    ({ handler: moduleHandler } = jest.requireActual<{ handler: typeof moduleHandler }>(
      '../../../lambdas/api/handler',
    ));

    const key = randomBytes(32);
    handler = createApiHandler({
      refresh: {
        sfn: new FakeSfn(() => NOW),
        stateMachineArn: 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh',
        fanOutStateMachineArn: 'arn:aws:states:eu-west-3:123456789012:stateMachine:FanOut',
        now: () => NOW,
      },
      read: {
        store,
        tenantId: TENANT,
        maxAgeMinutes: 360,
        cursors: createCursorCodec(async () => key),
        now: () => NOW,
      },
      connections: async () => [],
    }) as unknown as typeof handler;
  });

  afterAll(async () => {
    process.env = savedEnv;
    await dynamo.close();
  });

  async function get(
    via: typeof handler,
    resource: string,
    options: { path?: string; query?: Record<string, string>; pathParameters?: Record<string, string> } = {},
  ) {
    const res = await via(apiEvent('GET', resource, options), {} as Context);
    return { status: res.statusCode, body: JSON.parse(res.body) as Json };
  }

  it('GET /positions: per currency and class, equal to sums computed here in integer cents; stale counted', async () => {
    const res = await get(handler, '/positions');
    expect(res.status).toBe(200);
    const cents = (n: number) => Math.round(n * 100);
    const expected = new Map<
      string,
      { current: number; available: number; accounts: number; stale: number; oldest: string }
    >();
    for (const r of ours) {
      const key = `${r.currency}/${r.assetClass}`;
      const e = expected.get(key) ?? { current: 0, available: 0, accounts: 0, stale: 0, oldest: r.lastUpdatedAt };
      const stale = r.connectionState === 'SCARequired' || r.lastUpdatedAt < hoursAgo(6);
      expected.set(key, {
        current: e.current + cents(r.currentBalance),
        available: e.available + cents(r.availableBalance ?? r.currentBalance),
        accounts: e.accounts + 1,
        stale: e.stale + (stale ? 1 : 0),
        oldest: r.lastUpdatedAt < e.oldest ? r.lastUpdatedAt : e.oldest,
      });
    }
    const positions = res.body.positions as {
      currency: string;
      assetClass: string;
      current: number;
      available: number;
      accounts: number;
      staleAccounts: number;
      oldestBalanceAt: string;
    }[];
    expect(positions.map((p) => `${p.currency}/${p.assetClass}`).sort()).toEqual([...expected.keys()].sort());
    for (const p of positions) {
      const e = expected.get(`${p.currency}/${p.assetClass}`)!;
      // Exact: the JSON number is the decimal of the integer-cents sum, no float dust.
      expect(p.current).toBe(e.current / 100);
      expect(p.available).toBe(e.available / 100);
      expect([p.accounts, p.staleAccounts, p.oldestBalanceAt]).toEqual([e.accounts, e.stale, e.oldest]);
    }
    expect(res.body).toMatchObject({
      tenantId: TENANT,
      maxAgeMinutes: 360,
      accounts: 40,
      staleAccounts: [...expected.values()].reduce((n, e) => n + e.stale, 0),
    });
    // Loans and market accounts are never in a cash row.
    const cashAccounts = (await get(handler, '/balances', { query: { limit: '500' } })).body.balances as Json[];
    expect(cashAccounts.filter((b) => b.assetClass === 'cash').map((b) => b.accountType)).not.toContain('loan');
    expect(cashAccounts.filter((b) => b.assetClass === 'cash').map((b) => b.accountType)).not.toContain('market');

    // The deployed module (real clock: every test balance is older than 6 h by now) serves the same totals.
    const deployed = await get(moduleHandler, '/positions');
    expect(deployed.status).toBe(200);
    expect((deployed.body.positions as { current: number }[]).map((p) => p.current)).toEqual(
      positions.map((p) => p.current),
    );
    expect(deployed.body.staleAccounts).toBe(40);
  });

  it('GET /balances pages through every latest balance of the tenant only, each with assetClass and stale', async () => {
    const seen: Json[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await get(handler, '/balances', { query: { limit: '15', ...(cursor ? { cursor } : {}) } });
      expect(res.status).toBe(200);
      seen.push(...(res.body.balances as Json[]));
      cursor = res.body.nextCursor as string | undefined;
      pages += 1;
    } while (cursor !== undefined);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen.map((b) => b.accountId).sort()).toEqual(ours.map((r) => r.accountId).sort());
    expect(new Set(seen.map((b) => b.tenantId))).toEqual(new Set([TENANT]));
    const blocked = seen.find((b) => b.accountId === '1005')!; // life insurance behind an SCA-blocked connection
    expect(blocked).toMatchObject({
      assetClass: 'investment',
      stale: true,
      staleReasons: ['needs_user'],
      connectionState: 'SCARequired',
    });
    expect(seen.find((b) => b.accountId === '1004')).toMatchObject({
      assetClass: 'investment',
      stale: true,
      staleReasons: ['too_old'],
    });
    expect(seen.find((b) => b.accountId === '1003')).toMatchObject({ accountType: 'card', assetClass: 'card' });
    expect(seen.find((b) => b.accountId === '1001')).toMatchObject({ assetClass: 'cash', stale: false });
  });

  it('rejects a cursor that is altered, forged, or issued for another query (400 naming cursor)', async () => {
    const first = await get(handler, '/balances', { query: { limit: '5' } });
    const cursor = first.body.nextCursor as string;
    const [payload, mac] = cursor.split('.') as [string, string];
    const otherTenantPayload = Buffer.from(JSON.stringify({ v: 1, pk: `TENANT#${OTHER}`, sk: 'LATEST#1001' })).toString(
      'base64url',
    );
    const history = await get(handler, '/accounts/{accountId}/history', {
      path: '/accounts/1001/history',
      pathParameters: { accountId: '1001' },
      query: { limit: '2' },
    });
    for (const bad of [
      `${payload}.${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`, // altered signature
      `${payload.slice(0, 4)}${payload[4] === 'A' ? 'B' : 'A'}${payload.slice(5)}.${mac}`, // altered key
      `${otherTenantPayload}.${mac}`, // another tenant's key with our signature
      'eyJ2IjoxfQ', // no signature
      'x'.repeat(5000), // oversized
      history.body.nextCursor as string, // issued for another route
    ]) {
      const res = await get(handler, '/balances', { query: { cursor: bad } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'BadRequest', message: expect.stringContaining('cursor') });
      expect(JSON.stringify(res.body).length).toBeLessThan(600);
    }
  });

  it('GET /accounts/{accountId}/history returns the stored snapshots in range, oldest first, paginated', async () => {
    const call = (query: Record<string, string>, accountId = '1001') =>
      get(handler, '/accounts/{accountId}/history', {
        path: `/accounts/${accountId}/history`,
        pathParameters: { accountId },
        query,
      });
    // Snapshots are at 06:00 UTC on Feb 10..21; dates alone are whole days (to=2025-02-15 includes Feb 15, 06:00).
    const range = { from: '2025-02-12', to: '2025-02-16' };
    const first = await call({ ...range, limit: '3' });
    expect(first.status).toBe(200);
    const second = await call({ ...range, limit: '3', cursor: first.body.nextCursor as string });
    const balances = [...(first.body.balances as Json[]), ...(second.body.balances as Json[])];
    expect(balances.map((b) => b.currentBalance)).toEqual([2, 3, 4, 5, 6]);
    expect(balances.every((b) => b.assetClass === 'cash')).toBe(true);
    expect(first.body).toMatchObject({
      tenantId: TENANT,
      accountId: '1001',
      from: '2025-02-12T00:00:00.000Z',
      to: '2025-02-16T23:59:59.999Z',
    });
    const offset = await call({ from: '2025-02-12T07:00:00+01:00', to: '2025-02-13T07:00:00+01:00' });
    expect((offset.body.balances as Json[]).map((b) => b.currentBalance)).toEqual([2, 3]);
    // The same cursor with another range is another query: rejected.
    expect((await call({ from: '2025-02-01', limit: '3', cursor: first.body.nextCursor as string })).status).toBe(400);
    // Another tenant's account is not found, even though it exists in the table.
    expect(
      (
        await get(moduleHandler, '/accounts/{accountId}/history', {
          path: '/accounts/4242/history',
          pathParameters: { accountId: '4242' },
        })
      ).status,
    ).toBe(404);
  });

  it.each([
    ['/balances', { limit: '0' }, 'limit'],
    ['/balances', { limit: '501' }, 'limit'],
    ['/balances', { limit: 'ten' }, 'limit'],
    ['/balances', { sort: 'desc' }, 'sort'],
    ['/positions', { currency: 'EUR' }, 'currency'],
    ['/accounts/1001/history', { from: 'yesterday' }, 'from'],
    ['/accounts/1001/history', { to: '2025-13-01' }, 'to'],
    ['/accounts/1001/history', { to: '2025-02-30' }, 'to'],
    ['/accounts/1001/history', { from: '2025-02-01T06:00:00' }, 'from'],
    ['/accounts/1001/history', { from: '2025-03-01', to: '2025-02-01' }, 'from'],
    ['/accounts/10%2301/history', {}, 'accountId'],
  ])('GET %s?%j → 400 naming %s', async (path, query, parameter) => {
    const accountId = /^\/accounts\/(.*)\/history$/.exec(path)?.[1];
    const res = await get(moduleHandler, accountId === undefined ? path : '/accounts/{accountId}/history', {
      path,
      query,
      ...(accountId === undefined ? {} : { pathParameters: { accountId: decodeURIComponent(accountId) } }),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'BadRequest', message: expect.stringContaining(parameter) });
  });

  it('GET /connections?needsUser=true lists the connections only the account holder can unblock', async () => {
    const res = await get(moduleHandler, '/connections', { query: { needsUser: 'true' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      tenantId: TENANT,
      connections: [
        expect.objectContaining({
          userId: 1002,
          connectionId: 8,
          state: 'SCARequired',
          needsUser: true,
          needsUserReason: 'SCARequired',
          lastUpdate: '2025-02-20T05:00:00.000Z',
        }),
      ],
    });
    expect(((await get(moduleHandler, '/connections')).body.connections as unknown[]).length).toBe(2);
  });

  it('answers 404 JSON for an unknown route through the same handler', async () => {
    const res = await get(moduleHandler, '/accounts');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'NotFound' });
  });

  it('calls exactly the DynamoDB actions its role allows (infra/stack.ts REFRESH_API_TABLE_ACTIONS)', async () => {
    dynamo.operations.length = 0;
    expect((await get(moduleHandler, '/balances')).status).toBe(200);
    expect((await get(moduleHandler, '/positions')).status).toBe(200);
    const history = (accountId: string) =>
      get(moduleHandler, '/accounts/{accountId}/history', {
        path: `/accounts/${accountId}/history`,
        pathParameters: { accountId },
      });
    expect((await history('1001')).status).toBe(200);
    expect((await history('4242')).status).toBe(404);
    expect((await get(moduleHandler, '/connections', { query: { needsUser: 'true' } })).status).toBe(200);
    expect([...new Set(dynamo.operations.map((o) => `dynamodb:${o}`))].sort()).toEqual(
      [...REFRESH_API_TABLE_ACTIONS].sort(),
    );
  });
});
