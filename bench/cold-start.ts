/**
 * Cold start: for every deployed handler, the size of the bundle CDK deploys and the time a fresh Node process takes
 * to import it, next to the same handler loaded unbundled (each TypeScript file transpiled on its own, dependencies
 * resolved from node_modules as a zip of node_modules would). Module import is what Lambda's INIT phase spends on
 * our code; the runtime's own bootstrap is not modelled.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildLambda, PROJECT_ROOT } from '../infra/bundling';
import { STEP_FUNCTIONS } from '../infra/specs/bindings';
import { ENV } from '../lambdas/core/env-names';
import { BENCH_WORK_DIR, elapsed, round, summarize, type Summary } from './support';

export const COLD_START_TARGETS = { maxBundleKb: 250, maxImportMs: 30, minSpeedup: 2 } as const;

/** An otherwise empty handler making one DynamoDB call, bundled the same way: what no handler can beat. */
export const FLOOR_HANDLER: HandlerUnderTest = { id: 'Floor', entry: 'bench/floor-handler.ts' };

export interface HandlerUnderTest {
  id: string;
  entry: string;
}

/** The refresh API Lambda (infra/stack.ts RefreshApiFunction) is deployed by the same bundling as the step functions. */
export const REFRESH_API_HANDLER: HandlerUnderTest = { id: 'RefreshApi', entry: 'lambdas/api/handler.ts' };

export function deployedHandlers(): HandlerUnderTest[] {
  return [...STEP_FUNCTIONS.map(({ id, entry }) => ({ id, entry })), REFRESH_API_HANDLER];
}

export interface ColdStartOptions {
  /** Fresh processes per variant (≥ 10 for the report). */
  runs: number;
  handlers?: HandlerUnderTest[];
  workDir?: string;
}

export interface HandlerColdStart {
  id: string;
  entry: string;
  bundle: { bytes: number; kb: number; sourceMapBytes: number; largestInputs: { path: string; kb: number }[] };
  /** performance.now() around `await import(file)` inside the fresh process. */
  bundledImportMs: Summary;
  unbundledImportMs: Summary;
  /** Whole process wall time (spawn → exit) minus the median of a probe process that imports nothing. */
  bundledProcessMs: Summary;
  unbundledProcessMs: Summary;
  /**
   * The same bundle imported with NODE_OPTIONS=--enable-source-maps (Node then reads and parses the .map at import):
   * what source maps would cost in AWS, where NodeFunction leaves them off.
   */
  bundledWithSourceMapsImportMs: Summary;
  /** The whole transpiled lambdas/ tree (not only what this handler loads). */
  unbundled: { files: number; kb: number };
  /** unbundled median import ÷ bundled median import. */
  speedup: number;
  /** This handler ÷ the floor (FLOOR_HANDLER): bytes and median import. */
  vsFloor: { bytes: number; importMs: number };
  targets: { bundleKb: boolean; importMs: boolean; speedup: boolean };
}

export interface ColdStartResult {
  method: string;
  runsPerVariant: number;
  targets: typeof COLD_START_TARGETS;
  /** Wall time of the probe process importing nothing (subtracted from the process figures). */
  emptyProcessMs: Summary;
  /** FLOOR_HANDLER bundled: an empty handler with the DynamoDB client (one GetItem). */
  floor: { bytes: number; kb: number; importMs: Summary; withSourceMapsImportMs: Summary };
  handlers: HandlerColdStart[];
}

const PROBE = path.join(__dirname, 'import-probe.mjs');

/**
 * Values the handlers would find in AWS, so module-scope code (refresh-api parses its config at import) runs as it
 * does there. Nothing is contacted: clients are created, not used.
 */
