/** The CLI: two real spawns through tsx (≈1 s each), the rest in-process through main(). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../infra/compiler/cli';
import { compileWorkflow } from '../../../infra/compiler/compile';
import { stepFunctionsByOperation } from '../../../infra/specs/bindings';
import { refreshOpenBankingBalancesWorkflow } from '../../../infra/specs';

const ROOT = path.resolve(__dirname, '../../..');
/** tsx starts in ≈1 s idle; sized for a loaded 2-core machine (the test's own timeout is a little larger). */
const SPAWN_TIMEOUT_MS = 180_000;
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const dir = mkdtempSync(path.join(tmpdir(), 'workflow-cli-'));
const badSpec = path.join(dir, 'bad.json');
writeFileSync(
  badSpec,
  JSON.stringify({
    meta: { key: 'bad.spec', version: '1.0.0' },
    definition: {
      steps: [{ id: 'a', type: 'automation', label: 'a', action: { operation: { key: 'nope', version: '1.0.0' } } }],
      transitions: [],
    },
  }),
);

function spawnCli(args: string[]) {
  return spawnSync(TSX, ['infra/compiler/cli.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: SPAWN_TIMEOUT_MS });
}

async function runInProcess(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('workflow CLI (spawned)', () => {
  it(
    'asl <seed .ts> prints exactly the compiled json and exits 0',
    () => {
      const result = spawnCli(['asl', 'infra/specs/refresh-openbanking-balances.ts']);
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(
        `${compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() }).json}\n`,
      );
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );

  it(
    'validate <bad .json> lists the unbound operation and exits 1',
    () => {
      const result = spawnCli(['validate', badSpec]);
      expect(result.status).toBe(1);
      expect(result.stdout).toContain('ERROR [UNBOUND_OPERATION] definition.steps[0].action.operation');
      expect(result.stdout).toContain('which no function implements');
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );
});

describe('workflow CLI (in process)', () => {
  it('usage errors exit 2 with the usage text', async () => {
    for (const args of [[], ['frob', 'x.ts'], ['asl'], ['asl', 'x.json', '--no-match', 'maybe']]) {
      const r = await runInProcess(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('Usage: npm run -s workflow --');
    }
  });

  it('an unreadable spec says which path and why, exit 2', async () => {
    const missing = path.join(dir, 'missing.json');
    const r = await runInProcess(['asl', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toContain('ENOENT');
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ nope');
    const b = await runInProcess(['asl', broken]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/broken\.json is not valid JSON/);
  });

  it('asl on an invalid spec prints the issues on stderr and exits 1; --allow-unbound compiles it', async () => {
    const r = await runInProcess(['asl', badSpec]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('UNBOUND_OPERATION');
    const ok = await runInProcess(['diagram', badSpec, '--allow-unbound']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^flowchart TD\n/);
  });
});
