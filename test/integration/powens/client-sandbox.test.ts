/**
 * Real client ↔ real sandbox over loopback HTTP. Every response the client consumes is also fetched raw and
 * validated against Powens' OpenAPI, so the sandbox stays faithful and the client is tested against that shape.
 */
import { createPowensClient, type PowensClient } from '../../../lambdas/core/adapters/powens/client';
import { parsePowensDateTime } from '../../../lambdas/core/adapters/powens/datetime';
import { classifyConnectionState } from '../../../lambdas/core/adapters/powens/types';
import {
  createFamilyOfficeDataset,
  FAMILY_OFFICE_IDS as IDS,
  startPowensSandbox,
  type PowensSandbox,
} from '../../../infra/local/powens-sandbox';
import { optionalPowensOpenApi, type PowensSchemaName } from '../../support/powens-openapi';
import { waitFor } from '../../support/wait-for';

const NOW = new Date('2025-06-02T06:00:00Z');
const openapi = optionalPowensOpenApi();

let sandbox: PowensSandbox;
let client: PowensClient;
let clockMs: number;

const userCreds = (userId: number): { userId: number; token: string } => {
  const user = sandbox.secret.users.find((u) => u.userId === userId);
  if (!user) throw new Error(`no user ${userId}`);
  return { userId, token: user.token };
};

