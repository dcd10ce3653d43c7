import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { createFamilyOfficeDataset, FAMILY_OFFICE_IDS } from '../../infra/local/powens-sandbox';
import { renderResult } from '../../infra/local/main';
import { runLocalRefresh, type LocalResources } from '../../infra/local/run';
import type { ProgressEvent } from '../../infra/local/execute';

const ROOT = path.resolve(__dirname, '../..');

/** Enabled accounts of the seeded family office: what every run must print and store. */
const dataset = createFamilyOfficeDataset();
const enabledAccounts = dataset.users.flatMap((user) =>
  user.connections.flatMap((c) => c.accounts.filter((a) => a.disabled === null && a.deleted === null)),
);

interface Stored {
  items: Record<string, unknown>[];
  /** Truth on the Powens side after the run: current balance per enabled account. */
  sandboxBalances: Map<string, { balance: number; currency: string }>;
}

async function readBack(resources: LocalResources): Promise<Stored> {
  const scan = await resources.dynamodb.send(new ScanCommand({ TableName: resources.tableName }));
  const items = (scan.Items ?? []).map((item) => unmarshall(item));
  const sandboxBalances = new Map<string, { balance: number; currency: string }>();
  for (const user of dataset.users) {
    for (const seed of user.connections) {
      for (const account of resources.sandbox?.accounts(seed.connection.id) ?? []) {
        if (account.disabled !== null || account.deleted !== null || account.balance === null) continue;
        sandboxBalances.set(String(account.id), { balance: account.balance, currency: account.currency?.id ?? '' });
      }
    }
  }
  return { items, sandboxBalances };
}

