/**
import '../infra/local/node-compat';
 * `npm run bench:fan-out`: the fan-out (one seed execution per user) run locally with `runLocalFanOut` at 10 and 100
 * users (real bundles, dynalite, the Powens sandbox with 0 ms syncs, retries time-scaled to 0), then 1,000 and 10,000
 * users MODELLED from those measurements: running 10,000 real children on a shared 2-core machine takes longer than
 * the session allows. Every modelled figure is labelled `modelled` in the output and bench/results/fan-out.json.
 *
 * Measured per run: fan-out and child state transitions, the largest state the fan-out passes between states, the
 * children's durations, Lambda requests and billed GB-s, Powens calls and the peak in any 60 s window.
 * Modelled: transitions per user (from the machine's shape: NextPage + Choice per page of FANOUT_PAGE_SIZE, one Map
 * state per page, one task per user, Done; children as measured), $ per user (bench/prices.ts), and AWS wall time at
 * MaxConcurrency 10 and 40 = ceil(users / concurrency) × the measured median child duration, bounded below by the
 * Powens budget (calls / calls-per-minute). Local wall time is reported as measured, not as an AWS figure.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runLocalFanOut } from '../infra/local/fan-out';
import { LOCAL_SANDBOX_CALLS_PER_MINUTE } from '../infra/local/run';
import { costOf } from './prices';
import { BENCH_WORK_DIR, machineInfo, median, RESULTS_DIR, round } from './support';

const PAGE_SIZE = 500;
const CONCURRENCIES = [10, 40] as const;

interface Measured {
  users: number;
  maxConcurrency: number;
  localWallMs: number;
  fanOutTransitions: number;
  childTransitions: number;
  largestStateBytes: number;
  childMedianMs: number;
  powensCalls: number;
  peakPowensCallsPerMinute: number;
  succeeded: number;
}

function peakPerMinute(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] ?? 0) - (sorted[j] ?? 0) >= 60_000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

async function measure(users: number, maxConcurrency: number): Promise<Measured> {
  let calls: number[] = [];
  const started = Date.now();
  const result = await runLocalFanOut({
    sandboxUsers: users,
    maxConcurrency,
    timeScale: 0,
    syncLatencyMs: 0,
    workDir: path.join(BENCH_WORK_DIR, 'fan-out'),
    tableName: `fan-out-bench-${users}-${maxConcurrency}`,
    inspect: async ({ sandbox }) => {
      calls = (sandbox?.requests ?? []).map((r) => Date.parse(r.at));
    },
  });
  if (result.status !== 'SUCCEEDED')
    throw new Error(`fan-out of ${users} users failed: ${result.error} ${result.cause ?? ''}`);
  return {
    users,
    maxConcurrency,
    localWallMs: Date.now() - started,
    fanOutTransitions: result.transitions,
    childTransitions: result.children.reduce((n, c) => n + c.transitions, 0),
    largestStateBytes: result.largestStateBytes,
    childMedianMs: median(result.children.map((c) => c.durationMs)),
    powensCalls: calls.length,
    peakPowensCallsPerMinute: peakPerMinute(calls),
    succeeded: result.summary?.succeeded ?? 0,
  };
}

/** Fan-out transitions for n users: per page NextPage + Choice + Map + one task per user; a final NextPage + Choice + Done. */
const fanOutTransitionsFor = (users: number): number => Math.ceil(users / PAGE_SIZE) * 3 + users + 3;

async function main(): Promise<void> {
  const measured: Measured[] = [];
  for (const [users, concurrency] of [
    [10, 10],
    [100, 10],
    [100, 40],
  ] as const) {
    const m = await measure(users, concurrency);
    measured.push(m);
    console.log(`measured ${users} users @${concurrency}: ${JSON.stringify(m)}`);
  }
  const basis = measured.find((m) => m.users === 100 && m.maxConcurrency === 10) as Measured;
  const childTransitionsPerUser = basis.childTransitions / basis.users;
  const callsPerUser = basis.powensCalls / basis.users;
  const rows = [10, 100, 1_000, 10_000].map((users) => {
    const real = measured.find((m) => m.users === users && m.maxConcurrency === 10);
    if (real && real.fanOutTransitions !== fanOutTransitionsFor(users)) {
      throw new Error(
        `transition model ${fanOutTransitionsFor(users)} ≠ measured ${real.fanOutTransitions} at ${users} users`,
      );
    }
    const transitions = fanOutTransitionsFor(users) + childTransitionsPerUser * users;
    // Lambda: NextPage per page + 2 step functions per child; GB-s not measured here (see orchestration bench), so $ counts transitions only.
    const usd = costOf({
      transitions,
      lambdaRequests: 0,
      lambdaGbSeconds: 0,
      writeRequestUnits: 0,
      readRequestUnits: 0,
    }).total;
    const budgetFloorMs = ((callsPerUser * users) / LOCAL_SANDBOX_CALLS_PER_MINUTE) * 60_000;
    const wall = Object.fromEntries(
      CONCURRENCIES.map((c) => [
        `c${c}`,
        round(Math.max(Math.ceil(users / c) * basis.childMedianMs, budgetFloorMs) / 1000, 1),
      ]),
    );
    return {
      users,
      source: real ? 'measured' : 'modelled',
      transitions: round(transitions, 0),
      transitionsPerUser: round(transitions / users, 2),
      stepFunctionsUsdPerUser: round(usd / users, 7),
      // The largest state is one page of ids and results: it grows with the page, up to FANOUT_PAGE_SIZE, then stays flat.
      largestStateBytes: real
        ? real.largestStateBytes
        : `≈ ${Math.round((basis.largestStateBytes * Math.min(users, PAGE_SIZE)) / basis.users)} (modelled: one page of ${Math.min(users, PAGE_SIZE)} users)`,
      modelledAwsWallSeconds: wall,
      powensCallsPerMinutePeak: real
        ? real.peakPowensCallsPerMinute
        : `≤ ${LOCAL_SANDBOX_CALLS_PER_MINUTE} (modelled: the rate budget)`,
      configuredCallsPerMinute: LOCAL_SANDBOX_CALLS_PER_MINUTE,
    };
  });
  const out = {
    machine: machineInfo(),
    date: new Date().toISOString(),
    method:
      '10 and 100 users measured (runLocalFanOut, sandbox syncs 0 ms, retries time-scaled to 0); 1,000 and 10,000 modelled from ' +
      'the 100-user run. Wall times are modelled for AWS: ceil(users / MaxConcurrency) × measured median child duration, ' +
      'at least calls / the Powens budget. $ counts Step Functions transitions only (us-east-1 list price).',
    measured,
    rows,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(path.join(RESULTS_DIR, 'fan-out.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.table(rows.map((r) => ({ ...r, modelledAwsWallSeconds: JSON.stringify(r.modelledAwsWallSeconds) })));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
