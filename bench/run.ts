/**
 * `npm run bench`: every benchmark, side by side in one run on this machine, results in bench/results/*.json and a
 * compact summary on stdout. See bench/README.md for what each number means and its caveats.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runColdStart, type ColdStartResult } from './cold-start';
import { runStorage, STORAGE_TARGETS, type StorageResult } from './storage';
import { defaultScenarios, prepareBundles, runOrchestration, type OrchestrationResult } from './orchestration';
import { runScaling, type ScalingResult } from './scaling';
import { renderRows } from '../infra/text-table';
import { BENCH_WORK_DIR, elapsed, machineInfo, RESULTS_DIR, round, type MachineInfo } from './support';

export interface BenchConfig {
  coldStartRuns: number;
  storageSizes: number[];
  scalingUsers: number[];
}

export const FULL_CONFIG: BenchConfig = {
  coldStartRuns: 20,
  storageSizes: [100, 1_000, 10_000],
  scalingUsers: [1, 10, 100],
};

const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
const usd = (value: number): string => `$${value < 0.01 ? value.toFixed(4) : value.toFixed(3)}`;

/** First column left-aligned (names), numbers right-aligned. */
const table = (headers: string[], rows: (string | number)[][]): string =>
  renderRows(headers, rows, { align: (i) => (i === 0 ? 'left' : 'right') });

export function summarizeColdStart(result: ColdStartResult): string {
  const t = result.targets;
  const f = result.floor;
  return [
    `COLD START — median (p90) of ${result.runsPerVariant} fresh node processes; targets ≤ ${t.maxBundleKb} KB, ≤ ${t.maxImportMs} ms, ≥ ${t.minSpeedup}× unbundled`,
    `floor (empty handler + DynamoDB client): ${f.kb} KB, ${f.importMs.median} ms (${f.importMs.p90}); ${f.withSourceMapsImportMs.median} ms with source maps`,
    table(
      [
        'handler',
        'bundle KB',
        'import ms',
        '+maps ms',
        '× floor KB/ms',
        'unbundled ms',
        'speedup',
        'size',
        'import',
        'speedup',
      ],
      result.handlers.map((h) => [
        h.id,
        h.bundle.kb,
        `${h.bundledImportMs.median} (${h.bundledImportMs.p90})`,
        h.bundledWithSourceMapsImportMs.median,
        `${h.vsFloor.bytes} / ${h.vsFloor.importMs}`,
        `${h.unbundledImportMs.median} (${h.unbundledImportMs.p90})`,
        `${h.speedup}×`,
        pass(h.targets.bundleKb),
        pass(h.targets.importMs),
        pass(h.targets.speedup),
      ]),
    ),
  ].join('\n');
}

