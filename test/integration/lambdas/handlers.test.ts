/**
 * The two step handlers as the local runner and Lambda load them: module-scope dependencies built from environment
 * variables only (TABLE_NAME, POWENS_BASE_URL, POWENS_SECRET_FILE, TENANT_ID, AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION,
 * dummy credentials), talking to dynalite and the Powens sandbox over loopback.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { formatPowensDateTime } from '../../../lambdas/core/adapters/powens/datetime';
import { handler as refreshHandler, createRefreshBalancesHandler } from '../../../lambdas/refresh-balances/handler';
import { handler as fetchHandler } from '../../../lambdas/fetch-balances/handler';
import { resetConfigForTests } from '../../../lambdas/core/config';
import { resetStepDependenciesForTests } from '../../../lambdas/core/step-runtime';
import { logger } from '../../../lambdas/core/observability';
import { FAMILY_OFFICE_IDS } from '../../../infra/local/powens-sandbox';
import { STEP_FUNCTIONS } from '../../../infra/specs/bindings';
import { captureOutput, lambdaContext, useStepHandlerEnvironment } from './harness';

const C = FAMILY_OFFICE_IDS.connections;
const TABLE = 'balances-handlers';

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;
const invoke = (h: unknown, event: unknown) => (h as Handler)(event, lambdaContext());

describe('step handlers wired from environment variables', () => {
  const env = useStepHandlerEnvironment({
    table: TABLE,
    tenantId: 'martin-family',
    // The sandbox here has no limit; the shared budget still runs (its own tests are in powens/rate-budget).
    env: { POWENS_CALLS_PER_MINUTE: '6000', POWERTOOLS_SERVICE_NAME: 'balances-test' },
  });

  it('refresh then fetch as the state machine calls them: plain data in, plain output out', async () => {
    const input = { connectionIds: [C.claireBnp, C.louisBoursorama] };
    const executionId = 'arn:aws:states:local:0:execution:refresh:env-1';
    // Synced by Powens 8 h ago: stale for the default 360 min, and a bank access the PSD2 budget must count.
    env.sandbox.connection(C.claireBnp).last_update = formatPowensDateTime(new Date(Date.now() - 8 * 3_600_000));
    // refresh-balances asked for the execution id (execution markers): the machine adds it to the data.
    env.dynamo.operations.length = 0;
    const refresh = (await invoke(refreshHandler, { ...input, executionId })) as Record<string, unknown>;
    await invoke(refreshHandler, { ...input, executionId }); // a Step Functions retry of the same execution reads the finished markers
    const refreshCalls = [...env.dynamo.operations];
    const refreshPowensCalls = env.sandbox.requests.length;
    expect(refresh).toMatchObject({ summary: { synced: 1, needs_user_action: 1, skipped: 0, failed: 0 } });
    expect(refresh).not.toHaveProperty('executionId');

    // fetch-balances gets the workflow data: the input merged with refresh's output.
    env.dynamo.operations.length = 0;
    const fetch = (await invoke(fetchHandler, { ...input, ...refresh })) as {
      balances: { accountId: string }[];
      storage: unknown;
    };
    const fetchCalls = [...env.dynamo.operations];
    expect(fetch.balances.map((b) => b.accountId)).toEqual([
      '3101',
      '3102',
      '3103',
      '3104',
      '3105',
      '3106',
      '3121',
      '3122',
    ]);
    expect(fetch).not.toHaveProperty('summary');

    // Read back: the handler wrote to dynalite through AWS_ENDPOINT_URL_DYNAMODB, nothing else configured.
    const { Items } = await env.dynamo.doc.send(new ScanCommand({ TableName: TABLE }));
    expect(Items?.filter((i) => String(i.sk).startsWith('LATEST#'))).toHaveLength(8);
    expect(Items?.filter((i) => String(i.pk).startsWith('EXEC#'))).toHaveLength(2);
    // Every Powens call of fetch-balances reserved its slot in the shared budget (a conditional update each: the
    // only updates fetch-balances makes).
    const bucket = Items?.find((i) => i.pk === `RATE#${new URL(env.sandbox.baseUrl).host}`);
    expect(typeof bucket?.tat).toBe('number');
    expect(fetchCalls.filter((o) => o === 'UpdateItem').length).toBeGreaterThanOrEqual(
      env.sandbox.requests.length - refreshPowensCalls,
    );

    // Least privilege, from the code's side: what each handler sent is exactly what its role allows
    // (test/unit/infra/stack.test.ts checks the roles against the same bindings).
    const granted = (id: string) => [...(STEP_FUNCTIONS.find((b) => b.id === id)?.tableActions ?? [])].sort();
    const called = (operations: string[]) => [...new Set(operations.map((o) => `dynamodb:${o}`))].sort();
    expect(called(refreshCalls)).toEqual(granted('RefreshBalances'));
    expect(called(fetchCalls)).toEqual(granted('FetchBalances'));
  });

  it('never writes a token or the client secret to stdout/stderr, on success or failure', async () => {
    const secrets = [env.sandbox.secret.clientSecret, ...env.sandbox.secret.users.map((u) => u.token)];
    const ok = await captureOutput(async () => {
      await invoke(refreshHandler, { executionId: 'env-logs-1' });
      await invoke(fetchHandler, {});
    });
    env.sandbox.faults.failNext('GET', '/users/*/accounts', { kind: 'status', status: 401, code: 'invalidToken' }, 3);
    const failed = await captureOutput(() => invoke(fetchHandler, {}));
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
    const token = env.sandbox.secret.users[0]!.token;
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
    env.sandbox.faults.failNext('PUT', `/users/*/connections/${C.holdingHsbc}`, fault);
    // psuRequested: attended syncs are outside the PSD2 budget, which these repeated faulted PUTs would exhaust.
    const input = { connectionIds: [C.holdingHsbc], psuRequested: true, maxAgeMinutes: 0 };
    await expect(invoke(refreshHandler, { ...input, executionId: `env-fault-${name}` })).rejects.toMatchObject({
      name,
    });
  });

  it('invalid input → ValidationFailed, nothing written', async () => {
    const before = (await env.dynamo.doc.send(new ScanCommand({ TableName: TABLE }))).Items?.length;
    await expect(invoke(refreshHandler, { psuRequested: 'please', executionId: 'env-invalid' })).rejects.toMatchObject({
      name: 'ValidationFailed',
      message: expect.stringContaining('input.psuRequested'),
    });
    // refresh-balances (the entry step) rejects unknown fields of the execution input; fetch-balances reads only the
    // RefreshInput fields of the workflow data, still strictly typed.
    await expect(invoke(refreshHandler, { userIdz: [1] })).rejects.toMatchObject({
      name: 'ValidationFailed',
      message: expect.stringContaining('userIdz'),
    });
    await expect(invoke(fetchHandler, { connectionIds: ['x'], summary: {} })).rejects.toMatchObject({
      name: 'ValidationFailed',
    });
    await expect(invoke(fetchHandler, [])).rejects.toMatchObject({ name: 'ValidationFailed' });
    expect((await env.dynamo.doc.send(new ScanCommand({ TableName: TABLE }))).Items?.length).toBe(before);
  });

  it('a bad environment is a ConfigurationError from the handler; unnamed errors become InternalError', async () => {
    const table = process.env.TABLE_NAME;
    delete process.env.TABLE_NAME;
    resetConfigForTests();
    resetStepDependenciesForTests();
    try {
      await expect(invoke(refreshHandler, {})).rejects.toMatchObject({
        name: 'ConfigurationError',
        message: expect.stringContaining('TABLE_NAME'),
      });
    } finally {
      process.env.TABLE_NAME = table;
      resetConfigForTests();
      resetStepDependenciesForTests();
    }
    const broken = createRefreshBalancesHandler(() => {
      throw new TypeError('boom');
    });
    await expect(invoke(broken, {})).rejects.toMatchObject({ name: 'InternalError', message: 'boom' });
  });
});
