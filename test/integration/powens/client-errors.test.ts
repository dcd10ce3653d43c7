/**
 * Every HTTP failure class, produced by the real sandbox over loopback (fault injection), must reach domain code
 * as the right named error from lambdas/core/errors.ts — Step Functions retries on those names — and no error
 * may carry the user token.
 */
import { inspect } from 'node:util';
import { StepError } from '../../../lambdas/core/errors';
import {
  createPowensClient,
  type PowensClient,
  type RetryAfterInfo,
} from '../../../lambdas/core/adapters/powens/client';
import {
  createFamilyOfficeDataset,
  FAMILY_OFFICE_IDS as IDS,
  startPowensSandbox,
  type PowensSandbox,
  type SandboxFault,
} from '../../../infra/local/powens-sandbox';
import { optionalPowensOpenApi } from '../../support/powens-openapi';

const NOW = new Date('2025-06-02T06:00:00Z');
const openapi = optionalPowensOpenApi();
let sandbox: PowensSandbox;
let client: PowensClient;
let retryAfterSeen: RetryAfterInfo[];
let clockMs: number;
/** Every error any test caught, for the final no-token-leak check. */
const caught: unknown[] = [];

const claire = (): { userId: number; token: string } => ({
  userId: IDS.users.claire,
  token: sandbox.secret.users.find((u) => u.userId === IDS.users.claire)?.token ?? '',
});

async function failure(promise: Promise<unknown>): Promise<StepError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  caught.push(error);
  expect(error).toBeInstanceOf(StepError);
  return error as StepError;
}

const CONNECTIONS_PATH = '/users/*/connections';

beforeEach(async () => {
  clockMs = NOW.getTime();
  retryAfterSeen = [];
  sandbox = await startPowensSandbox({
    dataset: createFamilyOfficeDataset({ now: NOW }),
    clock: () => new Date(clockMs),
  });
  // Generous timeouts: an answered request must never time out, however loaded the machine is.
  client = createPowensClient({
    baseUrl: sandbox.baseUrl,
    timeoutMs: 30_000,
    syncTimeoutMs: 60_000,
    onRetryAfter: (info) => retryAfterSeen.push(info),
    now: () => clockMs,
  });
});

/** Short timeouts, only for requests the sandbox never answers (a hang cannot finish early, whatever the load). */
const hangingClient = () => createPowensClient({ baseUrl: sandbox.baseUrl, timeoutMs: 200, syncTimeoutMs: 300 });

afterEach(async () => {
  await sandbox.close();
});

