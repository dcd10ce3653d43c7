/**
 * BatchWriteItem partial failures. dynalite never returns UnprocessedItems (it does not throttle), so this is the
 * one place a stub DynamoDB client is used: it answers like DynamoDB does under throttling.
 */
import { BatchWriteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { dynamoErrorToStepError } from '../../../lambdas/core/adapters/dynamodb/errors';
import type { AccountBalanceRecord } from '../../../lambdas/core/domain/balances';

const rec = (i: number): AccountBalanceRecord => ({
  id: `r${i}`,
  accountId: String(i),
  tenantId: 't',
  connectionId: 'c',
  balanceType: 'current',
  accountType: 'checking',
  assetClass: 'cash',
  currentBalance: i,
  currency: 'EUR',
  lastUpdatedAt: '2025-06-01T00:00:00.000Z',
  createdAt: '2025-06-01T00:00:00.000Z',
});

function stub(unprocessedPerCall: number[]) {
  const batchSizes: number[] = [];
  let call = 0;
  const client = {
    send: async (command: unknown) => {
      if (command instanceof BatchWriteCommand) {
        const requests = command.input.RequestItems?.tbl ?? [];
        batchSizes.push(requests.length);
        const keep = Math.min(unprocessedPerCall[call++] ?? 0, requests.length);
        return keep === 0 ? {} : { UnprocessedItems: { tbl: requests.slice(0, keep) } };
      }
      if (command instanceof PutCommand) return {};
      throw new Error('unexpected command');
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, batchSizes };
}

describe('history BatchWriteItem retries', () => {
  it('retries only the unprocessed items, with bounded jittered backoff, and counts every request', async () => {
    const { client, batchSizes } = stub([10, 3, 0]);
    const sleeps: number[] = [];
    const store = createBalanceStore({
      client,
      tableName: 'tbl',
      random: () => 0.999,
      sleep: async (ms) => void sleeps.push(ms),
      batchRetry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 150 },
    });
    const result = await store.writeSnapshots(Array.from({ length: 20 }, (_, i) => rec(i)));
    expect(batchSizes).toEqual([20, 10, 3]);
    expect(sleeps).toEqual([99, 149]); // 100·2⁰ then min(150, 100·2¹), scaled by the jitter draw
    expect(result).toEqual({
      historyWritten: 20,
      latestAdvanced: 20,
      latestStale: 0,
      latestConnectionStateChanged: 0,
      requests: 3 + 20,
    });
  });

  it('gives up after maxAttempts with ServiceUnavailable so Step Functions retries the step', async () => {
    const { client, batchSizes } = stub([5, 5, 5]);
    const store = createBalanceStore({
      client,
      tableName: 'tbl',
      sleep: async () => {},
      batchRetry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    });
    await expect(store.writeSnapshots([rec(1), rec(2), rec(3), rec(4), rec(5)])).rejects.toMatchObject({
      name: 'ServiceUnavailable',
      details: expect.objectContaining({ unprocessed: 5, attempts: 3 }),
    });
    expect(batchSizes).toEqual([5, 5, 5]);
  });

  it('splits 60 items into batches of 25', async () => {
    const { client, batchSizes } = stub([]);
    const store = createBalanceStore({ client, tableName: 'tbl' });
    await store.writeSnapshots(Array.from({ length: 60 }, (_, i) => rec(i)));
    expect(batchSizes.sort()).toEqual([10, 25, 25]);
  });
});

describe('dynamoErrorToStepError', () => {
  const sdkError = (name: string, status?: number, code?: string) =>
    Object.assign(new Error(name), {
      name,
      ...(status ? { $metadata: { httpStatusCode: status } } : {}),
      ...(code ? { code } : {}),
    });
  it.each([
    [sdkError('ProvisionedThroughputExceededException', 400), 'ServiceUnavailable'],
    [sdkError('ThrottlingException', 400), 'ServiceUnavailable'],
    [sdkError('InternalServerError', 500), 'ServiceUnavailable'],
    [sdkError('SomethingNew', 503), 'ServiceUnavailable'],
    [sdkError('Error', undefined, 'ECONNREFUSED'), 'ServiceUnavailable'],
    [sdkError('ResourceNotFoundException', 400), 'ConfigurationError'],
    [sdkError('ValidationException', 400), 'InternalError'],
    ['a string', 'InternalError'],
  ])('%s → %s', (error, name) => {
    expect(dynamoErrorToStepError(error, 'PutItem', 'tbl')).toMatchObject({
      name,
      details: expect.objectContaining({ tableName: 'tbl' }),
    });
  });
});
