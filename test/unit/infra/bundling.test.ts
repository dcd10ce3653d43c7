/** bundleLambda builds the deployable bundle of a real handler (esbuild, no CDK): output exists, sizes reported. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildLambda, bundleLambda, BUNDLE_FILE, ESM_REQUIRE_BANNER } from '../../../infra/bundling';

describe('bundleLambda', () => {
  let outdir: string;
  beforeAll(() => {
    outdir = mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('bundles the refresh-api handler into a minified ESM index.mjs with a source map and reports its size', async () => {
    const built = await buildLambda('lambdas/refresh-api/handler.ts', outdir);
    expect(built.outfile).toBe(path.join(outdir, BUNDLE_FILE));
    expect(built.bytes).toBe(statSync(built.outfile).size);
    expect(built.bytes).toBeGreaterThan(1_000);
    expect(built.sourceMapBytes).toBe(statSync(`${built.outfile}.map`).size);
    const code = readFileSync(built.outfile, 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/export\{\w+ as handler\}/);
    // The runtime provides SDK v3: imported, not bundled.
    expect(code).toMatch(/from"@aws-sdk\/client-sfn"/);
    expect(built.inputs.some((i) => i.path.includes('node_modules/@aws-sdk/'))).toBe(false);
    expect(built.inputs.some((i) => i.path.includes('@middy/core'))).toBe(true);
    console.log(`refresh-api bundle: ${built.bytes} B (+ ${built.sourceMapBytes} B map)`);
  });

  it('exposes plain esbuild options for node22 with @aws-sdk external', () => {
    const options = bundleLambda('lambdas/refresh-api/handler.ts', '/tmp/x');
    expect(options).toMatchObject({ target: 'node22', platform: 'node', format: 'esm', external: ['@aws-sdk/*'] });
  });
});
