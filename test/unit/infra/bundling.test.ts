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
    const built = await buildLambda('lambdas/api/handler.ts', outdir);
    expect(built.outfile).toBe(path.join(outdir, BUNDLE_FILE));
    expect(built.bytes).toBe(statSync(built.outfile).size);
    expect(built.bytes).toBeGreaterThan(1_000);
    expect(built.sourceMapBytes).toBe(statSync(`${built.outfile}.map`).size);
    const code = readFileSync(built.outfile, 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/export\{\w+ as handler\}/);
    // The SDK is bundled (cold start, see infra/bundling.ts): no import of it is left, its sources are inputs, and
    // ajv (compiled at build time) is not in the API bundle. Secrets Manager is (the pagination cursor key): its
    // client and GetSecretValue only, not the ~25 commands of its aggregated client.
    expect(code).not.toMatch(/(?:from|import\()\s*["']@aws-sdk\//);
    expect(code).toContain('"GetSecretValue"');
    expect(code).not.toContain('"RotateSecret"');
    // Credentials from the environment only: the SDK's default chain (SSO, profiles, STS...) is aliased away.
    expect(built.inputs.some((i) => i.path.endsWith('lambdas/core/adapters/aws/env-credentials.ts'))).toBe(true);
    expect(built.inputs.filter((i) => /credential-provider-|nested-clients|token-providers/.test(i.path))).toEqual([]);
    expect(built.inputs.some((i) => i.path.includes('node_modules/@aws-sdk/client-sfn/'))).toBe(true);
    expect(built.inputs.some((i) => i.path.includes('node_modules/ajv/'))).toBe(false);
    expect(built.inputs.some((i) => i.path.includes('client-secrets-manager'))).toBe(true);
    expect(built.inputs.some((i) => i.path.includes('@middy/core'))).toBe(true);
    console.log(`refresh-api bundle: ${built.bytes} B (+ ${built.sourceMapBytes} B map)`);
  });

  it('exposes plain esbuild options for node22 ESM with nothing external (the SDK is bundled)', () => {
    const options = bundleLambda('lambdas/api/handler.ts', path.join(os.tmpdir(), 'x'));
    expect(options).toMatchObject({ target: 'node22', platform: 'node', format: 'esm', external: [] });
  });
});