export function coldStartEnvironment(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_SERVICE_NAME: 'bench',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_NAMESPACE: 'Bench',
    POWERTOOLS_METRICS_DISABLED: 'true',
    [ENV.tableName]: 'openbanking-balances-bench',
    [ENV.tenantId]: 'bench',
    [ENV.powensBaseUrl]: 'http://127.0.0.1:9/2.0',
    [ENV.powensSecretFile]: '/dev/null',
    [ENV.stateMachineArn]: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench',
    [ENV.fanOutStateMachineArn]: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench-fan-out',
    [ENV.cursorSecretId]: 'bench-cursor-key',
  };
}

interface ProbeRun {
  importMs: number;
  processMs: number;
}

function probe(target: string | undefined, env: Record<string, string>): Promise<ProbeRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, target === undefined ? [PROBE] : [PROBE, target], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const processMs = elapsed(started);
      if (code !== 0) {
        reject(
          new Error(`import probe of ${target ?? '(nothing)'} exited with ${code}: ${stderr.trim().slice(0, 2000)}`),
        );
        return;
      }
      try {
        const { importMs } = JSON.parse(stdout) as { importMs: number };
        resolve({ importMs, processMs });
      } catch {
        reject(
          new Error(
            `import probe of ${target ?? '(nothing)'} printed no result: ${JSON.stringify(stdout.slice(0, 200))}`,
          ),
        );
      }
    });
  });
}

async function listTypeScript(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listTypeScript(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(full);
  }
  return files;
}

/**
 * Transpiles every file under lambdas/ one by one (esbuild transform, no bundling) to CommonJS next to a copy of the
 * tree: relative imports stay extensionless, which CommonJS resolves and ESM would not. Dependencies stay in
 * node_modules (ESM-only @middy/core loads through Node's require(esm)).
 */
export async function transpileUnbundled(outDir: string): Promise<{ root: string; files: number; bytes: number }> {
  const esbuild = await import('esbuild');
  const sourceRoot = path.join(PROJECT_ROOT, 'lambdas');
  await rm(outDir, { recursive: true, force: true });
  let bytes = 0;
  const files = await listTypeScript(sourceRoot);
  for (const file of files) {
    const source = await readFile(file, 'utf8');
    const result = await esbuild.transform(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node22',
      sourcefile: path.relative(PROJECT_ROOT, file),
    });
    const out = path.join(outDir, 'lambdas', path.relative(sourceRoot, file)).replace(/\.ts$/, '.js');
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, result.code);
    bytes += Buffer.byteLength(result.code);
  }
  return { root: outDir, files: files.length, bytes };
}

async function sizeOf(file: string): Promise<number> {
  return (await stat(file)).size;
}

