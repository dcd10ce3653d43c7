// Three projects so a developer can run one layer: unit (pure), integration (local services), e2e (whole machine).
const transform = { '^.+\\.(t|j|mj)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] };
// @middy/core ships ESM only; let swc turn it into CommonJS like our own sources.
const transformIgnorePatterns = ['/node_modules/(?!(@middy)/)'];
const common = {
  transform,
  transformIgnorePatterns,
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/test/support/setup.ts'],
};
module.exports = {
  // CI runs on a busy 2-core machine, where Jest's 5 s default fails good tests at random (a CDK bundling test took
  // 3.9 s idle and 9.6 s with both cores busy). A timeout only has to catch hangs, so the default is sized for the
  // worst load; the few heavy tests (cdk synth, esbuild, spawned processes) set a larger one of their own.
  // (Top level on purpose: jest-circus ignores a per-project testTimeout.)
  testTimeout: 120_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
  ],
};
