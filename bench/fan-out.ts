/**
 * `npm run bench:fan-out [-- --users 10,100,1000,10000 --concurrency 10,40]`: the fan-out (one seed execution per
 * user) run END TO END locally with `runLocalFanOut` at every size: the fan-out ASL as CDK synthesizes it, the real
 * bundles in their worker processes, DynamoDB (dynalite in its own process, bench/support.ts), the HTTP Powens sandbox
 * with 2 connections of 2 accounts per user and its webhooks. Nothing is modelled but the AWS wall time, labelled so.
 *
 * Time-scaled so the run is CPU-bound: sandbox syncs take 0 ms and Step Functions retry waits are scaled to 0. The
 * Powens budget is real (every call reserves a slot in DynamoDB) but configured large (CPU_BOUND_CALLS_PER_MINUTE), and
 * the sandbox enforces the same limit itself (429) as a referee; the peak calls in any 60 s window is reported
 * against it. A separate pair of runs at the local default of 600 calls/min shows the budget binding: the calls are
 * spread to the limit and no child is refused (RateLimited retries = extra child transitions = 0).
 *
 * Per run: fan-out and child transitions (retries included), Step Functions $ per user (bench/prices.ts), the
 * largest state the fan-out passes between states, the local wall time (setup: bundling, registering the users; and
 * the Map's span from the first child started to the last finished), the children's median duration, Powens calls,
 * their peak per 60 s, 429s and RateLimited retries, and the machine's load average (the machine may be shared).
 */
import '../infra/local/node-compat';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runLocalFanOut } from '../infra/local/fan-out';
import { defaultBurst, slotIntervalMs } from '../lambdas/core/adapters/powens/rate-budget';
import { LOCAL_SANDBOX_CALLS_PER_MINUTE } from '../infra/local/run';
import { costOf } from './prices';
import { BENCH_WORK_DIR, machineInfo, median, RESULTS_DIR, round, startDynamoDbProcess } from './support';

const PAGE_SIZE = 500;
/** Far above what this machine can call (≈ 2,000/min): the budget is exercised but never the bottleneck. */
const CPU_BOUND_CALLS_PER_MINUTE = 60_000;
const RESULTS_FILE = path.join(RESULTS_DIR, 'fan-out.json');

interface Run {
  users: number;
  maxConcurrency: number;
  configuredCallsPerMinute: number;
  status: string;
  fanOutTransitions: number;
  childTransitions: number;
  transitionsPerUser: number;
  stepFunctionsUsdPerUser: number;
  largestStateBytes: number;
  localWallSeconds: number;
  /** From the first child started to the last one finished. */
  mapSpanSeconds: number;
  childMedianMs: number;
  powensCalls: number;
  peakPowensCallsPer60s: number;
  http429: number;
  /** Child task failures named RateLimited (each one a Step Functions retry, i.e. an extra transition). */
  rateLimitedRetries: number;
  succeeded: number;
  failed: number;
  /** os.loadavg() (1, 5, 15 min) when the run started and ended: 2 cores, possibly shared. */
  loadAverage: { before: number[]; after: number[] };
}

/** Largest number of calls in any 60 s window (closed: stricter than Powens' half-open one). */
function peakPer60s(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] ?? Infinity) < (sorted[i] ?? 0) - 60_000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

const loadAverage = (): number[] => os.loadavg().map((l) => round(l, 2));

async function measure(users: number, maxConcurrency: number, callsPerMinute: number): Promise<Run> {
  const before = loadAverage();
  const dynamo = await startDynamoDbProcess();
  let calls: { at: number; status: number | undefined }[] = [];
  let rateLimitedRetries = 0;
  const started = Date.now();
  try {
    const result = await runLocalFanOut({
      sandboxUsers: users,
      maxConcurrency,
      pageSize: PAGE_SIZE,
      timeScale: 0,
      syncLatencyMs: 0,
      powensCallsPerMinute: callsPerMinute,
      sandboxCallsPerMinute: callsPerMinute,
      dynamodbEndpoint: dynamo.endpoint,
      workDir: path.join(BENCH_WORK_DIR, 'fan-out'),
      tableName: `fan-out-bench-${users}-${maxConcurrency}-${callsPerMinute}`,
      onProgress: (event) => {
        if (event.type === 'state-failed' && event.error === 'RateLimited') rateLimitedRetries += 1;
      },
      inspect: async ({ sandbox }) => {
        calls = (sandbox?.requests ?? []).map((r) => ({ at: Date.parse(r.at), status: r.status }));
      },
    });
    const localWallMs = Date.now() - started;
    if (result.status !== 'SUCCEEDED') {
      throw new Error(`fan-out of ${users} users failed: ${result.error} ${result.cause ?? ''}`);
    }
    const childTransitions = result.children.reduce((n, c) => n + c.transitions, 0);
    const transitions = result.transitions + childTransitions;
    const usd = costOf({
      transitions,
      lambdaRequests: 0,
      lambdaGbSeconds: 0,
      writeRequestUnits: 0,
      readRequestUnits: 0,
    }).total;
    const firstStart = Math.min(...result.children.map((c) => c.startedAt));
    const lastEnd = Math.max(...result.children.map((c) => c.startedAt + c.durationMs));
    return {
      users,
      maxConcurrency,
      configuredCallsPerMinute: callsPerMinute,
      status: result.status,
      fanOutTransitions: result.transitions,
      childTransitions,
      transitionsPerUser: round(transitions / users, 3),
      stepFunctionsUsdPerUser: round(usd / users, 8),
      largestStateBytes: result.largestStateBytes,
      localWallSeconds: round(localWallMs / 1000, 1),
      mapSpanSeconds: round((lastEnd - firstStart) / 1000, 1),
      childMedianMs: round(median(result.children.map((c) => c.durationMs)), 0),
      powensCalls: calls.length,
      peakPowensCallsPer60s: peakPer60s(calls.map((c) => c.at)),
      http429: calls.filter((c) => c.status === 429).length,
      rateLimitedRetries,
      succeeded: result.summary?.succeeded ?? 0,
      failed: result.summary?.failed ?? 0,
      loadAverage: { before, after: loadAverage() },
    };
  } finally {
    await dynamo.close();
  }
}

