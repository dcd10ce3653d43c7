/**
 * The two step handlers as the local runner and Lambda load them: module-scope dependencies built from environment
 * variables only (TABLE_NAME, POWENS_BASE_URL, POWENS_SECRET_FILE, TENANT_ID, AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION,
 * dummy credentials), talking to dynalite and the Powens sandbox over loopback.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { handler as refreshHandler, createRefreshBalancesHandler } from '../../../lambdas/refresh-balances/handler';
import { handler as fetchHandler } from '../../../lambdas/fetch-balances/handler';
import { resetConfigForTests } from '../../../lambdas/core/config';
import { resetStepDependenciesForTests } from '../../../lambdas/core/step-runtime';
import { logger } from '../../../lambdas/core/observability';
import type { StepInvocation, WorkflowEnvelope } from '../../../lambdas/core/workflow-envelope';
import {
  createFamilyOfficeDataset,
  FAMILY_OFFICE_IDS,
  startPowensSandbox,
  type PowensSandbox,
} from '../../../infra/local/powens-sandbox';
import { STEP_FUNCTIONS } from '../../../infra/specs/bindings';
import { DUMMY_AWS_ENV, startDynalite, type LocalDynamo } from '../../support/dynalite';
import { captureOutput, lambdaContext } from './harness';

const C = FAMILY_OFFICE_IDS.connections;
const TABLE = 'balances-handlers';
const REFRESH_OP = 'openbanking.balances.refresh@1.0.0';
const FETCH_OP = 'openbanking.balances.get@1.0.0';

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;
const invoke = (h: unknown, event: unknown) => (h as Handler)(event, lambdaContext());

describe('step handlers wired from environment variables', () => {
  let dynamo: LocalDynamo;
  let sandbox: PowensSandbox;
  let dir: string;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    dynamo = await startDynalite();
    await dynamo.createTable(TABLE);
    sandbox = await startPowensSandbox({ dataset: createFamilyOfficeDataset() });
    dir = await mkdtemp(join(tmpdir(), 'powens-secret-'));
    const secretFile = join(dir, 'powens-secret.json');
    await writeFile(secretFile, JSON.stringify(sandbox.secret));
    Object.assign(process.env, {
      ...DUMMY_AWS_ENV,
      TABLE_NAME: TABLE,
      POWENS_BASE_URL: sandbox.baseUrl,
      POWENS_SECRET_FILE: secretFile,
      TENANT_ID: 'martin-family',
      // The sandbox here has no limit; the shared budget still runs (its own tests are in powens/rate-budget).
      POWENS_CALLS_PER_MINUTE: '6000',
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      POWERTOOLS_SERVICE_NAME: 'balances-test',
    });
    delete process.env.POWENS_SECRET_ID;
  });
  let quiet: jest.SpyInstance[] = [];
  beforeEach(() => {
    // Keep jest output readable (Powertools logs and EMF metrics); captureOutput nests its own spies.
    quiet = [process.stdout, process.stderr].map((stream) => jest.spyOn(stream, 'write').mockImplementation(() => true));
  });
  afterEach(() => {
    for (const spy of quiet) spy.mockRestore();
    sandbox.faults.clear();
  });
  afterAll(async () => {
    process.env = savedEnv;
    resetConfigForTests();
    resetStepDependenciesForTests();
    await sandbox.close();
    await dynamo.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refresh then fetch: each returns the envelope with its output merged into data', async () => {
    const input = { connectionIds: [C.claireBnp, C.louisBoursorama] };
    const first: StepInvocation = {
      step: { id: 'refresh-balances', operation: REFRESH_OP },
      executionId: 'arn:aws:states:local:0:execution:refresh:env-1',
      input,
      data: input,
    };
    dynamo.operations.length = 0;
    const afterRefresh = (await invoke(refreshHandler, first)) as WorkflowEnvelope;
    await invoke(refreshHandler, first); // a Step Functions retry of the same execution reads the finished markers
    const refreshCalls = [...dynamo.operations];
    expect(afterRefresh.input).toEqual(input);
    expect(afterRefresh.output).toMatchObject({ summary: { synced: 1, needs_user_action: 1, skipped: 0, failed: 0 } });
    expect(afterRefresh.data).toEqual({ ...input, ...(afterRefresh.output as object) });

    const second: StepInvocation = {
      step: { id: 'fetch-balances', operation: FETCH_OP },
      executionId: first.executionId!,
      input,
      data: afterRefresh.data,
    };
    dynamo.operations.length = 0;
    const afterFetch = (await invoke(fetchHandler, second)) as WorkflowEnvelope;
    const fetchCalls = [...dynamo.operations];
    const output = afterFetch.output as { balances: { accountId: string }[]; storage: unknown };
    expect(output.balances.map((b) => b.accountId)).toEqual(['3101', '3102', '3103', '3104', '3105', '3106', '3121', '3122']);
    expect(afterFetch.data).toMatchObject({ summary: expect.anything(), balances: output.balances, connectionIds: input.connectionIds });

    // Read back: the handler wrote to dynalite through AWS_ENDPOINT_URL_DYNAMODB, nothing else configured.
    const { Items } = await dynamo.doc.send(new ScanCommand({ TableName: TABLE }));
    expect(Items?.filter((i) => String(i.sk).startsWith('LATEST#'))).toHaveLength(8);
    expect(Items?.filter((i) => String(i.pk).startsWith('EXEC#'))).toHaveLength(2);
    // Every Powens call of both handlers took a token from the shared bucket (one version bump per token).
    const bucket = Items?.find((i) => i.pk === `RATE#${new URL(sandbox.baseUrl).host}`);
    expect(bucket?.version).toBe(sandbox.requests.length);

    // Least privilege, from the code's side: what each handler sent is exactly what its role allows
    // (test/unit/infra/stack.test.ts checks the roles against the same bindings).
    const granted = (id: string) => [...(STEP_FUNCTIONS.find((b) => b.id === id)?.tableActions ?? [])].sort();
    const called = (operations: string[]) => [...new Set(operations.map((o) => `dynamodb:${o}`))].sort();
    expect(called(refreshCalls)).toEqual(granted('RefreshBalances'));
    expect(called(fetchCalls)).toEqual(granted('FetchBalances'));
  });

  it('never writes a token or the client secret to stdout/stderr, on success or failure', async () => {
    const secrets = [sandbox.secret.clientSecret, ...sandbox.secret.users.map((u) => u.token)];
    const step = (id: string, op: string, executionId: string): StepInvocation => ({
      step: { id, operation: op },
      executionId,
      input: {},
      data: {},
    });
    const ok = await captureOutput(async () => {
      await invoke(refreshHandler, step('refresh-balances', REFRESH_OP, 'env-logs-1'));
      await invoke(fetchHandler, step('fetch-balances', FETCH_OP, 'env-logs-1'));
    });
    sandbox.faults.failNext('GET', '/users/*/accounts', { kind: 'status', status: 401, code: 'invalidToken' }, 3);
    const failed = await captureOutput(() => invoke(fetchHandler, step('fetch-balances', FETCH_OP, 'env-logs-2')));
    expect(ok.error).toBeUndefined();
    expect(failed.error).toMatchObject({ name: 'Unauthenticated' });
    // The capture works (the logs are there), and no secret is in them.
    expect(ok.output).toContain('refresh-balances finished');
    expect(ok.output).toContain('fetch-balances finished');
    expect(failed.output).toContain('"errorName":"Unauthenticated"');
    for (const secret of secrets) {
      expect(ok.output).not.toContain(secret);
      expect(failed.output).not.toContain(secret);
    }
  });

  it('second line of defence: a credential-named attribute logged by mistake is masked', async () => {
    const token = sandbox.secret.users[0]!.token;
    const { output } = await captureOutput(async () => {
      logger.info('careless log', { user: { userId: 1, token }, headers: { Authorization: `Bearer ${token}` } });
    });
    expect(output).toContain('careless log');
    expect(output).toContain('"token":"***"');
    expect(output).not.toContain(token);
  });

  it.each([
    [{ kind: 'status', status: 503 }, 'ServiceUnavailable'],
    [{ kind: 'status', status: 504 }, 'Timeout'],
    [{ kind: 'status', status: 401, code: 'invalidToken' }, 'Unauthenticated'],
    [{ kind: 'status', status: 404, code: 'notFound' }, 'NotFound'],
    [{ kind: 'rateLimited', retryAfter: 2 }, 'RateLimited'],
    [{ kind: 'malformed' }, 'BadGateway'],
  ] as const)('a Powens %j on the PUT leaves the refresh handler as %s', async (fault, name) => {
    sandbox.faults.failNext('PUT', `/users/*/connections/${C.holdingHsbc}`, fault);
    // psuRequested: attended syncs are outside the PSD2 budget, which these repeated faulted PUTs would exhaust.
    const input = { connectionIds: [C.holdingHsbc], psuRequested: true, maxAgeMinutes: 0 };
    await expect(
      invoke(refreshHandler, { step: { id: 'refresh-balances', operation: REFRESH_OP }, executionId: `env-fault-${name}`, input, data: input }),
    ).rejects.toMatchObject({ name });
  });

  it('invalid input → ValidationFailed, nothing written', async () => {
    const before = (await dynamo.doc.send(new ScanCommand({ TableName: TABLE }))).Items?.length;
    const input = { psuRequested: 'please' };
    await expect(
      invoke(refreshHandler, { step: { id: 'refresh-balances', operation: REFRESH_OP }, executionId: 'env-invalid', input, data: input }),
    ).rejects.toMatchObject({ name: 'ValidationFailed', message: expect.stringContaining('input.psuRequested') });
    await expect(invoke(fetchHandler, { notAStep: true })).rejects.toMatchObject({ name: 'ValidationFailed' });
    expect((await dynamo.doc.send(new ScanCommand({ TableName: TABLE }))).Items?.length).toBe(before);
  });

  it('a bad environment is a ConfigurationError from the handler; unnamed errors become InternalError', async () => {
    const table = process.env.TABLE_NAME;
    delete process.env.TABLE_NAME;
    resetConfigForTests();
    resetStepDependenciesForTests();
    try {
      await expect(
        invoke(refreshHandler, { step: { id: 'refresh-balances', operation: REFRESH_OP }, input: {}, data: {} }),
      ).rejects.toMatchObject({ name: 'ConfigurationError', message: expect.stringContaining('TABLE_NAME') });
    } finally {
      process.env.TABLE_NAME = table;
      resetConfigForTests();
      resetStepDependenciesForTests();
    }
    const broken = createRefreshBalancesHandler(() => {
      throw new TypeError('boom');
    });
    await expect(
      invoke(broken, { step: { id: 'refresh-balances', operation: REFRESH_OP }, input: {}, data: {} }),
    ).rejects.toMatchObject({ name: 'InternalError', message: 'boom' });
  });
});