describe('npm start: the compiled state machine run locally end to end', () => {
  // Bundles, worker processes, dynalite and the sandbox: sized for a loaded 2-core CI, not for speed.
  jest.setTimeout(300_000);

  it('refreshes every seeded connection, stores and prints every balance and the totals per currency', async () => {
    let stored: Stored | undefined;
    const result = await runLocalRefresh({
      timeScale: 0,
      syncLatencyMs: 5,
      inspect: async (resources) => {
        stored = await readBack(resources);
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.attempts).toEqual({ 'refresh-balances': 1, 'fetch-balances': 1 });
    expect(result.transitions).toBe(2);
    // Webhooks first: Powens' own sync of the BNP connection arrived as a signed CONNECTION_SYNCED, so the refresh
    // left it alone (fresh); each forced sync was pushed too. Every delivery was verified and stored (200).
    const steps = (
      result.output as {
        steps: Record<
          string,
          { output: { connections: { connectionId?: number; reason?: string }[]; forcedSyncs: number } }
        >;
      }
    ).steps;
    const refresh = steps['refresh-balances']?.output;
    expect(refresh?.connections.find((c) => c.connectionId === FAMILY_OFFICE_IDS.connections.claireBnp)?.reason).toBe(
      'fresh',
    );
    expect(result.webhooks).toEqual({
      delivered: 1 + (refresh?.forcedSyncs ?? NaN),
      statuses: { '200': 1 + (refresh?.forcedSyncs ?? NaN) },
      autoSynced: [FAMILY_OFFICE_IDS.connections.claireBnp],
    });
    if (!stored) throw new Error('inspect hook did not run');

    // What was stored: one latest item per enabled account, equal to what Powens holds after the sync.
    const latest = stored.items.filter((item) => String(item.sk).startsWith('LATEST#'));
    expect(latest).toHaveLength(enabledAccounts.length);
    for (const item of latest) {
      const truth = stored.sandboxBalances.get(String(item.accountId));
      expect(truth).toBeDefined();
      expect(item.currentBalance).toBe(truth?.balance);
      expect(item.currency).toBe(truth?.currency);
    }
    const history = stored.items.filter((item) => String(item.pk).startsWith('ACCOUNT#'));
    expect(history).toHaveLength(enabledAccounts.length);
    // Users and tokens came from the user registry (local key), as in AWS: one item per user, ciphertext only.
    const registered = stored.items.filter((item) => String(item.pk).startsWith('USERS#'));
    expect(registered.map((item) => item.userId).sort()).toEqual(dataset.users.map((u) => u.id).sort());
    for (const user of dataset.users) expect(JSON.stringify(stored.items)).not.toContain(user.token);
    expect(history.every((item) => typeof item.expiresAt === 'number')).toBe(true);

    // What was printed: every account, the SCA connection flagged, totals per currency equal to Powens' truth.
    const printed = renderResult(result);
    for (const account of enabledAccounts) expect(printed).toMatch(new RegExp(`^${account.id}\\s`, 'm'));
    expect(printed).not.toMatch(new RegExp(`^${FAMILY_OFFICE_IDS.disabledAccount}\\s`, 'm'));
    expect(printed).toMatch(
      new RegExp(`^1002\\s+${FAMILY_OFFICE_IDS.scaRequiredConnection}\\s+needs_user_action\\s.*SCARequired`, 'm'),
    );
    // Positions: per currency AND class, computed here from Powens' truth in integer cents (types restated here).
    const CLASS_OF: Record<string, string> = {
      checking: 'cash',
      joint: 'cash',
      savings: 'cash',
      deposit: 'cash',
      card: 'card',
      loan: 'loan',
      unknown: 'unknown',
    };
    const typeOf = new Map(enabledAccounts.map((a) => [String(a.id), a.type]));
    const totals = new Map<string, number>();
    for (const [accountId, { balance, currency }] of stored.sandboxBalances) {
      const key = `${currency} ${CLASS_OF[typeOf.get(accountId) ?? ''] ?? 'investment'}`;
      totals.set(key, (totals.get(key) ?? 0) + Math.round(balance * 100));
    }
    expect([...totals.keys()].filter((k) => k.endsWith(' cash')).length).toBeGreaterThanOrEqual(3);
    for (const [key, cents] of totals) {
      const [currency, assetClass] = key.split(' ');
      const formatted = (cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      expect(printed).toMatch(
        new RegExp(`^${currency}\\s+${assetClass}\\s+\\d+\\s+${formatted.replace(/[.,]/g, '\\$&')}\\s`, 'm'),
      );
      const position = result.positions.find((p) => p.currency === currency && p.assetClass === assetClass);
      expect(position && Math.round(position.current * 100)).toBe(cents);
    }
    expect(result.positions).toHaveLength(totals.size);
    // Stale = the SCA-blocked connection's accounts, plus any balance older than the threshold (a connection the
    // refresh left to Powens' own imminent sync); freshly synced ones are not.
    const runAt = Date.parse(result.balances.map((b) => b.createdAt).sort()[0] ?? '');
    for (const b of result.balances) {
      const blocked = b.connectionId === String(FAMILY_OFFICE_IDS.scaRequiredConnection);
      const old = runAt - Date.parse(b.lastUpdatedAt) > result.maxAgeMinutes * 60_000;
      expect([b.accountId, b.stale]).toEqual([b.accountId, blocked || old]);
      if (blocked) expect(b.staleReasons).toContain('needs_user');
    }
    expect(result.balances.filter((b) => !b.stale).length).toBeGreaterThan(0);
    expect(printed).toMatch(/^3121\s.*STALE \(.*connection needs the account holder\)$/m);
    expect(printed).toMatch(/^EUR\s+cash\s.*STALE [1-9]\d*\/\d+$/m);
  });

  it('retries refresh-balances on injected Powens 503s exactly as the spec says and still ends correctly', async () => {
    const events: ProgressEvent[] = [];
    // maxAgeMinutes 0: 6 forceable connections; 12 faults fail the first two attempts entirely, the third succeeds.
    // Every re-send takes a new PSD2 slot (a 503 may come after the bank was reached): 3 of 4 per connection.
    const result = await runLocalRefresh({
      input: { maxAgeMinutes: 0 },
      timeScale: 0,
      syncLatencyMs: 1,
      faults: [{ method: 'PUT', path: '/users/*/connections/*', times: 12, fault: { kind: 'status', status: 503 } }],
      onProgress: (event) => events.push(event),
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.attempts['refresh-balances']).toBe(3);
    // Spec: exponential, delayMs 1000 → 1 s then 2 s (ASL IntervalSeconds 1, BackoffRate 2).
    expect(result.retryWaits['refresh-balances']).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'state-failed').map((e) => (e as { error: string }).error)).toEqual([
      'ServiceUnavailable',
      'ServiceUnavailable',
    ]);
    expect(result.transitions).toBe(4);
    // Each step's output, once, in its slot; every balance (no size cap).
    const { steps } = result.output as {
      steps: Record<string, { output: { balances?: unknown[]; summary?: unknown } }>;
    };
    expect(Object.keys(steps)).toEqual(['refresh-balances', 'fetch-balances']);
    expect(steps['fetch-balances']?.output.balances).toHaveLength(enabledAccounts.length);
    // The 6 forceable connections synced on the third attempt; the SCA-blocked one needs its holder.
    expect(steps['refresh-balances']?.output.summary).toEqual({
      synced: 6,
      skipped: 0,
      needs_user_action: 1,
      failed: 0,
    });
  });

  it('fails with the named error once retries are exhausted, without running the next step', async () => {
    const result = await runLocalRefresh({
      timeScale: 0,
      syncLatencyMs: 1,
      faults: [{ method: 'GET', path: '/users/*/accounts', times: 100, fault: { kind: 'status', status: 502 } }],
    });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('BadGateway');
    // fetch-balances: linear, maxAttempts 2 → 3 attempts, 1 s each (750 ms rounded up).
    expect(result.attempts['fetch-balances']).toBe(3);
    expect(result.retryWaits['fetch-balances']).toEqual([1, 1]);
  });

  it('the real `npm start` command prints the balances and exits 0', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'infra/local/main.ts', '--sync-latency-ms', '5'],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
    );
    expect(stdout).toContain('■ execution succeeded');
    for (const account of enabledAccounts) expect(stdout).toMatch(new RegExp(`^${account.id}\\s`, 'm'));
    expect(stdout).toMatch(/^Positions per currency and asset class/m);
    for (const currency of ['EUR', 'CHF', 'USD', 'GBP'])
      expect(stdout).toMatch(new RegExp(`^${currency}\\s+cash\\s+\\d+\\s`, 'm'));
  });

  it('`npm start -- --json` carries balances and positions (each balance with assetClass and stale) next to the execution fields', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'infra/local/main.ts', '--sync-latency-ms', '5', '--json'],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
    );
    const json = JSON.parse(stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      status: 'SUCCEEDED',
      executionName: expect.any(String),
      tableName: expect.any(String),
      output: expect.any(Object),
    });
    const balances = json.balances as { accountId: string; assetClass: string; stale: boolean }[];
    expect(balances.map((b) => b.accountId).sort()).toEqual(enabledAccounts.map((a) => String(a.id)).sort());
    for (const b of balances)
      expect(b).toEqual(expect.objectContaining({ assetClass: expect.any(String), stale: expect.any(Boolean) }));
    const positions = json.positions as Record<string, unknown>[];
    expect(new Set(positions.map((p) => p.assetClass))).toEqual(
      new Set(['cash', 'card', 'investment', 'loan', 'unknown']),
    );
    for (const p of positions) {
      expect(Object.keys(p).sort()).toEqual(
        ['accounts', 'assetClass', 'available', 'currency', 'current', 'oldestBalanceAt', 'staleAccounts'].sort(),
      );
    }
  }, 120_000);
});
