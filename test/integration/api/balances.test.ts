/**
 * GET /balances through the real refresh-api handler module (env-configured clients, middy, router, domain, store)
 * against dynalite on 127.0.0.1 with the real AWS SDK. StartExecution is not exercised here (no local Step Functions
 * API; see test/unit/api/router.test.ts for the mocked SFN side).
 */
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import type { AccountBalanceRecord } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { ENV } from '../../../lambdas/core/env-names';
import { REFRESH_API_TABLE_ACTIONS } from '../../../infra/stack';
import { DUMMY_AWS_ENV, startDynalite, type LocalDynamo } from '../../support/dynalite';
import { apiEvent } from '../../unit/api/events';

const TABLE = 'balances-api-test';
const TENANT = 'family-office';

function record(accountId: string, currency: string, current: number, available: number | undefined, at: string, tenantId = TENANT): AccountBalanceRecord {
  const r: AccountBalanceRecord = {
    id: `powens:${accountId}:${at}`,
    accountId,
    tenantId,
    connectionId: '7',
    balanceType: 'current',
    currentBalance: current,
    currency,
    lastUpdatedAt: at,
    createdAt: '2025-03-01T06:00:05.000Z',
  };
  if (available !== undefined) r.availableBalance = available;
  return r;
}

describe('GET /balances (refresh-api handler + dynalite)', () => {
  let dynamo: LocalDynamo;
  let handler: (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    dynamo = await startDynalite();
    await dynamo.createTable(TABLE);
    const store = createBalanceStore({ client: dynamo.doc, tableName: TABLE });
    await store.writeSnapshots([
      record('A1', 'EUR', 1000.1, 990.1, '2025-03-01T05:00:00.000Z'),
      record('A2', 'EUR', 250.2, undefined, '2025-03-01T05:30:00.000Z'),
      record('A3', 'USD', 42, 40, '2025-02-28T18:00:00.000Z'),
      record('B1', 'EUR', 999_999, 999_999, '2025-03-01T05:00:00.000Z', 'other-tenant'),
    ]);
    // An older snapshot of A1 must not win over the latest one.
    await store.writeSnapshots([record('A1', 'EUR', 1, 1, '2025-02-01T05:00:00.000Z')]);

    Object.assign(process.env, DUMMY_AWS_ENV, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      [ENV.tableName]: TABLE,
      [ENV.tenantId]: TENANT,
      [ENV.stateMachineArn]: 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh',
    });
    // Imported after the environment is set: the module reads it once, like a Lambda cold start.
    ({ handler } = jest.requireActual<{ handler: typeof handler }>('../../../lambdas/api/handler'));
  });

  afterAll(async () => {
    process.env = savedEnv;
    await dynamo.close();
  });

  it('returns per-currency cash positions of the configured tenant only, from the latest snapshots', async () => {
    const res = await handler(apiEvent('GET', '/balances'), {} as Context);
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(res.body)).toEqual({
      tenantId: TENANT,
      accounts: 3,
      positions: [
        { currency: 'EUR', current: 1250.3, available: 1240.3, accounts: 2 },
        { currency: 'USD', current: 42, available: 40, accounts: 1 },
      ],
      oldestBalanceAt: '2025-02-28T18:00:00.000Z',
      newestBalanceAt: '2025-03-01T05:30:00.000Z',
    });
  });

  it('answers 404 JSON for an unknown route through the same handler', async () => {
    const res = await handler(apiEvent('GET', '/accounts'), {} as Context);
    expect(res.statusCode).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'NotFound' });
  });

  it('calls exactly the DynamoDB actions its role allows (infra/stack.ts REFRESH_API_TABLE_ACTIONS)', async () => {
    dynamo.operations.length = 0;
    expect((await handler(apiEvent('GET', '/balances'), {} as Context)).statusCode).toBe(200);
    expect([...new Set(dynamo.operations.map((o) => `dynamodb:${o}`))].sort()).toEqual([...REFRESH_API_TABLE_ACTIONS].sort());
  });
});
