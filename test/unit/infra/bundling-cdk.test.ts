/**
 * The one test that really bundles through CDK: a NodeFunction synthesized WITH bundling (local esbuild, no Docker)
 * must produce the same index.mjs, byte for byte, as bundleLambda — so benchmarks and the local runner measure the
 * deployed code.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { buildLambda, BUNDLE_FILE } from '../../../infra/bundling';
import { NodeFunction } from '../../../infra/constructs/node-function';

const ENTRY = 'lambdas/api/handler.ts';
/** A synth with bundling plus an esbuild run: ≈4 s idle, ≈10 s with both cores busy; generous for a loaded CI. */
const HEAVY_TIMEOUT_MS = 300_000;

describe('NodejsFunction bundling = bundleLambda', () => {
  const dirs: string[] = [];
  const tmp = (prefix: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it(
    'CDK bundles locally to an asset whose index.mjs is identical to bundleLambda output',
    async () => {
      const app = new App({ outdir: tmp('cdk-bundle-') });
      const stack = new Stack(app, 'BundleProbe');
      new NodeFunction(stack, 'Probe', { entry: ENTRY, description: 'probe', serviceName: 'probe' });
      const assembly = app.synth();

      const assetDirs = readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
      expect(assetDirs).toHaveLength(1);
      const assetDir = path.join(assembly.directory, assetDirs[0] ?? '');
      expect(readdirSync(assetDir).sort()).toEqual([BUNDLE_FILE, `${BUNDLE_FILE}.map`]);

      const built = await buildLambda(ENTRY, tmp('esbuild-'));
      const fromCdk = readFileSync(path.join(assetDir, BUNDLE_FILE));
      expect(fromCdk.length).toBe(built.bytes);
      expect(fromCdk.equals(readFileSync(built.outfile))).toBe(true);
    },
    HEAVY_TIMEOUT_MS,
  );
});