function listArg(name: string, fallback: number[]): number[] {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const values = (process.argv[index + 1] ?? '').split(',').map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new Error(`--${name} expects a comma-separated list of positive integers, e.g. --${name} 10,100`);
  }
  return values;
}

/**
 * AWS wall time, MODELLED (labelled so in the output): ceil(users / MaxConcurrency) rounds of one child each, a child
 * taking what the 10-user run measured (an unloaded child here), and never faster than the Powens rate budget lets the
 * calls through (its default burst at once, then one per slot interval: limit − burst per minute, not the limit).
 */
export function awsWallModel(runs: readonly Run[], powensCallsPerMinute: number) {
  const basis = runs.find((r) => r.users === 10 && r.configuredCallsPerMinute === CPU_BOUND_CALLS_PER_MINUTE);
  if (!basis) return undefined;
  const sizes = [...new Set(runs.map((r) => r.users))].sort((a, b) => a - b);
  const burst = defaultBurst(powensCallsPerMinute);
  const interval = slotIntervalMs(powensCallsPerMinute, burst);
  return {
    powensCallsPerMinute,
    childSeconds: round(basis.childMedianMs / 1000, 2),
    rows: sizes.map((users) => {
      const run = runs.find((r) => r.users === users) as Run;
      const budgetFloor = (Math.max(0, run.powensCalls - burst) * interval) / 1000;
      return {
        users,
        ...Object.fromEntries(
          [10, 40].map((c) => [
            `maxConcurrency${c}Seconds`,
            round(Math.max(Math.ceil(users / c) * (basis.childMedianMs / 1000), budgetFloor), 0),
          ]),
        ),
      };
    }),
  };
}

async function main(): Promise<void> {
  const sizes = listArg('users', [10, 100, 1_000, 10_000]);
  const concurrencies = listArg('concurrency', [10, 40]);
  const runs: Run[] = [];
  const budgetBinding: Run[] = [];
  const write = async () => {
    const out = {
      machine: machineInfo(), // its `date` is the run's date
      method:
        'Every row measured end to end: runLocalFanOut (fan-out ASL as CDK synthesizes it in aws-local-stepfunctions, ' +
        'the real Lambda bundles in worker processes, dynalite in its own process, the HTTP Powens sandbox with 2 ' +
        'connections × 2 accounts per user and its webhooks). Time-scaled: sandbox syncs 0 ms, Step Functions retry ' +
        `waits × 0. Powens budget: real slot reservations in DynamoDB, configured at ${CPU_BOUND_CALLS_PER_MINUTE} ` +
        'calls/min so the run is CPU-bound, with the sandbox enforcing the same limit (429); the peak is reported ' +
        `against that configured limit. budgetBinding: 100 users at ${LOCAL_SANDBOX_CALLS_PER_MINUTE} calls/min ` +
        '(the local default), where the budget is the bottleneck. Local wall times are this shared 2-core machine ' +
        '(load averages recorded per run), not AWS figures; awsWallModel is a MODEL. $ counts Step Functions ' +
        'transitions only (us-east-1 list price).',
      pageSize: PAGE_SIZE,
      runs,
      budgetBinding,
      awsWallModel: awsWallModel(runs, LOCAL_SANDBOX_CALLS_PER_MINUTE),
    };
    await mkdir(RESULTS_DIR, { recursive: true });
    await writeFile(RESULTS_FILE, `${JSON.stringify(out, null, 2)}\n`);
  };
  // The budget-binding pair first: short, and the largest sizes come last (a run cut short keeps what it measured).
  if (!process.argv.includes('--no-budget-binding')) {
    for (const concurrency of concurrencies) {
      const run = await measure(100, concurrency, LOCAL_SANDBOX_CALLS_PER_MINUTE);
      budgetBinding.push(run);
      console.log(`budget binding, 100 users @${concurrency}: ${JSON.stringify(run)}`);
      await write();
    }
  }
  for (const users of sizes) {
    for (const concurrency of concurrencies) {
      const run = await measure(users, concurrency, CPU_BOUND_CALLS_PER_MINUTE);
      runs.push(run);
      console.log(`${users} users @${concurrency}: ${JSON.stringify(run)}`);
      await write(); // a long run keeps what it measured so far
    }
  }
  console.table([...runs, ...budgetBinding].map(({ loadAverage: load, ...run }) => ({ ...run, load: load.before[0] })));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