export function summarizeStorage(result: StorageResult): string {
  const t = STORAGE_TARGETS;
  const last = result.cases[result.cases.length - 1];
  const lastAt = last?.atLatency;
  const latencyCases = result.cases.filter((c) => c.atLatency !== undefined);
  const verdicts = last
    ? `targets at ${t.latencyMs} ms (default store settings): ${last.accounts} accounts ≤ ${t.maxSecondsAt10k} s: ` +
      (lastAt
        ? `${pass(lastAt.storeWriteMs <= t.maxSecondsAt10k * 1000)} (${round(lastAt.storeWriteMs / 1000, 2)} s)`
        : 'not run') +
      ` · ≥ ${t.minSpeedupVsNaive}× sequential naive: ` +
      (latencyCases.length > 0
        ? pass(latencyCases.every((c) => (c.atLatency?.speedupVsNaiveSequential ?? 0) >= t.minSpeedupVsNaive))
        : 'not run') +
      ` · requests at floor: ${pass(result.cases.every((c) => c.atFloor))}`
    : '';
  const c = result.storeSettings.latestConcurrency;
  const higher = result.cases.find((x) => x.atLatency?.higherConcurrency)?.atLatency?.higherConcurrency
    ?.latestConcurrency;
  return [
    `STORAGE — fetch-balances → balance store on dynalite (separate process); latest concurrency ${c}, ${result.storeSettings.historyBatchesInFlight} batches in flight`,
    table(
      [
        'accounts',
        'fetch ms',
        'store ms',
        'acc/s',
        'requests',
        'floor',
        'naive seq ms',
        `naive ×${c} ms`,
        'vs seq',
        `vs ×${c}`,
      ],
      result.cases.map((x) => [
        x.accounts,
        x.fetchMs,
        x.storeWriteMs,
        x.accountsPerSecond,
        `${x.store.byCommand.BatchWriteItem ?? 0} BWI + ${x.store.byCommand.PutItem ?? 0} Put`,
        `${x.requestFloor.batchWriteItem} + ${x.requestFloor.putItem}`,
        x.naive.sequentialMs ?? '—',
        x.naive.concurrentMs,
        x.speedupVsNaiveSequential === undefined ? '—' : `${x.speedupVsNaiveSequential}×`,
        `${x.speedupVsNaiveConcurrent}×`,
      ]),
    ),
    ...(latencyCases.length === 0
      ? []
      : [
          `behind the latency proxy (${latencyCases[0]?.atLatency?.latencyMs} ms per request):`,
          table(
            [
              'accounts',
              'store ms',
              'naive seq ms',
              'vs seq',
              ...(higher === undefined ? [] : [`store ×${higher} ms`, 'vs seq']),
            ],
            latencyCases.map((x) => {
              const at = x.atLatency as NonNullable<typeof x.atLatency>;
              const ratio = (r: number | undefined) => (r === undefined ? '—' : `${r}×`);
              return [
                x.accounts,
                at.storeWriteMs,
                at.naiveSequentialMs ?? '—',
                ratio(at.speedupVsNaiveSequential),
                ...(at.higherConcurrency === undefined
                  ? []
                  : [at.higherConcurrency.storeWriteMs, ratio(at.higherConcurrency.speedupVsNaiveSequential)]),
              ];
            }),
          ),
        ]),
    verdicts,
  ].join('\n');
}

export function summarizeOrchestration(result: OrchestrationResult): string {
  return [
    `ORCHESTRATION — one refresh execution, ${result.region} list prices (bench/prices.ts); $ per 1,000 refreshes`,
    table(
      [
        'scenario',
        'status',
        'wall ms',
        'transitions',
        'λ calls',
        'billed ms',
        'GB-s',
        'WRU',
        'RRU',
        'Powens',
        'retry waits s',
        '$/1000',
        '+init',
      ],
      result.scenarios.map((s) => [
        `${s.scenario.name} (${s.scenario.users}u×${s.scenario.connectionsPerUser}c)`,
        s.status,
        s.wallMs,
        s.transitions,
        s.lambda.invocations,
        s.lambda.billedMs,
        round(s.lambda.gbSeconds, 4),
        s.dynamodb.writeRequestUnits,
        s.dynamodb.readRequestUnits,
        s.powens.calls,
        Object.values(s.retryWaitsSeconds).flat().join(',') || '—',
        usd(s.costPer1000.total),
        usd(s.costPer1000WithInit.total),
      ]),
    ),
  ].join('\n');
}

export function summarizeScaling(result: ScalingResult): string {
  const l = result.limits;
  return [
    'SCALING — one execution for all users, 3 connections × 3 accounts each, sync latency 0 (* = extrapolated)',
    table(
      [
        'users',
        'conns',
        'transitions',
        'λ billed ms',
        'GB-s',
        'WRU',
        'Powens',
        'largest state KB',
        '$/1000',
        '$/user/1000',
      ],
      result.rows.map((r) => [
        `${r.users}${r.measured ? '' : '*'}`,
        r.connections,
        r.transitions,
        r.lambdaBilledMs,
        round(r.lambdaGbSeconds, 3),
        r.writeRequestUnits,
        r.powensCalls,
        round(r.largestStateBytes / 1024, 1),
        usd(r.costPer1000Usd),
        usd(r.costPerUserPer1000Usd),
      ]),
    ),
    `growth 10→100 users: ${Object.entries(result.growth)
      .map(([k, g]) => `${k} ×${g.ratio10to100} ${g.growth}`)
      .join(', ')}`,
    `limits: 256 KB state payload reached at ≈ ${l.usersAtPayloadLimit ?? 'n/a'} users; refresh-balances ${l.refreshLambdaTimeoutSeconds} s timeout at ${l.assumedSyncLatencySeconds} s/sync × ${l.refreshSyncConcurrency} ` +
      `in flight ≈ ${l.maxConnectionsPerExecution} connections (${l.maxUsersPerExecution} users); PSD2 ${l.psd2UnattendedSyncsPerConnectionPerDay} unattended syncs/connection/day; ` +
      `Powens sandbox ${l.powensSandboxCallsPerMinute} calls/min → ${l.minutesPerRefreshAt1000UsersUnderSandboxLimit} min per 1,000-user refresh`,
  ].join('\n');
}