/** Raw GET (not through the client) to validate exactly what went over the wire. */
async function raw(
  method: string,
  path: string,
  userId: number,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${sandbox.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${userCreds(userId).token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function rawValid(name: PowensSchemaName, path: string, userId: number, method = 'GET'): Promise<unknown> {
  const { status, json } = await raw(method, path, userId);
  expect(status).toBeLessThan(300);
  openapi.assertValid(name, json);
  return json;
}

beforeEach(async () => {
  clockMs = NOW.getTime();
  sandbox = await startPowensSandbox({
    dataset: createFamilyOfficeDataset({ now: NOW }),
    clock: () => new Date(clockMs),
  });
  client = createPowensClient({ baseUrl: sandbox.baseUrl, timeoutMs: 30_000, syncTimeoutMs: 60_000 });
});

afterEach(async () => {
  await sandbox.close();
});

describe('reads', () => {
  it('lists a user’s connections (GET /users/{id}/connections) and the wire payload matches the OpenAPI', async () => {
    const connections = await client.listConnections(userCreds(IDS.users.louis));
    expect(connections.map((c) => [c.id, c.state])).toEqual([
      [IDS.connections.louisSocGen, null],
      [IDS.connections.louisBoursorama, 'SCARequired'],
    ]);
    await rawValid('ConnectionsList', `/users/${IDS.users.louis}/connections`, IDS.users.louis);
    const expanded = (await rawValid(
      'ConnectionsList',
      '/users/me/connections?expand=accounts,all_accounts',
      IDS.users.louis,
    )) as {
      connections: { accounts: { id: number }[]; all_accounts: { id: number }[] }[];
    };
    expect(expanded.connections[0]?.accounts.map((a) => a.id)).toEqual([3111, 3112, 3114]);
    expect(expanded.connections[0]?.all_accounts.map((a) => a.id)).toEqual([3111, 3112, IDS.disabledAccount, 3114]);
  });

  it('gets one connection with parseable Powens DateTimes', async () => {
    const connection = await client.getConnection(userCreds(IDS.users.claire), IDS.connections.claireBnp);
    expect(connection).toMatchObject({
      id: IDS.connections.claireBnp,
      id_user: IDS.users.claire,
      state: null,
      active: true,
    });
    // 26 h before NOW, in Paris wall time, read back to the same instant.
    expect(parsePowensDateTime(connection.last_update)?.toISOString()).toBe('2025-06-01T04:00:00.000Z');
    await rawValid(
      'Connection',
      `/users/me/connections/${IDS.connections.claireBnp}?expand=accounts`,
      IDS.users.claire,
    );
  });

  it('lists accounts with per-currency balances; disabled accounts only with ?all', async () => {
    const list = await client.listAccounts(userCreds(IDS.users.louis));
    expect(list.accounts.map((a) => a.id)).toEqual([3111, 3112, 3114, 3121, 3122]);
    expect(list.balances).toEqual({ EUR: -147_757.69 }); // Powens' own total includes the mortgage
    // expand=connection: every account carries its connection, state included (what marks SCA-blocked balances stale).
    const expandedList = await client.listAccounts(userCreds(IDS.users.louis), { expandConnection: true });
    expect(expandedList.accounts.map((a) => [a.id, a.connection?.id, a.connection?.state])).toEqual([
      [3111, IDS.connections.louisSocGen, null],
      [3112, IDS.connections.louisSocGen, null],
      [3114, IDS.connections.louisSocGen, null],
      [3121, IDS.connections.louisBoursorama, 'SCARequired'],
      [3122, IDS.connections.louisBoursorama, 'SCARequired'],
    ]);
    await rawValid('BankAccountsList', '/users/me/accounts?expand=connection', IDS.users.louis);
    const rawList = (await rawValid('BankAccountsList', '/users/me/accounts', IDS.users.louis)) as {
      accounts: unknown[];
    };
    for (const account of rawList.accounts) openapi.assertValid('BankAccount', account);
    const all = (await rawValid('BankAccountsList', '/users/me/accounts?all', IDS.users.louis)) as {
      accounts: { id: number }[];
    };
    expect(all.accounts.map((a) => a.id)).toContain(IDS.disabledAccount);
  });

  it('lists one connection’s accounts (GET /users/{id}/connections/{cid}/accounts), multi-currency', async () => {
    const list = await client.listAccounts(userCreds(IDS.users.holding), { connectionId: IDS.connections.holdingHsbc });
    expect(list.accounts.map((a) => [a.id, a.currency?.id, a.usage])).toEqual([
      [3401, 'GBP', 'ORGA'],
      [3402, 'USD', 'ORGA'],
    ]);
    expect(list.balances).toEqual({ GBP: 184_002.3, USD: 650_000 });
    await rawValid(
      'BankAccountsList',
      `/users/me/connections/${IDS.connections.holdingHsbc}/accounts`,
      IDS.users.holding,
    );
  });

  it('gets one account; a disabled one is a 404 unless ?all', async () => {
    const louis = userCreds(IDS.users.louis);
    expect((await client.getAccount(louis, 3111)).name).toBe('Compte courant');
    await expect(client.getAccount(louis, IDS.disabledAccount)).rejects.toMatchObject({ name: 'NotFound' });
    expect((await client.getAccount(louis, IDS.disabledAccount, { all: true })).disabled).not.toBeNull();
    await rawValid('BankAccount', '/users/me/accounts/3111', IDS.users.louis);
  });

  it('answers 400 noAccount for a user without accounts, which the client returns as an empty list', async () => {
    const init = await fetch(`${sandbox.baseUrl}/auth/init`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: sandbox.secret.clientId, client_secret: sandbox.secret.clientSecret }),
    });
    const created = (await init.json()) as { auth_token: string; id_user: number };
    const rawAnswer = await fetch(`${sandbox.baseUrl}/users/me/accounts`, {
      headers: { authorization: `Bearer ${created.auth_token}` },
    });
    expect(rawAnswer.status).toBe(400);
    const error = await rawAnswer.json();
    openapi.assertValid('ServiceError', error);
    expect(error).toMatchObject({ code: 'noAccount', message: null });

    const list = await client.listAccounts({ userId: created.id_user, token: created.auth_token });
    expect(list).toEqual({ accounts: [], balances: {} });
  });

  it('GET /users/me identifies the token’s user', async () => {
    expect(await client.getMe(userCreds(IDS.users.holding))).toEqual({
      id: IDS.users.holding,
      signin: expect.any(String),
    });
    await rawValid('User', '/users/me', IDS.users.holding);
  });
});

