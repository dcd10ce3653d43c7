/**
 * THE definition of how a Lambda is bundled. CDK's NodejsFunction (LAMBDA_BUNDLING) and the local runner /
 * benchmarks (bundleLambda → esbuild.build) read the same constants, so what is measured or run locally is the code
 * that is deployed: CDK passes these as esbuild CLI flags, bundleLambda as the equivalent JS API options
 * (test/unit/infra/bundling.test.ts proves the two outputs are byte-identical).
 *
 * Format: ESM (`index.mjs`). @middy/core 6 ships ESM only and powertools/SDK ship ESM builds, so ESM lets esbuild
 * tree-shake them instead of bundling CommonJS wrappers, and the handler may use top-level await for cold-start work
 * if a later change wants it. ESM has no `require`, yet a few CommonJS dependencies call `require('node:…')` for
 * built-ins at run time; the banner gives them a real one (the documented esbuild/CDK pattern).
 *
 * The AWS SDK is bundled, not external (bench/cold-start.ts, fresh `node` process, median of 10, 2-core machine):
 * importing the runtime-style external SDK as ESM from node_modules costs 65–74 ms on its own (hundreds of files,
 * each resolved, read and run through the CommonJS export lexer), more than the whole ≤ 40 ms budget. Pre-linked
 * into the bundle the same clients import in ~40 ms total (step handlers 72 KB / ~73 ms external → 437 KB / ~39 ms
 * bundled; RefreshApi 54 KB / ~86 ms → 410 KB / ~43 ms). Cost: the bundle exceeds the 250 KB size target (zip
 * ≈ ⅓ of that; Lambda's limit is 250 MB unzipped) — accepted, because the time, not the bytes, is what INIT bills.
 * Bonus: the SDK version is our lock file's, tested locally, not whatever the runtime ships that week.
 * Measured and rejected: CommonJS output (with the SDK external: ~60–67 ms, still the SDK's per-file cost; with the
 * SDK bundled: ~100 ms, slower than ESM because esbuild then wraps each ESM dependency in lazy-init closures).
 */
import path from 'node:path';
import type { BuildOptions } from 'esbuild';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** Lambda runtime major version; the construct's Runtime.NODEJS_22_X and the esbuild target follow it. */
export const LAMBDA_NODE_MAJOR = 22;
export const ESBUILD_TARGET = `node${LAMBDA_NODE_MAJOR}`;
/** File name CDK's NodejsFunction writes for ESM output; the Lambda handler is `index.handler`. */
export const BUNDLE_FILE = 'index.mjs';
/** Nothing external: see the header (bundling the SDK halves the cold-start import). */
export const EXTERNAL_MODULES: readonly string[] = [];
/** Prefer the ESM entry of dual packages (better tree-shaking), fall back to CommonJS `main`. */
export const MAIN_FIELDS: readonly string[] = ['module', 'main'];
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);";

/** Repository root: entries in infra/specs/bindings.ts are relative to it, and esbuild runs from it (as CDK does). */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/**
 * NodejsFunction bundling. `sourcesContent: false`: NODE_OPTIONS=--enable-source-maps only needs the mappings to
 * print TypeScript line numbers; embedding every source would triple the .map size for nothing.
 */
export const LAMBDA_BUNDLING: BundlingOptions = {
  target: ESBUILD_TARGET,
  format: OutputFormat.ESM,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  externalModules: [...EXTERNAL_MODULES],
  mainFields: [...MAIN_FIELDS],
  banner: ESM_REQUIRE_BANNER,
};

/**
 * esbuild.build options producing the same `index.mjs` (+ `.map`) CDK produces for `entry`. `entry` is relative to
 * the repository root or absolute; `outdir` receives index.mjs.
 */
export function bundleLambda(entry: string, outdir: string): BuildOptions & { outfile: string } {
  return {
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [path.resolve(PROJECT_ROOT, entry)],
    bundle: true,
    target: ESBUILD_TARGET,
    platform: 'node',
    format: 'esm',
    outfile: path.join(path.resolve(outdir), BUNDLE_FILE),
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: [...EXTERNAL_MODULES],
    mainFields: [...MAIN_FIELDS],
    banner: { js: ESM_REQUIRE_BANNER },
    metafile: true,
    logLevel: 'silent',
  };
}

export interface BuiltLambda {
  outfile: string;
  /** Size of index.mjs in bytes (what Lambda loads). */
  bytes: number;
  /** Size of index.mjs.map in bytes. */
  sourceMapBytes: number;
  /** Bytes of each bundled input, largest first: what to look at when a bundle grows. */
  inputs: { path: string; bytes: number }[];
  /** Packages the bundle still imports at run time (esbuild's metafile, not a text search of the minified code). */
  externalImports: string[];
}

/** Runs bundleLambda and reports sizes (benchmarks and the local runner use this). */
export async function buildLambda(entry: string, outdir: string): Promise<BuiltLambda> {
  const esbuild = await import('esbuild');
  const options = bundleLambda(entry, outdir);
  const result = await esbuild.build(options);
  const outputs = result.metafile?.outputs ?? {};
  const outKey = Object.keys(outputs).find((key) => key.endsWith(BUNDLE_FILE));
  const mapKey = Object.keys(outputs).find((key) => key.endsWith(`${BUNDLE_FILE}.map`));
  const main = outKey === undefined ? undefined : outputs[outKey];
  if (main === undefined) {
    throw new Error(`esbuild produced no ${BUNDLE_FILE} for ${entry} (outputs: ${Object.keys(outputs).join(', ')})`);
  }
  return {
    outfile: options.outfile,
    bytes: main.bytes,
    sourceMapBytes: mapKey === undefined ? 0 : (outputs[mapKey]?.bytes ?? 0),
    inputs: Object.entries(main.inputs)
      .map(([input, info]) => ({ path: input, bytes: info.bytesInOutput }))
      .sort((a, b) => b.bytes - a.bytes),
    externalImports: [...new Set(main.imports.filter((i) => i.external).map((i) => i.path))].sort(),
  };
}
