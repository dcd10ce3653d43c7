/**
 * Smoke test of the benchmark code on tiny inputs: every stage runs for real (esbuild, fresh node processes, the
 * Powens sandbox, dynalite, the compiled state machine with worker-process Lambdas) and returns well-formed,
 * positive figures. No timing is asserted: only shapes, counts that follow from the inputs, and positivity.
 */
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { REFRESH_API_HANDLER, runColdStart } from '../../../bench/cold-start';
import { runStorage } from '../../../bench/storage';
import { failSyncsRounds, prepareBundles, runScenario } from '../../../bench/orchestration';
import { costOf, PRICES } from '../../../bench/prices';
import { summarizeColdStart, summarizeOrchestration, summarizeStorage } from '../../../bench/run';
import { BENCH_WORK_DIR, median, percentile } from '../../../bench/support';

const workDir = path.join(BENCH_WORK_DIR, `smoke-${process.pid}`);

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('bench (smoke, tiny inputs)', () => {
  // Every stage spawns processes or runs esbuild: sized for a loaded 2-core CI, not for speed.
  jest.setTimeout(300_000);

  it('statistics and prices are what the report says they are', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    const cost = costOf(
      { transitions: 2, lambdaRequests: 2, lambdaGbSeconds: 1, writeRequestUnits: 10, readRequestUnits: 4 },
      1000,
    );
    expect(cost.stepFunctions).toBeCloseTo(0.05, 10);
    expect(cost.lambdaDuration).toBeCloseTo(1000 * PRICES.lambdaArm64GbSecond.usd, 10);
    expect(cost.total).toBeCloseTo(
      cost.stepFunctions + cost.lambdaRequests + cost.lambdaDuration + cost.dynamoDbWrites + cost.dynamoDbReads,
      10,
    );
    for (const price of Object.values(PRICES)) expect(price.source).toMatch(/^https:\/\//);
  });

  it('cold start: bundles a handler and imports it, bundled and unbundled, in fresh processes', async () => {
    const result = await runColdStart({
      runs: 1,
      handlers: [REFRESH_API_HANDLER],
      workDir: path.join(workDir, 'cold'),
    });
    expect(result.handlers).toHaveLength(1);
    const [handler] = result.handlers;
    expect(handler?.bundle.bytes).toBeGreaterThan(1000);
    expect(handler?.bundledImportMs.median).toBeGreaterThan(0);
    expect(handler?.unbundledImportMs.median).toBeGreaterThan(0);
    expect(handler?.bundledWithSourceMapsImportMs.median).toBeGreaterThan(0);
    // The floor (an empty handler with the DynamoDB client) is smaller than any real handler.
    expect(result.floor.bytes).toBeGreaterThan(1000);
    expect(result.floor.bytes).toBeLessThan(handler?.bundle.bytes ?? 0);
    expect(handler?.vsFloor.bytes).toBeGreaterThan(1);
    expect(handler?.unbundled.files).toBeGreaterThan(10);
    expect(summarizeColdStart(result)).toContain('RefreshApi');
    expect(summarizeColdStart(result)).toContain('floor');
  });

  it('storage: 10 accounts stored at the request floor, next to the naive writer', async () => {
    const result = await runStorage({ sizes: [10] });
    const [c] = result.cases;
    expect(c?.store.historyWritten).toBe(10);
    expect(c?.store.latestAdvanced).toBe(10);
    expect(c?.store.byCommand).toEqual({ BatchWriteItem: 1, PutItem: 10 });
    expect(c?.atFloor).toBe(true);
    expect(c?.naive.requests.byCommand).toEqual({ PutItem: 20 });
    expect(c?.storeWriteMs).toBeGreaterThan(0);
    expect(c?.naive.sequentialMs).toBeGreaterThan(0);
    expect(summarizeStorage(result)).toContain('1 BWI + 10 Put');
    // Behind the latency proxy: the same requests (nothing lost or duplicated by the proxy), every one delayed.
    expect(c?.atLatency?.latencyMs).toBe(5);
    expect(c?.atLatency?.requests.byCommand).toEqual({ BatchWriteItem: 1, PutItem: 10 });
    expect(c?.atLatency?.naiveSequentialMs).toBeGreaterThanOrEqual(20 * 5); // 20 sequential puts, 5 ms each at least
    expect(c?.atLatency?.storeWriteMs).toBeGreaterThanOrEqual(5);
    expect(summarizeStorage(result)).toContain('behind the latency proxy (5 ms per request)');
  });

  it('orchestration: one tiny refresh with 2 retries is metered end to end', async () => {
    const bundles = await prepareBundles(path.join(workDir, 'orchestration'));
    const scenario = {
      name: 'smoke',
      users: 1,
      connectionsPerUser: 1,
      accountsPerConnection: 2,
      syncLatencyMs: 0,
      timeScale: 0,
      faults: failSyncsRounds(1, 2),
    };
    const result = await runScenario(scenario, bundles, path.join(workDir, 'orchestration'));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.transitions).toBe(4);
    expect(result.retryWaitsSeconds['refresh-balances']).toEqual([1, 2]);
    expect(result.lambda.invocations).toBe(4);
    expect(result.lambda.functions.find((f) => f.id === 'RefreshBalances')?.failedInvocations).toBe(2);
    expect(result.lambda.billedMs).toBeGreaterThan(0);
    expect(result.dynamodb.writeRequestUnits).toBeGreaterThanOrEqual(4); // 2 history + 2 latest at least
    expect(result.powens.byEndpoint['PUT /users/{id}/connections/{id}']).toBe(3);
    expect(result.payload.withinLimit).toBe(true);
    expect(result.costPer1000.total).toBeGreaterThan(0);
    expect(summarizeOrchestration({ method: '', prices: PRICES, region: 'us-east-1', scenarios: [result] })).toContain(
      'smoke',
    );
  });
});