describe('forced sync (PUT /users/{id}/connections/{cid})', () => {
  it('passes psu_requested through explicitly, both ways, and the sandbox records it', async () => {
    const claire = userCreds(IDS.users.claire);
    await client.syncConnection(claire, IDS.connections.claireBnp, { psuRequested: false });
    await client.syncConnection(claire, IDS.connections.claireUbs, { psuRequested: true });
    expect(sandbox.syncRequests().map((s) => [s.via, s.connectionId, s.psuRequested, s.status])).toEqual([
      ['PUT', IDS.connections.claireBnp, false, 200],
      ['PUT', IDS.connections.claireUbs, true, 200],
    ]);
    expect(sandbox.requests.filter((r) => r.method === 'PUT').map((r) => r.query)).toEqual([
      { psu_requested: 'false' },
      { psu_requested: 'true' },
    ]);
  });

  it('a successful sync moves state, last_update, next_try and balances (fixed delta, injected clock)', async () => {
    const holding = userCreds(IDS.users.holding);
    sandbox.scriptSync(IDS.connections.holdingQonto, { balanceDelta: 10.5 });
    clockMs = NOW.getTime() + 60_000;
    const result = await client.syncConnection(holding, IDS.connections.holdingQonto, { psuRequested: false });
    expect(result.httpStatus).toBe(200);
    openapi.assertValid('Connection', result.connection);
    expect(result.connection.state).toBeNull();
    expect(parsePowensDateTime(result.connection.last_update)?.getTime()).toBe(clockMs);
    expect(parsePowensDateTime(result.connection.next_try)?.getTime()).toBe(clockMs + 24 * 3_600_000);
    const accounts = await client.listAccounts(holding, { connectionId: IDS.connections.holdingQonto });
    expect(accounts.accounts.map((a) => a.balance)).toEqual([412_391.16, 1_500_010.5, 25_010.5]);
    expect(accounts.accounts.every((a) => parsePowensDateTime(a.last_update)?.getTime() === clockMs)).toBe(true);
  });

  it('the default PRNG moves balances deterministically (same seed → same balances)', async () => {
    const claire = userCreds(IDS.users.claire);
    await client.syncConnection(claire, IDS.connections.claireBnp, { psuRequested: false });
    const first = (await client.listAccounts(claire)).accounts.map((a) => a.balance);
    await sandbox.close();
    sandbox = await startPowensSandbox({
      dataset: createFamilyOfficeDataset({ now: NOW }),
      clock: () => new Date(clockMs),
    });
    client = createPowensClient({ baseUrl: sandbox.baseUrl, timeoutMs: 30_000, syncTimeoutMs: 60_000 });
    await client.syncConnection(claire, IDS.connections.claireBnp, { psuRequested: false });
    expect((await client.listAccounts(claire)).accounts.map((a) => a.balance)).toEqual(first);
    expect(first[0]).not.toBe(18_452.37);
  });

  it('a connection that needs the user answers 202 with its state and last_update unchanged', async () => {
    const louis = userCreds(IDS.users.louis);
    const before = sandbox.connection(IDS.connections.louisBoursorama).last_update;
    const result = await client.syncConnection(louis, IDS.connections.louisBoursorama, { psuRequested: false });
    expect(result.httpStatus).toBe(202);
    expect(result.connection.state).toBe('SCARequired');
    expect(classifyConnectionState(result.connection.state)).toBe('needs_user');
    expect(result.connection.last_update).toBe(before);
    openapi.assertValid('Connection', result.connection);
  });

  it('a scripted failing sync sets the state but keeps last_update (last *successful* update)', async () => {
    const claire = userCreds(IDS.users.claire);
    const before = sandbox.connection(IDS.connections.claireUbs).last_update;
    sandbox.scriptSync(IDS.connections.claireUbs, { outcomes: ['websiteUnavailable', 'SCARequired'] });
    const first = await client.syncConnection(claire, IDS.connections.claireUbs, { psuRequested: false });
    expect([first.httpStatus, first.connection.state, first.connection.last_update]).toEqual([
      200,
      'websiteUnavailable',
      before,
    ]);
    expect(first.connection.next_try).not.toBeNull();
    const second = await client.syncConnection(claire, IDS.connections.claireUbs, { psuRequested: false });
    expect([second.httpStatus, second.connection.state]).toEqual([202, 'SCARequired']);
  });

  it('a slow sync shows `validating` to readers and 409s a concurrent PUT (ConflictError)', async () => {
    const claire = userCreds(IDS.users.claire);
    const hold = sandbox.holdSyncs(IDS.connections.claireBnp);
    const first = client.syncConnection(claire, IDS.connections.claireBnp, { psuRequested: false });
    await hold.started;
    expect(sandbox.inFlightSyncs()).toEqual([IDS.connections.claireBnp]);
    const during = await client.getConnection(claire, IDS.connections.claireBnp);
    expect(classifyConnectionState(during.state)).toBe('in_progress');

    const conflict = await client
      .syncConnection(claire, IDS.connections.claireBnp, { psuRequested: false })
      .catch((e: unknown) => e);
    expect(conflict).toMatchObject({ name: 'Conflict', details: { status: 409, code: 'invalidValue' } });
    const rawConflict = await raw(
      'PUT',
      `/users/me/connections/${IDS.connections.claireBnp}?psu_requested=false`,
      IDS.users.claire,
    );
    expect(rawConflict.status).toBe(409);
    openapi.assertValid('ServiceError', rawConflict.json);

    hold.release();
    const done = await first;
    expect([done.httpStatus, done.connection.state]).toEqual([200, null]);
    expect(sandbox.inFlightSyncs()).toEqual([]);
  });

  it('a sync with real latency (syncLatencyMs) blocks the PUT, then answers', async () => {
    await sandbox.close();
    sandbox = await startPowensSandbox({ dataset: createFamilyOfficeDataset({ now: NOW }), syncLatencyMs: 150 });
    client = createPowensClient({ baseUrl: sandbox.baseUrl, timeoutMs: 30_000, syncTimeoutMs: 60_000 });
    const result = await client.syncConnection(userCreds(IDS.users.claire), IDS.connections.claireBnp, {
      psuRequested: false,
    });
    expect(result.connection.state).toBeNull();
  });
});

