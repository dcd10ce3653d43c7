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
 * The AWS SDK is bundled, not external: importing the runtime-style external SDK from node_modules cost 65–74 ms on
 * its own (hundreds of files resolved, read and lexed), pre-linked into the bundle the same clients import in a
 * fraction of that. The SDK version is then our lock file's, tested locally. Its default credential chain (SSO,
 * profiles, STS, IMDS...) is replaced by an environment-only provider (ALIASES): that is where Lambda puts the role's
 * credentials, and the chain was ~30% of each bundle. bench/cold-start.ts measures every handler against a floor (an
 * empty handler with the DynamoDB client) bundled the same way.
 * Measured and rejected: CommonJS output (slower: esbuild wraps each ESM dependency in lazy-init closures).
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
/**
 * Package substitutions, relative to the repository root (esbuild resolves alias targets from its working directory,
 * which is PROJECT_ROOT for both CDK and bundleLambda): the SDK's default credential chain becomes an environment-only
 * provider, see lambdas/core/adapters/aws/env-credentials.ts.
 */
export const ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': './lambdas/core/adapters/aws/env-credentials.ts',
};
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);";

/** Repository root: entries in infra/specs/bindings.ts are relative to it, and esbuild runs from it (as CDK does). */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/**
 * NodejsFunction bundling. The .map is written but Lambda does not load it (see NodeFunction: no
 * --enable-source-maps in AWS, it costs cold-start time); the local runner does, for TypeScript stack traces.
 * `sourcesContent: false`: line numbers only need the mappings; embedding every source would triple the .map size.
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
  esbuildArgs: Object.fromEntries(Object.entries(ALIASES).map(([from, to]) => [`--alias:${from}`, to])),
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
    alias: { ...ALIASES },
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