async function writeResult(name: string, machine: MachineInfo, durationMs: number, result: object): Promise<void> {
  const file = path.join(RESULTS_DIR, `${name}.json`);
  await writeFile(
    file,
    `${JSON.stringify({ benchmark: name, machine, durationMs: round(durationMs), ...result }, null, 2)}\n`,
  );
}

export const SECTIONS = ['cold-start', 'storage', 'orchestration', 'scaling'] as const;
export type Section = (typeof SECTIONS)[number];

/** `npm run bench -- [section...]`: the named sections only (default all), e.g. to redo one after a change. */
export function parseSections(argv: readonly string[]): Section[] {
  const unknown = argv.filter((a) => !(SECTIONS as readonly string[]).includes(a));
  if (unknown.length > 0)
    throw new Error(`unknown bench section(s) ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}`);
  return argv.length === 0 ? [...SECTIONS] : (argv as Section[]);
}

export async function runAll(config: BenchConfig = FULL_CONFIG, only: readonly Section[] = SECTIONS): Promise<string> {
  // The SDK's "Node 20" notice would interleave with the summary; the bench knows which Node it runs on.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const machine = machineInfo();
  const started = performance.now();
  await mkdir(RESULTS_DIR, { recursive: true });
  const sections: string[] = [];
  const log = (message: string): void => void process.stderr.write(`[bench] ${message}\n`);

  let t = performance.now();
  if (only.includes('cold-start')) {
    log(`cold start (${config.coldStartRuns} runs per variant)…`);
    const coldStart = await runColdStart({ runs: config.coldStartRuns });
    await writeResult('cold-start', machine, elapsed(t), coldStart);
    sections.push(summarizeColdStart(coldStart));
  }

  if (only.includes('storage')) {
    log(`storage (${config.storageSizes.join(', ')} accounts)…`);
    t = performance.now();
    const storage = await runStorage({ sizes: config.storageSizes });
    await writeResult('storage', machine, elapsed(t), storage);
    sections.push(summarizeStorage(storage));
  }

  const bundles = only.includes('orchestration') || only.includes('scaling') ? await prepareBundles() : undefined;
  let orchestration: OrchestrationResult | undefined;
  if (bundles && only.includes('orchestration')) {
    log('orchestration (happy 0 s, happy 8 s real wait, 2 retries)…');
    t = performance.now();
    orchestration = await runOrchestration(defaultScenarios(), bundles);
    await writeResult('orchestration', machine, elapsed(t), orchestration);
    sections.push(summarizeOrchestration(orchestration));
  }

  if (bundles && only.includes('scaling')) {
    log(`scaling (${config.scalingUsers.join(', ')} users)…`);
    t = performance.now();
    const eightSeconds = orchestration?.scenarios.find((s) => s.scenario.syncLatencyMs === 8_000);
    const scaling = await runScaling(bundles, {
      users: config.scalingUsers,
      assumedSyncLatencySeconds: eightSeconds ? eightSeconds.scenario.syncLatencyMs / 1000 : 8,
    });
    await writeResult('scaling', machine, elapsed(t), scaling);
    sections.push(summarizeScaling(scaling));
  }

  await rm(BENCH_WORK_DIR, { recursive: true, force: true });
  const total = round(elapsed(started) / 1000, 1);
  const header =
    `openbanking-workflows bench — ${machine.date}\n` +
    `machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB, node ${machine.node}, ${machine.platform}\n` +
    `total bench wall time: ${total} s · results: ${only.map((name) => `bench/results/${name}.json`).join(', ')}`;
  return [header, ...sections].join('\n\n');
}

if (require.main === module) {
  Promise.resolve()
    .then(() => runAll(FULL_CONFIG, parseSections(process.argv.slice(2))))
    .then((summary) => {
      process.stdout.write(`${summary}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(
        `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    });
}
