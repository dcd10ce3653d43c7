/**
 * The sandbox's own contract over raw HTTP (no client): auth endpoints, error bodies, routing, the control API
 * `npm start` uses to script faults, and a clean close(). Also proves the OpenAPI checker can fail.
 */
import {
  createFamilyOfficeDataset,
  FAMILY_OFFICE_IDS as IDS,
  startPowensSandbox,
  type PowensSandbox,
} from '../../../infra/local/powens-sandbox';
import { optionalPowensOpenApi, OPENAPI_DEVIATIONS } from '../../support/powens-openapi';
import { waitFor } from '../../support/wait-for';

const openapi = optionalPowensOpenApi();
let sandbox: PowensSandbox;

const tokenOf = (userId: number): string => sandbox.secret.users.find((u) => u.userId === userId)?.token ?? '';

async function call(method: string, path: string, init: { token?: string; body?: unknown; form?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(`${sandbox.origin}${path}`, {
    method,
    headers,
    body: init.form ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

beforeEach(async () => {
  sandbox = await startPowensSandbox({ dataset: createFamilyOfficeDataset() });
});
afterEach(async () => {
  await sandbox.close();
});

describe('auth', () => {
  it('POST /auth/init with client credentials creates a permanent user (JSON or form body)', async () => {
    const { clientId, clientSecret } = sandbox.secret;
    const json = await call('POST', '/2.0/auth/init', { body: { client_id: clientId, client_secret: clientSecret } });
    expect(json.status).toBe(200);
    openapi.assertValid('AccessToken', json.json);
    expect(json.json).toMatchObject({ type: 'permanent', expires_in: null, id_user: 1004 });
    const form = await call('POST', '/2.0/auth/init', { form: `client_id=${clientId}&client_secret=${clientSecret}` });
    expect(form.json).toMatchObject({ type: 'permanent', id_user: 1005 });
    const me = await call('GET', '/2.0/users/me', { token: String(json.json.auth_token) });
    expect(me.json.id).toBe(1004);
    // The client secret is redacted from the recording that /__sandbox/requests serves.
    expect(JSON.stringify(sandbox.requests)).not.toContain(clientSecret);
  });

  it('POST /auth/init with a wrong secret → 401 ServiceError', async () => {
    const res = await call('POST', '/2.0/auth/init', {
      body: { client_id: sandbox.secret.clientId, client_secret: 'nope' },
    });
    expect(res.status).toBe(401);
    openapi.assertValid('ServiceError', res.json);
  });

  it('POST /auth/renew issues a new token; revoke_previous kills the old one', async () => {
    const old = tokenOf(IDS.users.claire);
    const renew = await call('POST', '/2.0/auth/renew', {
      body: {
        grant_type: 'client_credentials',
        client_id: sandbox.secret.clientId,
        client_secret: sandbox.secret.clientSecret,
        id_user: IDS.users.claire,
        revoke_previous: true,
      },
    });
    expect(renew.status).toBe(200);
    openapi.assertValid('ExchangeAccessToken', renew.json);
    expect((await call('GET', '/2.0/users/me', { token: String(renew.json.access_token) })).json.id).toBe(
      IDS.users.claire,
    );
    expect((await call('GET', '/2.0/users/me', { token: old })).status).toBe(401);
  });

  it('GET /auth/token/code returns a temporary code', async () => {
    const res = await call('GET', '/2.0/auth/token/code?type=singleAccess', { token: tokenOf(IDS.users.louis) });
    expect(res.json).toMatchObject({ type: 'temporary', access: 'single', expires_in: 1800, code: expect.any(String) });
  });
});

describe('errors and routing', () => {
  it.each([
    ['GET', '/2.0/nope', 404, 'notFound'],
    ['GET', '/elsewhere', 404, 'notFound'],
    ['GET', '/2.0/users/me/connections/abc', 404, 'notFound'],
    ['GET', '/2.0/users/me/accounts/999999', 404, 'notFound'],
    ['DELETE', '/2.0/users/me/connections', 405, 'methodNotAllowed'],
  ])(
    '%s %s → %i %s, a ServiceError whose request_id is the x-request-id header',
    async (method, path, status, code) => {
      const res = await call(method, path, { token: tokenOf(IDS.users.claire) });
      expect([res.status, res.json.code]).toEqual([status, code]);
      openapi.assertValid('ServiceError', res.json);
      expect(res.json).toMatchObject({ message: null, request_id: res.headers.get('x-request-id') });
    },
  );

  it('a malformed JSON body → 400 invalidValue', async () => {
    const res = await fetch(`${sandbox.baseUrl}/auth/init`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{oops',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'invalidValue' });
  });
});

describe('control API (/__sandbox) for npm start', () => {
  it('arms, lists and clears faults over HTTP', async () => {
    const armed = await call('POST', '/__sandbox/faults', {
      body: [
        { method: 'GET', path: '/users/*/connections', fault: { kind: 'status', status: 503 }, times: 2 },
        { method: 'PUT', path: '/users/**', fault: { kind: 'rateLimited', retryAfter: 7 } },
      ],
    });
    expect(armed).toMatchObject({ status: 201, json: { ids: [expect.any(String), expect.any(String)] } });
    expect((await call('GET', '/__sandbox/faults')).json.faults).toHaveLength(2);

    const token = tokenOf(IDS.users.claire);
    expect((await call('GET', '/2.0/users/me/connections', { token })).status).toBe(503);
    const limited = await call('PUT', `/2.0/users/me/connections/${IDS.connections.claireBnp}`, { token });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '7']);
    openapi.assertValid('ServiceError', limited.json);

    await call('DELETE', '/__sandbox/faults');
    expect((await call('GET', '/2.0/users/me/connections', { token })).status).toBe(200);
    const recorded = (await call('GET', '/__sandbox/requests')).json.requests as { status: number; fault?: string }[];
    expect(recorded.map((r) => [r.status, r.fault ?? '-'])).toEqual([
      [503, 'status'],
      [429, 'rateLimited'],
      [200, '-'],
    ]);
  });

  it("a fault armed for one user (userId) hits only requests with that user's token", async () => {
    const armed = await call('POST', '/__sandbox/faults', {
      body: [{ userId: IDS.users.louis, path: '/users/me/**', fault: { kind: 'status', status: 500 }, times: 5 }],
    });
    expect(armed.status).toBe(201);
    expect((await call('GET', '/__sandbox/faults')).json.faults).toEqual([
      expect.objectContaining({ userId: IDS.users.louis }),
    ]);
    expect((await call('GET', '/2.0/users/me/connections', { token: tokenOf(IDS.users.claire) })).status).toBe(200);
    expect((await call('GET', '/2.0/users/me/connections', { token: tokenOf(IDS.users.louis) })).status).toBe(500);
    expect(
      (await call('POST', '/__sandbox/faults', { body: [{ userId: 'louis', fault: { kind: 'reset' } }] })).status,
    ).toBe(400);
  });

  it('rejects a bad fault rule with a message naming the field', async () => {
    const res = await call('POST', '/__sandbox/faults', { body: { fault: { kind: 'status', status: 200 } } });
    expect(res.status).toBe(400);
    expect(String(res.json.description)).toContain('fault.status');
  });

  it('sets a connection state over HTTP', async () => {
    const res = await call('POST', `/__sandbox/connections/${IDS.connections.claireUbs}/state`, {
      body: { state: 'wrongpass' },
    });
    expect(res.json).toMatchObject({ id: IDS.connections.claireUbs, state: 'wrongpass', error: 'wrongpass' });
    const put = await call('PUT', `/2.0/users/me/connections/${IDS.connections.claireUbs}?psu_requested=false`, {
      token: tokenOf(IDS.users.claire),
    });
    expect([put.status, put.json.state]).toEqual([202, 'wrongpass']);
  });
});

describe('close()', () => {
  it('returns promptly with a hung request and keep-alive sockets open', async () => {
    const token = tokenOf(IDS.users.claire);
    await call('GET', '/2.0/users/me', { token }); // leaves a keep-alive socket in undici's pool
    sandbox.faults.failNext('GET', '/users/me', { kind: 'hang' });
    const hung = fetch(`${sandbox.baseUrl}/users/me`, { headers: { authorization: `Bearer ${token}` } }).catch(
      (e: unknown) => e,
    );
    await waitFor(() => sandbox.requests.length >= 2);
    await sandbox.close();
    // Rejected with a socket error (a TypeError from undici's realm), not left pending.
    expect(await hung).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    await sandbox.close(); // idempotent
  });
});

openapi.describe('OpenAPI checker sanity (it must be able to fail)', () => {
  const good = () => structuredClone(createFamilyOfficeDataset().users[0]!.connections[0]!);
  const checker = () => {
    if (!openapi.checker) throw new Error('unreachable: this block is skipped without the OpenAPI');
    return openapi.checker;
  };

  it('accepts the dataset’s own objects', () => {
    const seed = good();
    expect(checker().validate('Connection', seed.connection)).toEqual([]);
    expect(checker().validate('BankAccount', seed.accounts[0])).toEqual([]);
  });

  it.each([
    [
      'Connection without created',
      'Connection',
      (s: ReturnType<typeof good>) => {
        delete (s.connection as { created?: unknown }).created;
        return s.connection;
      },
      /created/,
    ],
    [
      'Connection with ISO last_update',
      'Connection',
      (s: ReturnType<typeof good>) => ({ ...s.connection, last_update: '2025-06-02T06:00:00Z' }),
      /pattern/,
    ],
    [
      'Connection with numeric state',
      'Connection',
      (s: ReturnType<typeof good>) => ({ ...s.connection, state: 3 }),
      /state/,
    ],
    [
      'BankAccount with usage XXX',
      'BankAccount',
      (s: ReturnType<typeof good>) => ({ ...s.accounts[0], usage: 'XXX' }),
      /usage/,
    ],
    [
      'BankAccount with string balance',
      'BankAccount',
      (s: ReturnType<typeof good>) => ({ ...s.accounts[0], balance: '12.30' }),
      /balance/,
    ],
    [
      'BankAccountsList without balances',
      'BankAccountsList',
      (s: ReturnType<typeof good>) => ({ accounts: s.accounts }),
      /balances/,
    ],
    ['ServiceError without description', 'ServiceError', () => ({ code: 'bug' }), /description/],
  ] as const)('rejects %s', (_label, name, mutate, message) => {
    const errors = checker().validate(name, mutate(good()));
    expect(errors.join('\n')).toMatch(message);
  });

  it('documents every deviation from the raw OpenAPI', () => {
    expect(OPENAPI_DEVIATIONS.length).toBeGreaterThanOrEqual(5);
  });
});
