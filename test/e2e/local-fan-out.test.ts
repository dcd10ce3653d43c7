import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../../lambdas/core/adapters/dynamodb/balance-store';
import { runLocalFanOut } from '../../infra/local/fan-out';
import type { FaultRule } from '../../infra/local/powens-sandbox';

/**
 * `npm start -- --users N`: the fan-out machine's synthesized ASL in aws-local-stepfunctions, the fan-out-page bundle,
 * one child execution of the compiled seed machine per user (real bundles, dynalite, the HTTP Powens sandbox).
 * Generated users are 10000, 10001, ... (generateDataset's first id); user 10000+u owns connections 100001+2u and
 * 100002+2u.
 */
const failEveryCallOf = (userId: number): FaultRule => ({
  userId,
  times: 10_000,
  fault: { kind: 'status', status: 500 },
});

describe('local fan-out: one seed execution per user, ToleratedFailurePercentage', () => {
  // Bundles, worker processes, dynalite, the sandbox and five child executions: sized for a loaded 2-core CI.
  jest.setTimeout(300_000);
  let workDir: string;
  beforeAll(() => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'fan-out-e2e-'));
  });
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));
  // One failing user of five is 20 %: tolerated; two are 40 %: not.
  const fiveUsersTwentyPercent = () => ({
    sandboxUsers: 5,
    toleratedFailurePercentage: 20,
    timeScale: 0,
    syncLatencyMs: 5,
    workDir,
  });

  it('a failing user fails alone within the tolerated percentage: the others are refreshed, the summary names it', async () => {
    const progress: { done: number; total: number }[] = [];
    const storedConnections = new Set<string>();
    const result = await runLocalFanOut({
      ...fiveUsersTwentyPercent(),
      faults: [failEveryCallOf(10_003)],
      onUserProgress: (p) => progress.push({ done: p.done, total: p.total }),
      inspect: async ({ dynamodb, tableName, tenantId }) => {
        const store = createBalanceStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName });
        for (const record of await store.listLatest(tenantId)) storedConnections.add(String(record.connectionId));
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.summary).toEqual({
      users: 5,
      succeeded: 4,
      failed: 1,
      failedUserIds: [10_003],
      failedUserIdsTruncated: false,
      pages: 1,
    });
    expect(result.children.map((c) => `${c.userId}:${c.status}`).sort()).toEqual([
      '10000:SUCCEEDED',
      '10001:SUCCEEDED',
      '10002:SUCCEEDED',
      '10003:FAILED',
      '10004:SUCCEEDED',
    ]);
    expect(progress.map((p) => `${p.done}/${p.total}`)).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']);
    // The four healthy users' balances are stored; nothing of the failing one (connections 100007, 100008).
    expect([...storedConnections].sort()).toEqual([
      '100001',
      '100002',
      '100003',
      '100004',
      '100005',
      '100006',
      '100009',
      '100010',
    ]);
  });

  it('above the tolerated percentage the fan-out fails with States.ExceedToleratedFailureThreshold', async () => {
    const result = await runLocalFanOut({
      ...fiveUsersTwentyPercent(),
      faults: [failEveryCallOf(10_001), failEveryCallOf(10_003)],
    });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.ExceedToleratedFailureThreshold');
    expect(result.cause).toMatch(/2 of 5 items failed, more than ToleratedFailurePercentage 20%/);
    expect(result.summary).toBeUndefined();
  });
});