describe('HTTP status → named error', () => {
  it('429 with Retry-After seconds → RateLimited with retryAfterMs, reported to onRetryAfter', async () => {
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, { kind: 'rateLimited', retryAfter: 42 });
    const error = await failure(client.listConnections(claire()));
    expect(error).toMatchObject({
      name: 'RateLimited',
      retryable: true,
      retryAfterMs: 42_000,
      details: { status: 429 },
    });
    expect(error.message).toContain('GET /users/1001/connections');
    expect(retryAfterSeen).toEqual([
      { method: 'GET', path: '/users/1001/connections', status: 429, retryAfterMs: 42_000 },
    ]);
  });

  it('429 with an HTTP-date Retry-After → delay from the injected clock', async () => {
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, {
      kind: 'rateLimited',
      retryAfter: new Date(clockMs + 90_000).toUTCString(),
    });
    expect(await failure(client.listConnections(claire()))).toMatchObject({
      name: 'RateLimited',
      retryAfterMs: 90_000,
    });
  });

  it('the sandbox rate limiter (30/min like the Powens sandbox) answers 429 + Retry-After + ServiceError', async () => {
    await sandbox.close();
    sandbox = await startPowensSandbox({
      dataset: createFamilyOfficeDataset({ now: NOW }),
      clock: () => new Date(clockMs),
      rateLimit: { limit: 30, windowMs: 60_000 },
    });
    client = createPowensClient({
      baseUrl: sandbox.baseUrl,
      timeoutMs: 30_000,
      syncTimeoutMs: 60_000,
      now: () => clockMs,
    });
    for (let i = 0; i < 30; i++) await client.getConnection(claire(), IDS.connections.claireBnp);
    clockMs += 20_000;
    const res = await fetch(`${sandbox.baseUrl}/users/me`, { headers: { authorization: `Bearer ${claire().token}` } });
    expect([res.status, res.headers.get('retry-after')]).toEqual([429, '40']);
    openapi.assertValid('ServiceError', await res.json());
    expect(await failure(client.listConnections(claire()))).toMatchObject({
      name: 'RateLimited',
      retryAfterMs: 40_000,
    });
    clockMs += 40_000;
    await expect(client.listConnections(claire())).resolves.toHaveLength(2);
  });

  it.each([
    [500, 'ServiceUnavailable'],
    [503, 'ServiceUnavailable'],
    [502, 'BadGateway'],
    [504, 'Timeout'],
    [401, 'Unauthenticated'],
    [403, 'Forbidden'],
    [404, 'NotFound'],
    [409, 'Conflict'],
    [400, 'BadRequest'],
    [422, 'BadRequest'],
  ])('HTTP %i → %s, with status, Powens code and request id in details', async (status, name) => {
    sandbox.faults.failNext('PUT', '/users/*/connections/*', {
      kind: 'status',
      status,
      code: 'someCode',
      description: 'Injected.',
    });
    const error = await failure(client.syncConnection(claire(), IDS.connections.claireBnp, { psuRequested: false }));
    expect(error.name).toBe(name);
    expect(error.details).toEqual({ status, code: 'someCode', requestId: expect.stringMatching(/^sbx-/) });
    expect(error.message).toContain(`PUT /users/1001/connections/${IDS.connections.claireBnp}?psu_requested=false`);
    expect(error.message).toContain('someCode (Injected.)');
  });

  it('503 with Retry-After keeps the hint on ServiceUnavailable', async () => {
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, { kind: 'status', status: 503, retryAfter: 5 });
    expect(await failure(client.listConnections(claire()))).toMatchObject({
      name: 'ServiceUnavailable',
      retryAfterMs: 5_000,
    });
  });

  it('a real 401 (wrong token) → Unauthenticated, and the sandbox body is a ServiceError', async () => {
    const error = await failure(client.listConnections({ userId: IDS.users.claire, token: 'sbx_wrong_token_value' }));
    expect(error).toMatchObject({
      name: 'Unauthenticated',
      retryable: false,
      details: { status: 401, code: 'invalidToken' },
    });
    const res = await fetch(`${sandbox.baseUrl}/users/me/connections`);
    expect(res.status).toBe(401);
    openapi.assertValid('ServiceError', await res.json());
  });

  it('real 404s: unknown connection, and another user’s id with my token', async () => {
    expect(await failure(client.getConnection(claire(), 999_999))).toMatchObject({
      name: 'NotFound',
      details: { code: 'notFound' },
    });
    expect(await failure(client.getConnection(claire(), IDS.connections.louisSocGen))).toMatchObject({
      name: 'NotFound',
    });
    const other = { userId: IDS.users.louis, token: claire().token };
    expect(await failure(client.listConnections(other))).toMatchObject({ name: 'NotFound' });
  });

  it('400 noAccount is an empty list only for account lists; elsewhere it is BadRequest', async () => {
    sandbox.faults.failNext('GET', '/users/*/accounts', { kind: 'status', status: 400, code: 'noAccount' });
    await expect(client.listAccounts(claire())).resolves.toEqual({ accounts: [], balances: {} });
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, { kind: 'status', status: 400, code: 'noAccount' });
    expect(await failure(client.listConnections(claire()))).toMatchObject({
      name: 'BadRequest',
      details: { code: 'noAccount' },
    });
  });
});

