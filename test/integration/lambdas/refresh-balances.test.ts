/**
 * refresh-balances domain against the real Powens HTTP client + sandbox (loopback) and real dynalite.
 * Assertions read the sandbox's recorded requests (what Powens actually received) and the table's items.
 */
import { refreshBalances, type RefreshBalancesOutput } from '../../../lambdas/core/domain/refresh-balances';
import { FAMILY_OFFICE_IDS } from '../../../infra/local/powens-sandbox';
import { useDynalite } from '../../support/dynalite';
import { startHarness, type Harness } from './harness';

const C = FAMILY_OFFICE_IDS.connections;
const HEALTHY = [C.claireBnp, C.claireUbs, C.louisSocGen, C.holdingQonto, C.holdingHsbc, C.holdingIbkr];

function byConnection(output: RefreshBalancesOutput) {
  return Object.fromEntries(output.connections.map((c) => [c.connectionId, c]));
}

describe('refreshBalances (real client + sandbox + dynalite)', () => {
  const dynamo = useDynalite();
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ dynamo: dynamo() });
  });
  afterEach(async () => {
    await h.close();
  });

  it('syncs healthy connections unattended and never forces the SCARequired one', async () => {
    const output = await refreshBalances({}, { executionId: 'exec-1' }, h.refreshDeps());
    const by = byConnection(output);
    expect(output.summary).toEqual({ synced: 6, skipped: 0, needs_user_action: 1, failed: 0 });
    expect(by[C.louisBoursorama]).toMatchObject({ outcome: 'needs_user_action', reason: 'user_action_required', state: 'SCARequired' });
    expect(by[C.claireBnp]).toMatchObject({ outcome: 'synced', state: null, lastUpdate: h.clock.now.toISOString() });
    const syncs = h.sandbox.syncRequests();
    expect(syncs.map((s) => s.connectionId).sort()).toEqual([...HEALTHY].sort());
    expect(syncs.every((s) => s.via === 'PUT' && s.psuRequested === false && s.status === 200)).toBe(true);
    expect(output.refreshedAt).toBe(h.clock.now.toISOString());
  });

  it('maps every connection state class to its outcome without any PUT', async () => {
    h.sandbox.setConnectionState(C.claireBnp, 'rateLimiting');
    h.sandbox.setConnectionState(C.claireUbs, 'validating');
    h.sandbox.setConnectionState(C.louisSocGen, 'notSupported');
    h.sandbox.setConnectionState(C.holdingQonto, 'someStatePowensAddsLater');
    h.sandbox.setConnectionState(C.holdingHsbc, 'wrongpass');
    h.sandbox.connection(C.holdingIbkr).active = false;
    const by = byConnection(await refreshBalances({}, { executionId: 'exec-states' }, h.refreshDeps()));
    expect(by[C.claireBnp]).toMatchObject({ outcome: 'skipped', reason: 'provider_retrying', state: 'rateLimiting' });
    expect(by[C.claireUbs]).toMatchObject({ outcome: 'skipped', reason: 'sync_in_progress', state: 'validating' });
    expect(by[C.louisSocGen]).toMatchObject({ outcome: 'needs_user_action', reason: 'unrecoverable_state' });
    expect(by[C.holdingQonto]).toMatchObject({ outcome: 'needs_user_action', reason: 'unrecoverable_state' });
    expect(by[C.holdingHsbc]).toMatchObject({ outcome: 'needs_user_action', reason: 'user_action_required' });
    expect(by[C.holdingIbkr]).toMatchObject({ outcome: 'skipped', reason: 'inactive' });
    expect(h.sandbox.syncRequests()).toEqual([]);
    // Nothing forced → no PSD2 slot spent.
    expect((await h.scan()).filter((i) => String(i.pk).startsWith('PSD2#'))).toEqual([]);
  });

  it('reports the state the sync ended in: 202/needs-user → needs_user_action, Powens-retrying → skipped', async () => {
    h.sandbox.scriptSync(C.claireBnp, { outcome: 'SCARequired' });
    h.sandbox.scriptSync(C.claireUbs, { outcome: 'websiteUnavailable' });
    const by = byConnection(
      await refreshBalances({ connectionIds: [C.claireBnp, C.claireUbs] }, { executionId: 'exec-after' }, h.refreshDeps()),
    );
    expect(by[C.claireBnp]).toMatchObject({ outcome: 'needs_user_action', state: 'SCARequired' });
    expect(by[C.claireUbs]).toMatchObject({ outcome: 'skipped', reason: 'provider_retrying', state: 'websiteUnavailable' });
    expect(h.sandbox.syncRequests().map((s) => s.status).sort()).toEqual([200, 202]);
  });

  it('a retried step (same execution) re-syncs only what failed and reuses its PSD2 slot', async () => {
    h.sandbox.faults.failNext('PUT', `/users/*/connections/${C.holdingQonto}`, { kind: 'status', status: 503, code: 'maintenance' });
    await expect(refreshBalances({}, { executionId: 'exec-retry' }, h.refreshDeps())).rejects.toMatchObject({
      name: 'ServiceUnavailable',
    });
    // 5 OK + the 503 (a faulted request is recorded without the parsed sync fields, so count raw PUTs).
    expect(h.sandbox.requests.filter((r) => r.method === 'PUT')).toHaveLength(6);
    expect(h.sandbox.requests.filter((r) => r.method === 'PUT' && r.status === 503)).toHaveLength(1);
    h.sandbox.clearRequests();

    const retry = await refreshBalances({}, { executionId: 'exec-retry' }, h.refreshDeps());
    const by = byConnection(retry);
    expect(h.sandbox.syncRequests().map((s) => s.connectionId)).toEqual([C.holdingQonto]);
    expect(by[C.holdingQonto]).toMatchObject({ outcome: 'synced' });
    for (const id of HEALTHY.filter((c) => c !== C.holdingQonto)) {
      expect(by[id]).toMatchObject({ outcome: 'skipped', reason: 'already_synced_in_execution', state: null });
    }

    // A third run of the same execution PUTs nothing at all.
    h.sandbox.clearRequests();
    await refreshBalances({}, { executionId: 'exec-retry' }, h.refreshDeps());
    expect(h.sandbox.syncRequests()).toEqual([]);

    // One PSD2 slot per connection despite three attempts; markers are `done` with a TTL.
    const items = await h.scan();
    const slots = items.filter((i) => String(i.pk).startsWith('PSD2#'));
    expect(slots.map((i) => i.pk).sort()).toEqual(HEALTHY.map((c) => expect.stringMatching(new RegExp(`#${c}$`))).sort());
    expect(slots).toHaveLength(6);
    const markers = items.filter((i) => i.pk === 'EXEC#exec-retry');
    expect(markers).toHaveLength(6);
    expect(markers.every((m) => m.status === 'done' && typeof m.expiresAt === 'number')).toBe(true);
    expect(markers.find((m) => m.sk === `CONN#${FAMILY_OFFICE_IDS.users.holding}#${C.holdingQonto}`)?.attempts).toBe(2);
  });

  it('spends at most 4 unattended syncs per connection per 24 h; psuRequested syncs are outside the budget', async () => {
    const input = { connectionIds: [C.claireBnp] };
    for (let i = 1; i <= 4; i++) {
      const out = await refreshBalances(input, { executionId: `exec-b${i}` }, h.refreshDeps());
      expect(out.summary.synced).toBe(1);
      h.clock.now = new Date(h.clock.now.getTime() + 60_000);
    }
    const fifth = await refreshBalances(input, { executionId: 'exec-b5' }, h.refreshDeps());
    expect(fifth.connections).toEqual([
      expect.objectContaining({ connectionId: C.claireBnp, outcome: 'skipped', reason: 'psd2_budget_exhausted' }),
    ]);
    expect(h.sandbox.syncRequests()).toHaveLength(4);

    const attended = await refreshBalances({ ...input, psuRequested: true }, { executionId: 'exec-psu' }, h.refreshDeps());
    expect(attended.summary.synced).toBe(1);
    expect(h.sandbox.syncRequests().at(-1)).toMatchObject({ connectionId: C.claireBnp, psuRequested: true });

    h.clock.now = new Date(h.clock.now.getTime() + 24 * 3_600_000);
    expect((await refreshBalances(input, { executionId: 'exec-b6' }, h.refreshDeps())).summary.synced).toBe(1);
  });

  it('409 (sync already running) → skipped sync_in_progress', async () => {
    const hold = h.sandbox.holdSyncs(C.claireBnp);
    const first = refreshBalances({ connectionIds: [C.claireBnp] }, { executionId: 'exec-a' }, h.refreshDeps());
    await hold.started;
    const second = await refreshBalances({ connectionIds: [C.claireBnp] }, { executionId: 'exec-b' }, h.refreshDeps());
    expect(second.connections[0]).toMatchObject({ outcome: 'skipped', reason: 'sync_in_progress' });
    hold.release();
    expect((await first).connections[0]).toMatchObject({ outcome: 'synced' });
  });

  it('a permanent error on one connection is reported, not thrown; all failing throws it', async () => {
    h.sandbox.faults.failNext('PUT', `/users/*/connections/${C.claireUbs}`, { kind: 'status', status: 404, code: 'notFound' });
    const out = await refreshBalances({}, { executionId: 'exec-perm' }, h.refreshDeps());
    expect(byConnection(out)[C.claireUbs]).toMatchObject({ outcome: 'failed', error: { name: 'NotFound' } });
    expect(out.summary).toEqual({ synced: 5, skipped: 0, needs_user_action: 1, failed: 1 });

    h.sandbox.faults.failNext('PUT', `/users/*/connections/${C.claireBnp}`, { kind: 'status', status: 403, code: 'forbidden' });
    await expect(
      refreshBalances({ connectionIds: [C.claireBnp] }, { executionId: 'exec-all-fail' }, h.refreshDeps()),
    ).rejects.toMatchObject({ name: 'Forbidden' });
  });

  it.each([
    [{ kind: 'status', status: 503 }, 'ServiceUnavailable'],
    [{ kind: 'status', status: 502 }, 'BadGateway'],
    [{ kind: 'rateLimited', retryAfter: 30 }, 'RateLimited'],
    [{ kind: 'status', status: 401, code: 'invalidToken' }, 'Unauthenticated'],
  ] as const)('a %j on the only PUT surfaces as %s', async (fault, name) => {
    h.sandbox.faults.failNext('PUT', `/users/*/connections/${C.claireBnp}`, fault);
    await expect(
      refreshBalances({ connectionIds: [C.claireBnp] }, { executionId: `exec-${name}` }, h.refreshDeps()),
    ).rejects.toMatchObject({ name });
  });

  it('a revoked token fails that user only; a transient listing failure throws before any write', async () => {
    h.sandbox.faults.failNext('GET', `/users/${FAMILY_OFFICE_IDS.users.louis}/connections`, { kind: 'status', status: 401, code: 'invalidToken' });
    const out = await refreshBalances({}, { executionId: 'exec-401' }, h.refreshDeps());
    expect(out.connections.filter((c) => c.userId === FAMILY_OFFICE_IDS.users.louis)).toEqual([
      { userId: FAMILY_OFFICE_IDS.users.louis, outcome: 'failed', reason: 'connections_unavailable', error: expect.objectContaining({ name: 'Unauthenticated' }) },
    ]);
    expect(out.summary.synced).toBe(5);

    const h2 = await startHarness({ dynamo: dynamo() });
    try {
      h2.sandbox.faults.failNext('GET', '/users/*/connections', { kind: 'rateLimited', retryAfter: 5 });
      await expect(refreshBalances({}, { executionId: 'exec-429' }, h2.refreshDeps())).rejects.toMatchObject({ name: 'RateLimited' });
      expect(await h2.scan()).toEqual([]);
      expect(h2.sandbox.syncRequests()).toEqual([]);
    } finally {
      await h2.close();
    }
  });

  it.each([
    [{ psuRequested: 'yes' }, /input\.psuRequested must be boolean/],
    [{ userIds: [1001], extra: true }, /unknown property "extra"/],
    [{ userIds: [0] }, /input\.userIds\.0 must be >= 1/],
    [{ userIds: [999] }, /not configured in the Powens secret: 999/],
    [{ connectionIds: [2001, 77] }, /not found for the selected users: 77/],
    ['not an object', /input must be object/],
  ])('rejects invalid input %j with ValidationFailed and writes nothing', async (input, message) => {
    await expect(refreshBalances(input, { executionId: 'exec-invalid' }, h.refreshDeps())).rejects.toMatchObject({
      name: 'ValidationFailed',
      message: expect.stringMatching(message),
    });
    expect(await h.scan()).toEqual([]);
    expect(h.sandbox.syncRequests()).toEqual([]);
  });

  it('selects users and connections from the input', async () => {
    const out = await refreshBalances(
      { userIds: [FAMILY_OFFICE_IDS.users.holding], connectionIds: [C.holdingHsbc] },
      { executionId: 'exec-sel' },
      h.refreshDeps(),
    );
    expect(out.connections).toEqual([expect.objectContaining({ userId: FAMILY_OFFICE_IDS.users.holding, connectionId: C.holdingHsbc, outcome: 'synced' })]);
    expect(h.sandbox.requests.filter((r) => r.method === 'GET').map((r) => r.userId)).toEqual([FAMILY_OFFICE_IDS.users.holding]);
  });
});
