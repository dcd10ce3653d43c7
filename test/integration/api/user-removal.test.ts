/**
 * `DELETE /users/{userId}` end to end on the real pieces: the API handler (createApiHandler), the user registry and
 * the balance store on dynalite, and refreshes by the fetch-balances domain code through the real Powens client
 * against the HTTP Powens sandbox (family-office dataset), with credentials from the registry as the step Lambdas
 * read them. The secret holds only the client credentials (a migrated tenant), so the registry alone decides who is
 * served. A removed user's balances leave GET /balances and /positions (history kept); registered again and
 * refreshed, they come back, the same balances included (the sandbox's clock does not move: no newer balance).
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { FAMILY_OFFICE_IDS } from '../../../infra/local/powens-sandbox';
import { createApiHandler } from '../../../lambdas/api/app';
import { createCursorCodec } from '../../../lambdas/api/cursor';
import type { BalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import {
  type ConnectionHealthStore,
  createConnectionHealthStore,
} from '../../../lambdas/core/adapters/dynamodb/connection-health';
import { createUserRegistry, type UserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import {
  generateLocalKey,
  localKeyProvider,
  parseLocalKey,
} from '../../../lambdas/core/adapters/keys/token-key-provider';
import type { SecretSource } from '../../../lambdas/core/adapters/secrets/powens-secret';
import { registryCredentialSource } from '../../../lambdas/core/adapters/secrets/user-credentials';
import { healthFromConnection } from '../../../lambdas/core/domain/connection-health';
import { userNeedsRefresh } from '../../../lambdas/core/domain/fan-out';
import { fetchBalances } from '../../../lambdas/core/domain/fetch-balances';
import { ServiceUnavailableError } from '../../../lambdas/core/errors';
import { USER_REGISTRY_API_TABLE_ACTIONS } from '../../../infra/stack';
import { useDynalite } from '../../support/dynalite';
import { apiEvent } from '../../support/api-events';
import { startHarness, TENANT, type Harness } from '../lambdas/harness';

const { claire, louis } = FAMILY_OFFICE_IDS.users;

describe('DELETE /users/{userId}: the user leaves balances and positions, and comes back when registered again', () => {
  const dynamo = useDynalite();
  let h: Harness;
  let registry: UserRegistry;
  let health: ConnectionHealthStore;
  let refreshSecrets: SecretSource;
  let tokens: Map<number, string>;
  /** When set, the store's exclusion fails with it (a DynamoDB outage mid-DELETE). */
  let exclusionFault: Error | undefined;
  let handler: (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;

  beforeAll(async () => {
    h = await startHarness({ dynamo: dynamo() });
    registry = createUserRegistry({
      client: h.dynamo.doc,
      tableName: h.tableName,
      tenantId: TENANT,
      keys: localKeyProvider(parseLocalKey(generateLocalKey(), 'test')),
    });
    const sandboxSecret = await h.secrets.load();
    tokens = new Map(sandboxSecret.users.map((u) => [u.userId, u.token]));
    const clientOnly: SecretSource = {
      description: 'client only',
      load: async () => ({ ...sandboxSecret, users: [] }),
    };
    refreshSecrets = registryCredentialSource({ secret: clientOnly, registry });
    const balances: Pick<BalanceStore, 'excludeLatest'> = {
      excludeLatest: (...args) =>
        exclusionFault === undefined ? h.store.excludeLatest(...args) : Promise.reject(exclusionFault),
    };
    const now = () => new Date(h.clock.now);
    health = createConnectionHealthStore({ client: h.dynamo.doc, tableName: h.tableName });
    const key = randomBytes(32);
    handler = createApiHandler(
      {
        refresh: {} as never, // no refresh route here
        read: {
          store: h.store,
          tenantId: TENANT,
          maxAgeMinutes: 360,
          cursors: createCursorCodec(async () => key),
          now,
        },
        connections: async (filter) => ({ connections: await health.list(TENANT, filter) }),
        users: { registry, balances, health, tenantId: TENANT, now },
      },
      { onUnexpectedError: () => undefined },
    ) as unknown as typeof handler;
  });
  afterAll(async () => {
    await h.close();
  });

  const call = async (method: string, resource: string, options: Parameters<typeof apiEvent>[2] = {}) => {
    const res = await handler(apiEvent(method, resource, options), {} as Context);
    return { status: res.statusCode, body: res.body === '' ? undefined : (JSON.parse(res.body) as unknown) };
  };
  const put = (userId: number) =>
    call('PUT', '/users/{userId}', {
      path: `/users/${userId}`,
      pathParameters: { userId: String(userId) },
      body: JSON.stringify({ token: tokens.get(userId) }),
    });
  const remove = (userId: number) =>
    call('DELETE', '/users/{userId}', { path: `/users/${userId}`, pathParameters: { userId: String(userId) } });
  const refresh = (userIds: number[]) =>
    fetchBalances({ userIds }, { executionId: 'e' }, h.fetchDeps({ secrets: refreshSecrets }));
  const servedAccounts = async () => {
    const page = (await call('GET', '/balances', { query: { limit: '500' } })).body as {
      balances: { accountId: string }[];
    };
    return page.balances.map((b) => b.accountId).sort();
  };
  const positionsAccounts = async () => ((await call('GET', '/positions')).body as { accounts: number }).accounts;
  const accountsOf = async (userId: number) =>
    (await h.store.listLatest(TENANT, { includeExcluded: true }))
      .filter((r) => (r.metadata as { powensUserId?: number } | undefined)?.powensUserId === userId)
      .map((r) => r.accountId)
      .sort();

  it('DELETE takes the user out of /balances and /positions (history kept); PUT + a refresh bring the same balances back', async () => {
    expect((await put(claire)).status).toBe(201);
    expect((await put(louis)).status).toBe(201);
    await refresh([claire, louis]);
    const louisAccounts = await accountsOf(louis);
    const everyone = await servedAccounts();
    expect(louisAccounts.length).toBeGreaterThan(0);
    expect(everyone).toEqual(expect.arrayContaining(louisAccounts));
    const accountsBefore = await positionsAccounts();

    expect(await remove(louis)).toEqual({ status: 204, body: undefined });
    expect(await servedAccounts()).toEqual(everyone.filter((id) => !louisAccounts.includes(id)));
    expect(await positionsAccounts()).toBe(accountsBefore - louisAccounts.length);
    // History is kept (only the latest items are marked).
    expect(await h.store.queryHistory(TENANT, louisAccounts[0] as string)).not.toHaveLength(0);
    // Gone from the registry: a refresh of it is refused, and a second DELETE changes nothing (404).
    await expect(refresh([louis])).rejects.toMatchObject({ name: 'ValidationFailed' });
    expect(await remove(louis)).toMatchObject({ status: 404, body: { error: 'NotFound' } });

    // Registered again and refreshed: Powens has not synced since (same balance times), the balances come back.
    expect((await put(louis)).status).toBe(201);
    expect(await servedAccounts()).toEqual(everyone.filter((id) => !louisAccounts.includes(id))); // not before a refresh
    await refresh([louis]);
    expect(await servedAccounts()).toEqual(everyone);
    expect(await positionsAccounts()).toBe(accountsBefore);
  });

  it('DELETE forgets the user’s connections: not in GET /connections, and once registered again the fan-out refreshes it', async () => {
    const observed = new Date(h.clock.now);
    await put(louis);
    // A connection waiting for the account holder and a fresh one, as a refresh or a webhook records them.
    await health.record(TENANT, healthFromConnection(louis, { id: 77, state: 'SCARequired' }, observed, 'workflow'));
    const fresh = { id: 78, state: null, last_update: observed.toISOString(), active: true };
    await health.record(TENANT, healthFromConnection(louis, fresh, observed, 'workflow'));
    const connectionsOf = async (query: Record<string, string> = {}) =>
      ((await call('GET', '/connections', { query })).body as { connections: { userId: number }[] }).connections
        .filter((c) => c.userId === louis)
        .map((c) => (c as unknown as { connectionId: number }).connectionId);
    expect(await connectionsOf({ needsUser: 'true' })).toEqual([77]);
    expect(userNeedsRefresh(await health.list(TENANT, { userId: louis }), observed, 360)).toBe(false);

    expect((await remove(louis)).status).toBe(204);
    // No longer a family that "must reconnect", nor one the fan-out would judge by what it knew before.
    expect(await connectionsOf()).toEqual([]);
    await put(louis);
    expect(userNeedsRefresh(await health.list(TENANT, { userId: louis }), observed, 360)).toBe(true);
  });

  it('an exclusion that fails answers 503 (retry); the retry finishes the job with 204, nothing lost', async () => {
    const claireAccounts = await accountsOf(claire);
    const before = await servedAccounts();
    // What the store throws when DynamoDB keeps failing (dynamoSender's classification of a 5xx).
    exclusionFault = new ServiceUnavailableError('DynamoDB UpdateItem failed (test fault)');
    const failed = await remove(claire);
    exclusionFault = undefined;
    expect(failed).toMatchObject({
      status: 503,
      body: { error: 'ServiceUnavailable', message: expect.stringMatching(/retry DELETE/i) },
    });
    // Already out of the registry (no new refresh or webhook serves it), balances still there until the retry.
    expect(await registry.get(claire)).toBeUndefined();
    expect(await servedAccounts()).toEqual(before);
    expect((await remove(claire)).status).toBe(204);
    expect(await servedAccounts()).toEqual(before.filter((id) => !claireAccounts.includes(id)));
    expect(await h.store.queryHistory(TENANT, claireAccounts[0] as string)).not.toHaveLength(0);
    expect((await remove(claire)).status).toBe(404);
  });

  it('the user routes, DELETE with its exclusion included, call exactly the actions the API role grants for them', async () => {
    await put(claire);
    await refresh([claire]);
    h.dynamo.operations.length = 0;
    await put(claire);
    await call('GET', '/users');
    expect((await remove(claire)).status).toBe(204);
    expect([...new Set(h.dynamo.operations.map((o) => `dynamodb:${o}`))].sort()).toEqual(
      [...USER_REGISTRY_API_TABLE_ACTIONS].sort(),
    );
  });
});
