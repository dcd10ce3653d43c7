import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../../lambdas/core/adapters/dynamodb/balance-store';
import { formatPowensDateTime } from '../../lambdas/core/adapters/powens/datetime';
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
      skippedFresh: 0,
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

  it('users Powens synced by itself (CONNECTION_SYNCED webhooks) are skipped; the others get the fan-out’s maxAgeMinutes', async () => {
    const progress: string[] = [];
    const apiSyncs: number[] = [];
    const result = await runLocalFanOut({
      ...fiveUsersTwentyPercent(),
      // Two days: the generated connections (synced about a day ago) are fresh for it, 100005 is made older.
      input: { maxAgeMinutes: 2880 },
      prepare: async ({ sandbox }) => {
        if (!sandbox) throw new Error('the local fan-out runs on the embedded sandbox');
        // Powens' own daily sync of users 10001 and 10003, pushed to the local webhook receiver: health says fresh.
        for (const connectionId of [100003, 100004, 100007, 100008]) await sandbox.autoSync(connectionId);
        await sandbox.flushWebhooks();
        // Never seen by us (no webhook, no run yet): user 10002 is refreshed, and this connection is stale even
        // for 2880 minutes.
        Object.assign(sandbox.connection(100005), {
          last_update: formatPowensDateTime(new Date(Date.now() - 3 * 86_400_000)),
          next_try: null,
        });
      },
      onUserProgress: (p) => progress.push(`${p.done}/${p.total} skipped ${p.skipped}`),
      inspect: async ({ sandbox }) => {
        // Forced syncs only: user 10002's stale connection. Skipped users none; and the refreshed users' day-old
        // connections none, which the default 360 minutes would have forced: the children got 2880.
        apiSyncs.push(...(sandbox?.bankSyncs() ?? []).filter((s) => s.trigger === 'api').map((s) => s.connectionId));
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.summary).toEqual({
      users: 3,
      succeeded: 3,
      failed: 0,
      failedUserIds: [],
      failedUserIdsTruncated: false,
      pages: 1,
      skippedFresh: 2,
    });
    expect(result.children.map((c) => c.userId).sort()).toEqual([10_000, 10_002, 10_004]);
    expect(progress.at(-1)).toBe('3/5 skipped 2');
    expect(apiSyncs).toEqual([100005]);
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
