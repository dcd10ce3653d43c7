/**
 * refresh-balances domain against the real Powens HTTP client + sandbox (loopback) and real dynalite.
 * Assertions read the sandbox's recorded requests (what Powens actually received) and the table's items.
 */
import { refreshBalances, type RefreshBalancesOutput } from '../../../lambdas/core/domain/refresh-balances';
import { FAMILY_OFFICE_IDS } from '../../../infra/local/powens-sandbox';
import { createPowensClient } from '../../../lambdas/core/adapters/powens/client';
import { createConnectionHealthStore } from '../../../lambdas/core/adapters/dynamodb/connection-health';
import { createRateBudget } from '../../../lambdas/core/adapters/powens/rate-budget';
import { useDynalite } from '../../support/dynalite';
import { waitFor } from '../../support/wait-for';
import { startHarness, TENANT, type Harness } from './harness';

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

  it('forces only stale healthy connections, unattended, and never the SCARequired one', async () => {
    const output = await refreshBalances({}, { executionId: 'exec-1' }, h.refreshDeps());
    const by = byConnection(output);
    expect(output.maxAgeMinutes).toBe(360);
    expect(output.summary).toEqual({ synced: 4, skipped: 2, needs_user_action: 1, failed: 0 });
    expect(output.forcedSyncs).toBe(4);
    expect(by[C.louisBoursorama]).toMatchObject({
      outcome: 'needs_user_action',
      reason: 'user_action_required',
      state: 'SCARequired',
    });
    expect(by[C.claireBnp]).toMatchObject({
      outcome: 'synced',
      state: null,
      lastUpdate: h.clock.now.toISOString(),
      forcedSyncs: 1,
    });
    // Synced by Powens 3 h ago (< 360 min) / Powens' own sync due in exactly 1 h.
    expect(by[C.claireUbs]).toMatchObject({ outcome: 'skipped', reason: 'fresh' });
    expect(by[C.claireUbs]).not.toHaveProperty('forcedSyncs');
    expect(by[C.holdingQonto]).toMatchObject({
      outcome: 'skipped',
      reason: 'provider_sync_due',
      nextTry: expect.any(String),
    });
    const syncs = h.sandbox.syncRequests();
    expect(syncs.map((s) => s.connectionId).sort()).toEqual(
      [C.claireBnp, C.louisSocGen, C.holdingHsbc, C.holdingIbkr].sort(),
    );
    expect(syncs.every((s) => s.via === 'PUT' && s.psuRequested === false && s.status === 200)).toBe(true);
    expect(output.refreshedAt).toBe(h.clock.now.toISOString());
  });

  it('maxAgeMinutes 0 forces every healthy connection (still one PSD2 slot each)', async () => {
    const output = await refreshBalances({ maxAgeMinutes: 0 }, { executionId: 'exec-force' }, h.refreshDeps());
    expect(output.summary).toEqual({ synced: 6, skipped: 0, needs_user_action: 1, failed: 0 });
    expect(
      h.sandbox
        .bankSyncs()
        .map((s) => s.connectionId)
        .sort(),
    ).toEqual([...HEALTHY].sort());
    expect(
      (await h.scan()).filter((i) => String(i.sk).startsWith('SLOT#') && i.executionId === 'exec-force'),
    ).toHaveLength(6);
  });

  it('5 runs on fresh connections: only the first forces anything', async () => {
    const forced: number[] = [];
    for (let run = 1; run <= 5; run++) {
      const output = await refreshBalances({}, { executionId: `exec-fresh-${run}` }, h.refreshDeps());
      forced.push(output.forcedSyncs);
      h.clock.now = new Date(h.clock.now.getTime() + 10 * 60_000);
    }
    expect(forced).toEqual([4, 0, 0, 0, 0]);
    expect(h.sandbox.bankSyncs()).toHaveLength(4);
  });

  it('records connection health for every connection it looks at', async () => {
    const health = createConnectionHealthStore({ client: h.dynamo.doc, tableName: h.tableName });
    await refreshBalances(
      {},
      { executionId: 'exec-health' },
      h.refreshDeps({ health: { store: health, tenantId: TENANT } }),
    );
    expect(await health.list(TENANT)).toHaveLength(7);
    expect(await health.list(TENANT, { needsUser: true })).toEqual([
      expect.objectContaining({
        connectionId: C.louisBoursorama,
        state: 'SCARequired',
        needsUserReason: 'SCARequired',
        source: 'workflow',
      }),
    ]);
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
      await refreshBalances(
        { connectionIds: [C.claireBnp, C.claireUbs], maxAgeMinutes: 0 },
        { executionId: 'exec-after' },
        h.refreshDeps(),
      ),
    );
    expect(by[C.claireBnp]).toMatchObject({ outcome: 'needs_user_action', state: 'SCARequired' });
    expect(by[C.claireUbs]).toMatchObject({
      outcome: 'skipped',
      reason: 'provider_retrying',
      state: 'websiteUnavailable',
    });
    expect(
      h.sandbox
        .syncRequests()
        .map((s) => s.status)
        .sort(),
    ).toEqual([200, 202]);
  });

  it('a retry after a 5xx reads the connection first, then re-sends only under a new PSD2 slot', async () => {
    const input = { maxAgeMinutes: 0 };
    h.sandbox.faults.failNext('PUT', `/users/*/connections/${C.holdingQonto}`, {
      kind: 'status',
      status: 503,
      code: 'maintenance',
    });
    await expect(refreshBalances(input, { executionId: 'exec-retry' }, h.refreshDeps())).rejects.toMatchObject({
      name: 'ServiceUnavailable',
    });
    // 5 OK + the 503 (a faulted request is recorded without the parsed sync fields, so count raw PUTs).
    expect(h.sandbox.requests.filter((r) => r.method === 'PUT')).toHaveLength(6);
    expect(h.sandbox.requests.filter((r) => r.method === 'PUT' && r.status === 503)).toHaveLength(1);
    h.sandbox.clearRequests();

    const retry = await refreshBalances(input, { executionId: 'exec-retry' }, h.refreshDeps());
    const by = byConnection(retry);
    // The 503 may have come after the bank was reached: GET first; last_update did not move, so send again.
    expect(h.sandbox.requests.filter((r) => r.connectionId === C.holdingQonto).map((r) => r.method)).toEqual([
      'GET',
      'PUT',
    ]);
    expect(h.sandbox.syncRequests().map((s) => s.connectionId)).toEqual([C.holdingQonto]);
    expect(by[C.holdingQonto]).toMatchObject({ outcome: 'synced', forcedSyncs: 2 });
    for (const id of HEALTHY.filter((c) => c !== C.holdingQonto)) {
      // Reported as what it was (synced in attempt 1), not as a skip: the summary counts real syncs.
      expect(by[id]).toMatchObject({ outcome: 'synced', fromEarlierAttempt: true, forcedSyncs: 1, state: null });
    }
    expect(retry.summary.synced).toBe(6);
    expect(retry.forcedSyncs).toBe(7);

    // A third run of the same execution PUTs nothing at all.
    h.sandbox.clearRequests();
    await refreshBalances(input, { executionId: 'exec-retry' }, h.refreshDeps());
    expect(h.sandbox.syncRequests()).toEqual([]);

    // One PSD2 slot per request sent: qonto's two requests hold two slots.
    const items = await h.scan();
    // Slots taken by this execution; Powens' own syncs of the last 24 h (claireUbs, ibkr) hold theirs as `observed`.
    const slots = items.filter((i) => String(i.sk).startsWith('SLOT#') && i.executionId === 'exec-retry');
    expect(slots).toHaveLength(7);
    expect(slots.filter((i) => String(i.pk).endsWith(`#${C.holdingQonto}`))).toHaveLength(2);
    const markers = items.filter((i) => i.pk === 'EXEC#exec-retry');
    expect(markers).toHaveLength(7); // the SCARequired connection's too: its report is decided once per execution
    expect(
      markers.every((m) => m.status === 'done' && typeof m.expiresAt === 'number' && m.pending === undefined),
    ).toBe(true);
    const qonto = markers.find((m) => m.sk === `CONN#${FAMILY_OFFICE_IDS.users.holding}#${C.holdingQonto}`);
    expect(qonto).toMatchObject({ attempts: 2, syncsSent: 2 });
  });

  it('a retry after a timeout whose sync did reach the bank counts it as synced and sends nothing', async () => {
    const slowClient = createPowensClient({ baseUrl: h.sandbox.baseUrl, timeoutMs: 5_000, syncTimeoutMs: 300 });
    const deps = h.refreshDeps({ powens: slowClient });
    const input = { connectionIds: [C.claireBnp] };
    const hold = h.sandbox.holdSyncs(C.claireBnp);
    await expect(refreshBalances(input, { executionId: 'exec-slow' }, deps)).rejects.toMatchObject({ name: 'Timeout' });
    // Still running at the bank: the retry sees `validating` and waits for it rather than sending another.
    const during = await refreshBalances(input, { executionId: 'exec-slow' }, deps);
    expect(during.connections[0]).toMatchObject({ outcome: 'skipped', reason: 'sync_in_progress', forcedSyncs: 1 });
    hold.release();
    await waitFor(() => h.sandbox.inFlightSyncs().length === 0);

    const h2hold = h.sandbox.holdSyncs(C.claireUbs);
    const ubs = { connectionIds: [C.claireUbs], maxAgeMinutes: 0 };
    await expect(refreshBalances(ubs, { executionId: 'exec-slow-2' }, deps)).rejects.toMatchObject({ name: 'Timeout' });
    h2hold.release();
    await waitFor(() => h.sandbox.inFlightSyncs().length === 0);
    h.clock.now = new Date(h.clock.now.getTime() + 1_000);
    const after = await refreshBalances(ubs, { executionId: 'exec-slow-2' }, deps);
    expect(after.connections[0]).toMatchObject({ outcome: 'synced', forcedSyncs: 1 });
    expect(h.sandbox.bankSyncs().map((s) => s.connectionId)).toEqual([C.claireBnp, C.claireUbs]);
    expect(h.sandbox.syncRequests()).toHaveLength(2);
  });

  it('slow bank: 5 executions with retries, syncs outlasting the client timeout → ≤ 4 bank syncs in 24 h', async () => {
    const slowClient = createPowensClient({ baseUrl: h.sandbox.baseUrl, timeoutMs: 5_000, syncTimeoutMs: 300 });
    const deps = h.refreshDeps({ powens: slowClient });
    const input = { connectionIds: [C.claireBnp], maxAgeMinutes: 0 };
    for (let execution = 1; execution <= 5; execution++) {
      // Every sync blocks past the client timeout; it finishes at the bank between attempts.
      for (let attempt = 1; attempt <= 4; attempt++) {
        const hold = h.sandbox.holdSyncs(C.claireBnp);
        const run = refreshBalances(input, { executionId: `exec-bank-${execution}` }, deps).then(
          () => 'done' as const,
          (error: { name: string }) => error.name,
        );
        const outcome = await run;
        hold.release();
        await waitFor(() => h.sandbox.inFlightSyncs().length === 0);
        h.clock.now = new Date(h.clock.now.getTime() + 60_000);
        if (outcome === 'done') break;
        expect(outcome).toBe('Timeout');
      }
    }
    const unattended = h.sandbox.bankSyncs().filter((s) => s.connectionId === C.claireBnp && !s.psuRequested);
    expect(unattended.length).toBeLessThanOrEqual(4);
    expect(unattended.length).toBeGreaterThan(0);
  });

  it("Powens' own recent sync uses a PSD2 slot: at most 3 forced syncs after it", async () => {
    // claireUbs was synced by Powens 3 h ago.
    const input = { connectionIds: [C.claireUbs], maxAgeMinutes: 0 };
    const forced: number[] = [];
    for (let run = 1; run <= 5; run++) {
      forced.push((await refreshBalances(input, { executionId: `exec-auto-${run}` }, h.refreshDeps())).forcedSyncs);
      h.clock.now = new Date(h.clock.now.getTime() + 60 * 60_000);
    }
    expect(forced).toEqual([1, 1, 1, 0, 0]);
    const slots = (await h.scan()).filter(
      (i) => String(i.pk).endsWith(`#${C.claireUbs}`) && String(i.sk).startsWith('SLOT#'),
    );
    expect(slots.map((s) => s.executionId).sort()).toEqual(['exec-auto-1', 'exec-auto-2', 'exec-auto-3', 'observed']);
  });

  it('spends at most 4 unattended syncs per connection per 24 h; psuRequested syncs are outside the budget', async () => {
    const input = { connectionIds: [C.claireBnp], maxAgeMinutes: 0 };
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

    const attended = await refreshBalances(
      { ...input, psuRequested: true },
      { executionId: 'exec-psu' },
      h.refreshDeps(),
    );
    expect(attended.summary.synced).toBe(1);
    expect(h.sandbox.syncRequests().at(-1)).toMatchObject({ connectionId: C.claireBnp, psuRequested: true });

    h.clock.now = new Date(h.clock.now.getTime() + 24 * 3_600_000);
    expect((await refreshBalances(input, { executionId: 'exec-b6' }, h.refreshDeps())).summary.synced).toBe(1);
  });

  it('a sync refused by the Powens rate budget (never sent) takes no PSD2 slot; the retry sends it without a GET', async () => {
    const input = { userIds: [FAMILY_OFFICE_IDS.users.holding], connectionIds: [C.holdingQonto], maxAgeMinutes: 0 };
    // 2 calls/min with a burst of 1 and no wait allowed: the listing takes the only slot, the PUT's is 60 s away.
    const rateBudget = createRateBudget({
      client: h.dynamo.doc,
      tableName: h.tableName,
      bucket: 'sandbox',
      callsPerMinute: 2,
      burst: 1,
      maxWaitMs: 0,
      now: () => h.clock.now.getTime(),
      deadline: () => undefined,
    });
    const limited = createPowensClient({
      baseUrl: h.sandbox.baseUrl,
      timeoutMs: 30_000,
      syncTimeoutMs: 60_000,
      rateBudget,
    });
    await expect(
      refreshBalances(input, { executionId: 'exec-rate' }, h.refreshDeps({ powens: limited })),
    ).rejects.toMatchObject({ name: 'RateLimited' });
    expect(rateBudget.refusedCount).toBe(1);
    expect(h.sandbox.requests.filter((r) => r.method === 'PUT')).toEqual([]);
    // Nothing reached the bank: no PSD2 slot spent, no request counted in the marker.
    const items = await h.scan();
    expect(items.filter((i) => String(i.sk).startsWith('SLOT#') && i.executionId === 'exec-rate')).toEqual([]);
    expect(items.find((i) => i.pk === 'EXEC#exec-rate')).not.toHaveProperty('pending');
    h.sandbox.clearRequests();

    const retry = await refreshBalances(input, { executionId: 'exec-rate' }, h.refreshDeps());
    expect(h.sandbox.requests.filter((r) => r.connectionId === C.holdingQonto).map((r) => r.method)).toEqual(['PUT']);
    expect(retry.connections).toEqual([expect.objectContaining({ outcome: 'synced', forcedSyncs: 1 })]);
    const slots = (await h.scan()).filter((i) => String(i.sk).startsWith('SLOT#') && i.executionId === 'exec-rate');
    expect(slots).toHaveLength(1);
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
    h.sandbox.faults.failNext('PUT', `/users/*/connections/${C.claireUbs}`, {
      kind: 'status',
      status: 404,
      code: 'notFound',
    });
    const out = await refreshBalances({ maxAgeMinutes: 0 }, { executionId: 'exec-perm' }, h.refreshDeps());
    expect(byConnection(out)[C.claireUbs]).toMatchObject({ outcome: 'failed', error: { name: 'NotFound' } });
    expect(out.summary).toEqual({ synced: 5, skipped: 0, needs_user_action: 1, failed: 1 });

    h.sandbox.faults.failNext('PUT', `/users/*/connections/${C.claireBnp}`, {
      kind: 'status',
      status: 403,
      code: 'forbidden',
    });
    await expect(
      refreshBalances(
        { connectionIds: [C.claireBnp], maxAgeMinutes: 0 },
        { executionId: 'exec-all-fail' },
        h.refreshDeps(),
      ),
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
    h.sandbox.faults.failNext('GET', `/users/${FAMILY_OFFICE_IDS.users.louis}/connections`, {
      kind: 'status',
      status: 401,
      code: 'invalidToken',
    });
    const out = await refreshBalances({ maxAgeMinutes: 0 }, { executionId: 'exec-401' }, h.refreshDeps());
    expect(out.connections.filter((c) => c.userId === FAMILY_OFFICE_IDS.users.louis)).toEqual([
      {
        userId: FAMILY_OFFICE_IDS.users.louis,
        outcome: 'failed',
        reason: 'connections_unavailable',
        error: expect.objectContaining({ name: 'Unauthenticated' }),
      },
    ]);
    expect(out.summary.synced).toBe(5);

    const h2 = await startHarness({ dynamo: dynamo() });
    try {
      h2.sandbox.faults.failNext('GET', '/users/*/connections', { kind: 'rateLimited', retryAfter: 5 });
      await expect(refreshBalances({}, { executionId: 'exec-429' }, h2.refreshDeps())).rejects.toMatchObject({
        name: 'RateLimited',
      });
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
    expect(out.connections).toEqual([
      expect.objectContaining({
        userId: FAMILY_OFFICE_IDS.users.holding,
        connectionId: C.holdingHsbc,
        outcome: 'synced',
      }),
    ]);
    expect(h.sandbox.requests.filter((r) => r.method === 'GET').map((r) => r.userId)).toEqual([
      FAMILY_OFFICE_IDS.users.holding,
    ]);
  });
});
