/**
 * `POST /refreshes` for everyone → the fan-out machine really runs → `GET /refreshes/{id}` describes its summary.
 *
 * Step Functions itself is half real here. No local Step Functions API exists (aws-local-stepfunctions runs a
 * definition; it serves no StartExecution/DescribeExecution), so execution names, idempotency and DescribeExecution
 * are FakeSfn's documented MOCK (test/support/fake-sfn.ts). Every execution the API newly starts on the fan-out
 * machine, though, is run for real with the input the API sent: the fan-out's synthesized ASL in
 * aws-local-stepfunctions, the fan-out-page bundle, one child execution of the compiled seed machine per user, dynalite
 * and the HTTP Powens sandbox (runLocalFanOut, as `npm start -- --users N`). Its result finishes the fake execution.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  StartExecutionCommand,
  type DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  type StartExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { runLocalFanOut, type LocalFanOutOptions, type LocalFanOutResult } from '../../infra/local/fan-out';
import { createApiHandler } from '../../lambdas/api/app';
import type { SfnSender } from '../../lambdas/api/refreshes';
import { createBalanceStore } from '../../lambdas/core/adapters/dynamodb/balance-store';
import { apiEvent } from '../support/api-events';
import { FakeSfn } from '../support/fake-sfn';

const SEED_ARN = 'arn:aws:states:eu-west-3:123456789012:stateMachine:OpenBankingRefresh-seed';
const FAN_OUT_ARN = 'arn:aws:states:eu-west-3:123456789012:stateMachine:OpenBankingRefresh-fan-out';

/** FakeSfn for names and descriptions; each new fan-out execution is run locally and finishes the fake one. */
class LocallyRunFanOut implements SfnSender {
  readonly fake = new FakeSfn(() => new Date());
  readonly runs: { input: unknown; result: Promise<LocalFanOutResult> }[] = [];
  constructor(private readonly options: LocalFanOutOptions) {}

  send(command: StartExecutionCommand): Promise<StartExecutionCommandOutput>;
  send(command: DescribeExecutionCommand): Promise<DescribeExecutionCommandOutput>;
  async send(
    command: StartExecutionCommand | DescribeExecutionCommand,
  ): Promise<StartExecutionCommandOutput | DescribeExecutionCommandOutput> {
    const before = this.fake.executions.size;
    const answer = await this.fake.send(command as StartExecutionCommand);
    if (command instanceof StartExecutionCommand && this.fake.executions.size > before) {
      const { stateMachineArn, name = '', input = '{}' } = command.input;
      if (stateMachineArn !== FAN_OUT_ARN) throw new Error(`this test runs only the fan-out, not ${stateMachineArn}`);
      const parsed: unknown = JSON.parse(input);
      const result = runLocalFanOut({ ...this.options, input: parsed, executionName: name }).then((report) => {
        this.fake.finish(
          name,
          report.status === 'SUCCEEDED'
            ? { output: JSON.stringify(report.output) }
            : {
                status: 'FAILED',
                ...(report.error && { error: report.error }),
                ...(report.cause && { cause: report.cause }),
              },
        );
        return report;
      });
      this.runs.push({ input: parsed, result });
    }
    return answer;
  }
}

describe('API → fan-out, run locally', () => {
  // Bundles, worker processes, dynalite, the sandbox and three child executions: sized for a loaded 2-core CI.
  jest.setTimeout(300_000);
  let workDir: string;
  beforeAll(() => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'api-fan-out-e2e-'));
  });
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it('POST {"maxAgeMinutes":0} starts ONE fan-out that refreshes every user; GET answers its summary, never balances', async () => {
    const storedConnections = new Set<string>();
    const sfn = new LocallyRunFanOut({
      sandboxUsers: 3,
      timeScale: 0,
      syncLatencyMs: 5,
      workDir,
      inspect: async ({ dynamodb, tableName, tenantId }) => {
        const store = createBalanceStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName });
        for (const record of await store.listLatest(tenantId)) storedConnections.add(String(record.connectionId));
      },
    });
    const handler = createApiHandler({
      refresh: { sfn, stateMachineArn: SEED_ARN, fanOutStateMachineArn: FAN_OUT_ARN, now: () => new Date() },
      read: {} as never, // no read route here
      connections: async () => ({}),
    });
    const call = async (...args: Parameters<typeof apiEvent>) => {
      const res = (await handler(apiEvent(...args), {} as Context)) as APIGatewayProxyResult;
      return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown>, text: res.body };
    };

    const body = '{"requestId":"everyone-e2e","maxAgeMinutes":0}';
    const started = await call('POST', '/refreshes', { body });
    expect(started).toMatchObject({
      status: 202,
      body: { kind: 'fan-out', executionName: 'fanout-req-everyone-e2e' },
    });
    expect(sfn.runs.map((r) => r.input)).toEqual([{ maxAgeMinutes: 0 }]);
    const report = await (sfn.runs[0] as { result: Promise<LocalFanOutResult> }).result;
    expect(report.status).toBe('SUCCEEDED');
    expect(report.children.map((c) => `${c.userId}:${c.status}`).sort()).toEqual([
      '10000:SUCCEEDED',
      '10001:SUCCEEDED',
      '10002:SUCCEEDED',
    ]);
    // Every user's two connections were refreshed and stored (maxAgeMinutes 0: none skipped as fresh).
    expect([...storedConnections].sort()).toEqual(['100001', '100002', '100003', '100004', '100005', '100006']);

    const name = 'fanout-req-everyone-e2e';
    const described = await call('GET', '/refreshes/{id}', {
      path: `/refreshes/${name}`,
      pathParameters: { id: name },
    });
    expect(described).toMatchObject({
      status: 200,
      body: {
        status: 'SUCCEEDED',
        kind: 'fan-out',
        output: expect.objectContaining({ users: 3, succeeded: 3, failed: 0, failedUserIds: [] }),
      },
    });
    expect(described.text).not.toMatch(/balance|"current"|"available"/i);

    // A retry of the same request is the same execution: nothing runs again.
    const retry = await call('POST', '/refreshes', { body: '{"maxAgeMinutes":0,"requestId":"everyone-e2e"}' });
    expect(retry).toMatchObject({ status: 202, body: started.body });
    expect(sfn.runs).toHaveLength(1);
  });
});