export async function runColdStart(options: ColdStartOptions): Promise<ColdStartResult> {
  if (!Number.isInteger(options.runs) || options.runs < 1)
    throw new RangeError(`runs must be an integer ≥ 1, got ${options.runs}`);
  const workDir = options.workDir ?? path.join(BENCH_WORK_DIR, 'cold-start');
  const handlers = options.handlers ?? deployedHandlers();
  const env = coldStartEnvironment();

  const built = [];
  for (const handler of handlers) {
    const bundle = await buildLambda(handler.entry, path.join(workDir, 'bundles', handler.id));
    built.push({ handler, bundle, bundleBytesOnDisk: await sizeOf(bundle.outfile) });
  }
  const floorBundle = await buildLambda(FLOOR_HANDLER.entry, path.join(workDir, 'bundles', FLOOR_HANDLER.id));
  const unbundled = await transpileUnbundled(path.join(workDir, 'unbundled'));
  const unbundledEntry = (entry: string): string => path.join(unbundled.root, entry.replace(/\.ts$/, '.js'));
  const envWithSourceMaps = { ...env, NODE_OPTIONS: '--enable-source-maps' };

  // Interleaved rounds (empty, floor, then each handler's variants) so machine noise spreads over all variants.
  const empty: number[] = [];
  const floor = { bundled: [] as number[], withMaps: [] as number[] };
  const samples = new Map<string, Record<'bundled' | 'unbundled' | 'withMaps', ProbeRun[]>>(
    handlers.map((h) => [h.id, { bundled: [], unbundled: [], withMaps: [] }]),
  );
  await probe(undefined, env); // warms the OS file cache for node itself; not recorded
  for (let run = 0; run < options.runs; run++) {
    empty.push((await probe(undefined, env)).processMs);
    floor.bundled.push((await probe(floorBundle.outfile, env)).importMs);
    floor.withMaps.push((await probe(floorBundle.outfile, envWithSourceMaps)).importMs);
    for (const { handler, bundle } of built) {
      const sample = samples.get(handler.id);
      if (!sample) continue;
      sample.bundled.push(await probe(bundle.outfile, env));
      sample.withMaps.push(await probe(bundle.outfile, envWithSourceMaps));
      sample.unbundled.push(await probe(unbundledEntry(handler.entry), env));
    }
  }
  const emptyProcessMs = summarize(empty);
  const floorImportMs = summarize(floor.bundled);
  const floorBytes = await sizeOf(floorBundle.outfile);

  const results: HandlerColdStart[] = built.map(({ handler, bundle, bundleBytesOnDisk }) => {
    const sample = samples.get(handler.id) ?? { bundled: [], unbundled: [], withMaps: [] };
    const bundledImportMs = summarize(sample.bundled.map((r) => r.importMs));
    const unbundledImportMs = summarize(sample.unbundled.map((r) => r.importMs));
    const kb = round(bundleBytesOnDisk / 1024, 1);
    const speedup = round(unbundledImportMs.median / bundledImportMs.median, 2);
    return {
      id: handler.id,
      entry: handler.entry,
      bundle: {
        bytes: bundleBytesOnDisk,
        kb,
        sourceMapBytes: bundle.sourceMapBytes,
        largestInputs: bundle.inputs
          .slice(0, 5)
          .map((input) => ({ path: input.path, kb: round(input.bytes / 1024, 1) })),
      },
      bundledImportMs,
      unbundledImportMs,
      bundledProcessMs: summarize(sample.bundled.map((r) => r.processMs - emptyProcessMs.median)),
      unbundledProcessMs: summarize(sample.unbundled.map((r) => r.processMs - emptyProcessMs.median)),
      bundledWithSourceMapsImportMs: summarize(sample.withMaps.map((r) => r.importMs)),
      unbundled: { files: unbundled.files, kb: round(unbundled.bytes / 1024, 1) },
      speedup,
      vsFloor: {
        bytes: round(bundleBytesOnDisk / floorBytes, 2),
        importMs: round(bundledImportMs.median / floorImportMs.median, 2),
      },
      targets: {
        bundleKb: kb <= COLD_START_TARGETS.maxBundleKb,
        importMs: bundledImportMs.median <= COLD_START_TARGETS.maxImportMs,
        speedup: speedup >= COLD_START_TARGETS.minSpeedup,
      },
    };
  });

  return {
    method:
      `Each variant imported in ${options.runs} fresh \`node\` processes (${process.version}), rounds interleaved. ` +
      'importMs: performance.now() around `await import(file)` inside the process. processMs: spawn-to-exit wall ' +
      'time minus the median of the same probe importing nothing. Bundled = infra/bundling.ts buildLambda output ' +
      '(what CDK deploys: the AWS SDK bundled, its credential chain reduced to environment variables). Unbundled = ' +
      'every lambdas/**/*.ts transpiled alone by esbuild transform to CommonJS, dependencies from node_modules. ' +
      'Environment as in AWS (no NODE_OPTIONS; also measured with --enable-source-maps). Floor = ' +
      `${FLOOR_HANDLER.entry} bundled the same way (one DynamoDB client and command, nothing else).`,
    runsPerVariant: options.runs,
    targets: COLD_START_TARGETS,
    emptyProcessMs,
    floor: {
      bytes: floorBytes,
      kb: round(floorBytes / 1024, 1),
      importMs: floorImportMs,
      withSourceMapsImportMs: summarize(floor.withMaps),
    },
    handlers: results,
  };
}