describe('transport failures', () => {
  it('connection reset → ServiceUnavailable, and the client did not retry', async () => {
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, { kind: 'reset' });
    const error = await failure(client.listConnections(claire()));
    expect(error).toMatchObject({
      name: 'ServiceUnavailable',
      retryable: true,
      details: { network: expect.stringMatching(/^(UND_ERR_SOCKET|ECONNRESET)$/) },
    });
    expect(sandbox.requests).toHaveLength(1);
  });

  it('connection refused → ServiceUnavailable', async () => {
    const gone = await startPowensSandbox({ dataset: createFamilyOfficeDataset() });
    const baseUrl = gone.baseUrl;
    await gone.close();
    const dead = createPowensClient({ baseUrl, timeoutMs: 30_000, syncTimeoutMs: 60_000 });
    const error = await failure(dead.listConnections(claire()));
    expect(error).toMatchObject({ name: 'ServiceUnavailable', details: { network: 'ECONNREFUSED' } });
  });

  it('a hung read → Timeout after timeoutMs', async () => {
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, { kind: 'hang' });
    const error = await failure(hangingClient().listConnections(claire()));
    expect(error).toMatchObject({ name: 'Timeout', retryable: true, details: { timeoutMs: 200 } });
  });

  it('a hung sync → Timeout after syncTimeoutMs (the long one), not timeoutMs', async () => {
    sandbox.faults.failNext('PUT', '/users/*/connections/*', { kind: 'hang' });
    const error = await failure(
      hangingClient().syncConnection(claire(), IDS.connections.claireBnp, { psuRequested: false }),
    );
    expect(error).toMatchObject({ name: 'Timeout', details: { timeoutMs: 300 } });
    expect(error.message).toContain('PUT /users/1001/connections/2001?psu_requested=false');
  });

  it.each<[string, SandboxFault]>([
    ['truncated JSON', { kind: 'malformed' }],
    ['HTML from a proxy', { kind: 'malformed', body: '<html>Bad gateway</html>' }],
    ['JSON of the wrong shape', { kind: 'malformed', body: '{"items": []}' }],
    ['a connection without id', { kind: 'malformed', body: '{"connections": [{"state": null}]}' }],
    ['an empty body', { kind: 'malformed', body: '' }],
  ])('a 2xx with %s → BadGateway', async (_label, fault) => {
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, fault);
    expect(await failure(client.listConnections(claire()))).toMatchObject({ name: 'BadGateway' });
  });

  it('refuses a _links.next on another origin (the token would leak) → BadGateway', async () => {
    sandbox.faults.failNext('GET', CONNECTIONS_PATH, {
      kind: 'malformed',
      body: JSON.stringify({
        connections: [],
        _links: { next: { href: 'http://attacker.example/2.0/users/1001/connections' } },
      }),
    });
    const error = await failure(client.listConnections(claire()));
    expect(error).toMatchObject({ name: 'BadGateway' });
    expect(error.message).toContain('http://attacker.example');
  });

  it('stops a _links.next loop → BadGateway instead of paging forever', async () => {
    const self = `${sandbox.baseUrl}/users/1001/connections?offset=0`;
    sandbox.faults.failNext(
      'GET',
      CONNECTIONS_PATH,
      { kind: 'malformed', body: JSON.stringify({ connections: [], _links: { next: { href: self } } }) },
      3,
    );
    expect(await failure(client.listConnections(claire()))).toMatchObject({
      name: 'BadGateway',
      message: expect.stringContaining('loops'),
    });
    // Page 1 points at itself; fetching it once shows the loop.
    expect(sandbox.requests).toHaveLength(2);
  });
});

describe('secrets', () => {
  it('no caught error mentions the user token (message, stack, details, inspect)', () => {
    expect(caught.length).toBeGreaterThan(20);
    const tokens = createFamilyOfficeDataset().users.map((u) => u.token);
    tokens.push('sbx_wrong_token_value');
    for (const error of caught) {
      const e = error as StepError;
      const dump = [
        JSON.stringify({ name: e.name, message: e.message, stack: e.stack, details: e.details }),
        inspect(e, { depth: 10 }),
      ].join('\n');
      for (const token of tokens) expect(dump).not.toContain(token);
      expect(dump.toLowerCase()).not.toContain('bearer');
    }
  });
});