describe('POST /users/{id}/connections/{cid} (update and/or sync)', () => {
  it('empty body = sync with the user present; {resume:true} unblocks a decoupled connection', async () => {
    const cid = IDS.connections.louisBoursorama;
    const blocked = await raw('POST', `/users/me/connections/${cid}`, IDS.users.louis, {});
    expect([blocked.status, (blocked.json as { state: string }).state]).toEqual([202, 'SCARequired']);
    sandbox.setConnectionState(cid, 'decoupled');
    const resumed = await raw('POST', `/users/me/connections/${cid}`, IDS.users.louis, { resume: true });
    expect(resumed.status).toBe(200);
    openapi.assertValid('Connection', resumed.json);
    expect((resumed.json as { state: unknown }).state).toBeNull();
    expect(sandbox.syncRequests().map((s) => [s.via, s.psuRequested])).toEqual([
      ['POST', true],
      ['POST', true],
    ]);
  });

  it('?background=true answers at once with `validating` and finishes later', async () => {
    const hold = sandbox.holdSyncs(IDS.connections.claireBnp);
    const answer = await raw(
      'POST',
      `/users/me/connections/${IDS.connections.claireBnp}?background=true`,
      IDS.users.claire,
      {},
    );
    expect([answer.status, (answer.json as { state: string }).state]).toEqual([202, 'validating']);
    await hold.started;
    hold.release();
    await waitFor(() => !sandbox.inFlightSyncs().includes(IDS.connections.claireBnp));
    expect(sandbox.connection(IDS.connections.claireBnp).state).toBeNull();
  });
});

describe('paging (_links.next)', () => {
  it('follows _links.next until it is null when the server pages without being asked', async () => {
    await sandbox.close();
    sandbox = await startPowensSandbox({ dataset: createFamilyOfficeDataset({ now: NOW }), connectionsPageSize: 1 });
    client = createPowensClient({ baseUrl: sandbox.baseUrl, timeoutMs: 30_000, syncTimeoutMs: 60_000 });
    const connections = await client.listConnections(userCreds(IDS.users.holding));
    expect(connections.map((c) => c.id)).toEqual([
      IDS.connections.holdingQonto,
      IDS.connections.holdingHsbc,
      IDS.connections.holdingIbkr,
    ]);
    expect(sandbox.requests.map((r) => r.query.offset ?? '-')).toEqual(['-', '1', '2']);
    const page = await rawValid('ConnectionsList', '/users/me/connections?limit=2&offset=0', IDS.users.holding);
    expect(page).toMatchObject({
      total: 3,
      _links: { next: { href: expect.stringContaining('offset=2') }, prev: null },
    });
  });
});
