/**
 * The refresh API's routing, validation and idempotency. Step Functions is the hand-written FakeSfn MOCK (see
 * test/support/fake-sfn.ts: no local Step Functions API exists); the balance store is an empty stub here — the real
 * store against dynalite is covered in test/integration/api/balances.test.ts.
 */
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { API_ROUTES, createApiHandler, createApiRoutes } from '../../../lambdas/api/app';
import type { ReadDeps } from '../../../lambdas/api/balances';
import { createCursorCodec } from '../../../lambdas/api/cursor';
import {
  DEDUP_WINDOW_MS,
  executionNameFor,
  parseRefreshBody,
  plannedExecution,
  refreshKindOf,
} from '../../../lambdas/api/refresh-request';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionArnFor } from '../../../lambdas/api/refreshes';
import { apiEvent } from '../../support/api-events';
import { FakeSfn } from '../../support/fake-sfn';

const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh';
const FAN_OUT_ARN = 'arn:aws:states:eu-west-3:123456789012:stateMachine:FanOut';
const machines = { stateMachineArn: STATE_MACHINE_ARN, fanOutStateMachineArn: FAN_OUT_ARN };
const T0 = new Date('2025-03-01T06:01:00.000Z');

/** Read side with an empty in-memory store stub (the real store on dynalite: test/integration/api/). */
function readDeps(overrides: Partial<ReadDeps['store']> = {}): ReadDeps {
  return {
    store: {
      listLatest: async () => [],
      listLatestPage: async () => ({ records: [] }),
      queryHistoryPage: async () => ({ records: [] }),
      getLatest: async () => undefined,
      ...overrides,
    },
    tenantId: 't1',
    maxAgeMinutes: 360,
    cursors: createCursorCodec(async () => Buffer.alloc(32, 7)),
    now: () => T0,
  };
}

function setup(start: Date = T0) {
  let now = start;
  const sfn = new FakeSfn(() => now);
  const unexpected: unknown[] = [];
  const handler = createApiHandler(
    {
      refresh: { sfn, ...machines, now: () => now },
      read: readDeps(),
      connections: async (filter) => ({ tenantId: 't1', filter }),
    },
    { onUnexpectedError: (error) => unexpected.push(error) },
  );
  const call = async (...args: Parameters<typeof apiEvent>) => {
    const res = (await handler(apiEvent(...args), {} as Context)) as APIGatewayProxyResult;
    return {
      status: res.statusCode,
      headers: res.headers ?? {},
      body: JSON.parse(res.body) as Record<string, unknown>,
    };
  };
  return { sfn, call, unexpected, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('routing', () => {
  it('answers 404 {error, message} for an unknown route or method, listing the routes', async () => {
    const { call } = setup();
    const unknown = await call('GET', '/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'NotFound', message: expect.stringContaining('POST /refreshes') });
    expect((await call('DELETE', '/balances')).status).toBe(404);
  });

  it('routes on the concrete path when there is no resource (direct invocation)', async () => {
    const { call } = setup();
    const res = await call('GET', undefined as unknown as string, { path: '/balances' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenantId: 't1', asOf: T0.toISOString(), maxAgeMinutes: 360, balances: [] });
  });

  it('answers 400 BadRequest to an event that is not a REST proxy event', async () => {
    const unexpected: unknown[] = [];
    const handler = createApiHandler({} as never, { onUnexpectedError: (error) => unexpected.push(error) });
    const res = (await handler({} as never, {} as Context)) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      error: 'BadRequest',
      message: expect.stringContaining('API Gateway REST proxy event'),
    });
    expect(unexpected).toEqual([]);
  });

  it('declares exactly the routes the stack exposes', () => {
    const routes = createApiRoutes({} as never).map((r) => ({ method: r.method, resource: r.path }));
    expect(routes).toEqual(API_ROUTES.map((r) => ({ ...r })));
  });

  it('turns an unexpected failure into a generic 500 without the exception text', async () => {
    const handler = createApiHandler({
      refresh: { sfn: new FakeSfn(() => T0), ...machines, now: () => T0 },
      read: readDeps({
        listLatestPage: async () => {
          throw new Error('dynamo said: account FR76 secret detail');
        },
      }),
      connections: async () => [],
    });
    const res = (await handler(apiEvent('GET', '/balances'), {} as Context)) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'InternalError', message: expect.stringContaining('req-test-1') });
    expect(res.body).not.toContain('FR76');
  });
});

describe('GET /connections', () => {
  it('passes needsUser=true|false through and rejects any other value with 400', async () => {
    const { call } = setup();
    expect((await call('GET', '/connections', { query: { needsUser: 'true' } })).body).toEqual({
      tenantId: 't1',
      filter: { needsUser: true },
    });
    expect((await call('GET', '/connections', { query: { needsUser: 'false' } })).body).toEqual({
      tenantId: 't1',
      filter: { needsUser: false },
    });
    expect((await call('GET', '/connections')).body).toEqual({ tenantId: 't1', filter: {} });
    const bad = await call('GET', '/connections', { query: { needsUser: 'yes' } });
    expect(bad).toMatchObject({
      status: 400,
      body: { error: 'BadRequest', message: expect.stringContaining('needsUser') },
    });
  });
});

describe('POST /refreshes', () => {
  it('rejects a body that is not JSON with 400 BadRequest', async () => {
    const { call, sfn } = setup();
    const res = await call('POST', '/refreshes', { body: '{"userIds": [1,' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('BadRequest');
    expect(res.body.message).toMatch(/not valid JSON/);
    expect(sfn.calls).toEqual([]);
  });

  it.each([
    [
      'unknown field',
      '{"everything": true}',
      /body has unknown property "everything" \(allowed: userIds, connectionIds, psuRequested, requestId/,
    ],
    ['wrong type', '{"userIds": ["1"]}', /body\.userIds\.0 must be integer/],
    ['bad requestId', '{"requestId": "a b"}', /body\.requestId must match pattern/],
  ])('rejects a schema violation (%s) with 400 naming the field', async (_case, body, message) => {
    const { call } = setup();
    const res = await call('POST', '/refreshes', { body });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });

  it('named users: starts the seed machine and answers 202 {executionArn, executionName, startDate, kind}', async () => {
    const { call, sfn } = setup();
    const res = await call('POST', '/refreshes', { body: '{"userIds":[2,1],"maxAgeMinutes":60}' });
    expect(res.status).toBe(202);
    const name = executionNameFor({ userIds: [1, 2], maxAgeMinutes: 60 }, T0);
    expect(res.body).toEqual({
      executionArn: executionArnFor(STATE_MACHINE_ARN, name),
      executionName: name,
      startDate: T0.toISOString(),
      kind: 'seed',
    });
    expect(res.headers.location).toBe(`/refreshes/${name}`);
    // The execution input is the normalised body: same meaning, same bytes (maxAgeMinutes included).
    expect([...sfn.executions.values()]).toEqual([
      expect.objectContaining({ stateMachineArn: STATE_MACHINE_ARN, input: '{"userIds":[1,2],"maxAgeMinutes":60}' }),
    ]);
  });

  it('everyone (no userIds, no connectionIds): starts the FAN-OUT machine with {} or {maxAgeMinutes}', async () => {
    const { call, sfn } = setup();
    const all = await call('POST', '/refreshes', { body: '{"psuRequested":false}' });
    const fresh = await call('POST', '/refreshes', { body: '{"maxAgeMinutes":0,"requestId":"nightly-1"}' });
    expect(all).toMatchObject({ status: 202, body: { kind: 'fan-out' } });
    expect(all.body.executionName).toMatch(/^fanout-auto-20250301T0600-[0-9a-f]{16}$/);
    expect(all.body.executionArn).toBe(executionArnFor(FAN_OUT_ARN, String(all.body.executionName)));
    expect(all.headers.location).toBe(`/refreshes/${String(all.body.executionName)}`);
    expect(fresh.body).toMatchObject({ kind: 'fan-out', executionName: 'fanout-req-nightly-1' });
    // The fan-out contract: {} or {"maxAgeMinutes": n}; the requestId lives in the name only.
    expect([...sfn.executions.values()].map(({ stateMachineArn, input }) => ({ stateMachineArn, input }))).toEqual([
      { stateMachineArn: FAN_OUT_ARN, input: '{}' },
      { stateMachineArn: FAN_OUT_ARN, input: '{"maxAgeMinutes":0}' },
    ]);
  });

  it('connections without users: the seed machine, as before', async () => {
    const { call, sfn } = setup();
    const res = await call('POST', '/refreshes', { body: '{"connectionIds":[9,4]}' });
    expect(res.body).toMatchObject({ kind: 'seed', executionName: expect.stringMatching(/^auto-/) });
    expect([...sfn.executions.values()][0]).toMatchObject({
      stateMachineArn: STATE_MACHINE_ARN,
      input: '{"connectionIds":[4,9]}',
    });
  });

  it.each([
    ['alone', '{"psuRequested":true}'],
    ['with a maxAgeMinutes', '{"psuRequested":true,"maxAgeMinutes":0}'],
  ])('psuRequested:true naming no one (%s) is a 400 naming the field, nothing started', async (_case, body) => {
    const { call, sfn } = setup();
    const res = await call('POST', '/refreshes', { body });
    expect(res).toMatchObject({
      status: 400,
      body: {
        error: 'BadRequest',
        message: expect.stringContaining('body.psuRequested=true requires body.userIds or body.connectionIds'),
      },
    });
    expect(sfn.calls).toEqual([]);
  });

  it('psuRequested:true with connections only starts the seed machine with it (the holder of those is present)', async () => {
    const { call, sfn } = setup();
    const res = await call('POST', '/refreshes', { body: '{"psuRequested":true,"connectionIds":[4]}' });
    expect(res).toMatchObject({ status: 202, body: { kind: 'seed' } });
    expect([...sfn.executions.values()][0]?.input).toBe('{"connectionIds":[4],"psuRequested":true}');
  });

  it('psuRequested:true with userIds starts the seed machine with it', async () => {
    const { call, sfn } = setup();
    const res = await call('POST', '/refreshes', { body: '{"psuRequested":true,"userIds":[3]}' });
    expect(res.body.kind).toBe('seed');
    expect([...sfn.executions.values()][0]?.input).toBe('{"userIds":[3],"psuRequested":true}');
  });

  it('treats an empty or base64 body like {} / the decoded JSON', async () => {
    const { call, sfn } = setup();
    const empty = await call('POST', '/refreshes', { body: null });
    const braces = await call('POST', '/refreshes', { body: '{}', base64: true });
    expect(empty).toMatchObject({ status: 202, body: { kind: 'fan-out' } });
    expect(braces.body.executionName).toBe(empty.body.executionName);
    expect(sfn.executions.size).toBe(1);
  });

  it.each([
    ['seed', '{"connectionIds":[7,3],"psuRequested":false}', '{"connectionIds":[3,7]}'],
    ['fan-out', '{"psuRequested":false}', '{}'],
  ])(
    'double submit of the same body in the same 5-minute window starts ONE execution (%s)',
    async (kind, firstBody, sameMeaning) => {
      const { call, sfn, advance } = setup();
      const first = await call('POST', '/refreshes', { body: firstBody });
      expect(first.body.kind).toBe(kind);
      advance(60_000);
      const second = await call('POST', '/refreshes', { body: sameMeaning });
      expect(second.status).toBe(202);
      expect(second.body).toEqual(first.body); // same execution, original start date
      expect(sfn.executions.size).toBe(1);
      // Also when the first execution is already finished (StartExecution then throws ExecutionAlreadyExists).
      sfn.finish(String(first.body.executionName), { output: '{}' });
      const third = await call('POST', '/refreshes', { body: sameMeaning });
      expect(third.status).toBe(202);
      expect(third.body).toEqual(first.body);
      expect(sfn.executions.size).toBe(1);
    },
  );

  it('starts a new execution in the next window, and for a different body', async () => {
    const { call, sfn, advance } = setup();
    const first = await call('POST', '/refreshes', { body: '{}' });
    const other = await call('POST', '/refreshes', { body: '{"userIds":[1]}' });
    const staler = await call('POST', '/refreshes', { body: '{"maxAgeMinutes":30}' });
    advance(DEDUP_WINDOW_MS);
    const later = await call('POST', '/refreshes', { body: '{}' });
    const names = [first, other, staler, later].map((r) => r.body.executionName);
    expect(new Set(names).size).toBe(4);
    expect(sfn.executions.size).toBe(4);
  });

  it('derives the name from requestId regardless of time; reusing it with another body is a 409', async () => {
    const { call, advance } = setup();
    const first = await call('POST', '/refreshes', { body: '{"requestId":"abc-1","userIds":[5]}' });
    expect(first.body).toMatchObject({ executionName: 'req-abc-1', kind: 'seed' });
    advance(7 * 24 * 3600_000);
    const again = await call('POST', '/refreshes', { body: '{"requestId":"abc-1","userIds":[5]}' });
    expect(again).toMatchObject({ status: 202, body: first.body });
    const clash = await call('POST', '/refreshes', { body: '{"requestId":"abc-1","userIds":[6]}' });
    expect(clash.status).toBe(409);
    expect(clash.body).toEqual({ error: 'Conflict', message: expect.stringContaining('req-abc-1') });
  });

  it('fan-out runs are idempotent by requestId too: same body → same execution, another body → 409', async () => {
    const { call, sfn, advance } = setup();
    const first = await call('POST', '/refreshes', { body: '{"requestId":"all-1","maxAgeMinutes":60}' });
    expect(first.body).toMatchObject({ executionName: 'fanout-req-all-1', kind: 'fan-out' });
    advance(7 * 24 * 3600_000);
    sfn.finish('fanout-req-all-1', { output: '{"users":2,"succeeded":2,"failed":0}' });
    const again = await call('POST', '/refreshes', { body: '{"maxAgeMinutes":60,"requestId":"all-1"}' });
    expect(again).toMatchObject({ status: 202, body: first.body });
    const other = await call('POST', '/refreshes', { body: '{"requestId":"all-1","maxAgeMinutes":0}' });
    expect(other).toMatchObject({ status: 409, body: { message: expect.stringContaining('fanout-req-all-1') } });
    expect(sfn.executions.size).toBe(1);
  });

  it('a requestId names ONE refresh across both machines: reusing it for a body of the other kind is a 409', async () => {
    const { call, sfn } = setup();
    await call('POST', '/refreshes', { body: '{"requestId":"x-1"}' }); // fan-out
    const users = await call('POST', '/refreshes', { body: '{"requestId":"x-1","userIds":[1]}' });
    expect(users).toMatchObject({ status: 409, body: { message: expect.stringContaining('fanout-req-x-1') } });
    await call('POST', '/refreshes', { body: '{"requestId":"y-1","connectionIds":[2]}' }); // seed
    const everyone = await call('POST', '/refreshes', { body: '{"requestId":"y-1"}' });
    expect(everyone).toMatchObject({ status: 409, body: { message: expect.stringContaining('req-y-1') } });
    expect([...sfn.executions.keys()]).toEqual([
      executionArnFor(FAN_OUT_ARN, 'fanout-req-x-1'),
      executionArnFor(STATE_MACHINE_ARN, 'req-y-1'),
    ]);
  });

  it('a retry of a request the seed machine ran before fan-out routing gets that execution, not a second refresh', async () => {
    const { call, sfn } = setup();
    // What the API started for {"requestId":"old-1"} until it routed such bodies to the fan-out.
    const legacy = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'req-old-1',
        input: '{"requestId":"old-1"}',
      }),
    );
    const retry = await call('POST', '/refreshes', { body: '{"requestId":"old-1"}' });
    expect(retry).toMatchObject({
      status: 202,
      body: { executionArn: legacy.executionArn, executionName: 'req-old-1', kind: 'seed' },
    });
    expect(sfn.executions.size).toBe(1);
  });
});

describe('GET /refreshes/{id}', () => {
  const get = (call: ReturnType<typeof setup>['call'], name: string) =>
    call('GET', '/refreshes/{id}', { path: `/refreshes/${name}`, pathParameters: { id: name } });

  it('seed run: status and the parsed output of a finished execution', async () => {
    const { call, sfn } = setup();
    const started = await call('POST', '/refreshes', { body: '{"userIds":[1]}' });
    const name = String(started.body.executionName);
    const running = await get(call, name);
    expect(running.body).toMatchObject({ status: 'RUNNING', executionName: name, kind: 'seed' });
    expect(running.body).not.toHaveProperty('output');
    sfn.finish(name, { output: '{"balances":{"count":3}}' });
    const done = await get(call, name);
    expect(done).toMatchObject({
      status: 200,
      body: { status: 'SUCCEEDED', kind: 'seed', output: { balances: { count: 3 } } },
    });
  });

  it('fan-out run: kind fan-out, described on the fan-out machine only, output = the summary', async () => {
    const { call, sfn } = setup();
    const started = await call('POST', '/refreshes', { body: '{}' });
    const name = String(started.body.executionName);
    sfn.calls.length = 0;
    const running = await get(call, name);
    expect(running.body).toMatchObject({
      status: 'RUNNING',
      kind: 'fan-out',
      executionName: name,
      executionArn: executionArnFor(FAN_OUT_ARN, name),
    });
    expect(sfn.calls).toEqual([`DescribeExecution ${executionArnFor(FAN_OUT_ARN, name)}`]);
    const summary = { users: 3, succeeded: 2, failed: 1, failedUserIds: [7], failedUserIdsTruncated: false, pages: 1 };
    sfn.finish(name, { output: JSON.stringify(summary) });
    expect((await get(call, name)).body).toMatchObject({ status: 'SUCCEEDED', kind: 'fan-out', output: summary });
  });

  it('finds a fan-out execution the API did not name (the schedule’s) after the seed machine', async () => {
    const { call, sfn } = setup();
    const scheduled = 'c2b3f5a0-6f2e-4a7e-9d1e-1a2b3c4d5e6f';
    await sfn.send(new StartExecutionCommand({ stateMachineArn: FAN_OUT_ARN, name: scheduled, input: '{}' }));
    sfn.finish(scheduled, { status: 'FAILED', error: 'States.ExceedToleratedFailureThreshold', cause: 'too many' });
    const res = await get(call, scheduled);
    expect(res).toMatchObject({
      status: 200,
      body: {
        kind: 'fan-out',
        status: 'FAILED',
        error: 'States.ExceedToleratedFailureThreshold',
        executionArn: executionArnFor(FAN_OUT_ARN, scheduled),
      },
    });
  });

  it('answers 404 for an unknown execution (either machine) and 400 for a malformed id', async () => {
    const { call, sfn } = setup();
    const missing = await get(call, 'nope');
    expect(missing).toEqual({
      status: 404,
      headers: expect.anything(),
      body: { error: 'NotFound', message: 'No refresh named nope.' },
    });
    expect(sfn.calls).toEqual([
      `DescribeExecution ${executionArnFor(STATE_MACHINE_ARN, 'nope')}`,
      `DescribeExecution ${executionArnFor(FAN_OUT_ARN, 'nope')}`,
    ]);
    expect((await get(call, 'fanout-nope')).status).toBe(404);
    const bad = await call('GET', '/refreshes/{id}', { path: '/refreshes/a:b', pathParameters: { id: 'a:b' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('BadRequest');
  });
});

describe('execution names', () => {
  it('are stable within a window, valid Step Functions names, and ignore defaults and id order', () => {
    const a = executionNameFor({ userIds: [3, 1], psuRequested: false }, new Date('2025-03-01T06:00:00Z'));
    const b = executionNameFor({ userIds: [1, 3] }, new Date('2025-03-01T06:04:59.999Z'));
    const c = executionNameFor({ userIds: [1, 3] }, new Date('2025-03-01T06:05:00Z'));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(a).toMatch(/^auto-20250301T0600-[0-9a-f]{16}$/);
    expect(executionNameFor({ requestId: 'x'.repeat(64) }, T0).length).toBeLessThanOrEqual(80);
  });

  it('fan-out names are the seed name behind a prefix no seed name has, so a name selects its machine', () => {
    const everyone = plannedExecution({ requestId: 'x'.repeat(64) }, T0);
    expect(everyone).toEqual({ kind: 'fan-out', executionName: `fanout-req-${'x'.repeat(64)}`, executionInput: '{}' });
    expect(everyone.executionName.length).toBeLessThanOrEqual(80);
    expect(plannedExecution({}, T0).executionName).toBe(`fanout-${executionNameFor({}, T0)}`);
    expect(refreshKindOf({ userIds: [1], connectionIds: [2] })).toBe('seed');
    expect(refreshKindOf({ maxAgeMinutes: 5, psuRequested: false })).toBe('fan-out');
  });

  it('parseRefreshBody accepts the documented example', () => {
    expect(parseRefreshBody('{"userIds":[1],"connectionIds":[2],"psuRequested":true,"requestId":"r1"}')).toEqual({
      userIds: [1],
      connectionIds: [2],
      psuRequested: true,
      requestId: 'r1',
    });
  });
});

describe('odd shapes (direct invocations): a named 4xx, bounded, never a 500', () => {
  const raw = async (event: unknown) => {
    const { sfn, unexpected } = setup();
    const handler = createApiHandler(
      {
        refresh: { sfn, ...machines, now: () => T0 },
        read: readDeps(),
        connections: async () => ({ connections: [] }),
      },
      { onUnexpectedError: (error) => unexpected.push(error) },
    );
    const res = (await handler(event as never, {} as Context)) as APIGatewayProxyResult;
    return {
      status: res.statusCode,
      body: JSON.parse(res.body) as { error: string; message: string },
      size: res.body.length,
      sfn,
      unexpected,
    };
  };

  it.each([
    ['null', null, /got null/],
    ['an array', [apiEvent('GET', '/balances')], /got an array/],
    ['a number', 42, /got number/],
    ['a non-string body', { ...apiEvent('POST', '/refreshes'), body: { userIds: [1] } }, /body must be a string/],
    [
      'pathParameters of numbers',
      { ...apiEvent('GET', '/refreshes/{id}', { path: '/refreshes/x' }), pathParameters: { id: 7 } },
      /pathParameters/,
    ],
  ])('%s → 400 BadRequest', async (_case, event, message) => {
    const res = await raw(event);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'BadRequest', message: expect.stringMatching(message) });
    expect(res.unexpected).toEqual([]);
  });

  it('malformed percent-encoding in the path, no pathParameters → 400 naming the id', async () => {
    const res = await raw(apiEvent('GET', '/refreshes/{id}', { path: '/refreshes/%E0%A4%A' }));
    expect(res).toMatchObject({
      status: 400,
      body: { error: 'BadRequest', message: expect.stringContaining('Invalid refresh id') },
    });
  });

  it('a body above 64 KiB → 413, nothing started', async () => {
    const res = await raw(
      apiEvent('POST', '/refreshes', { body: JSON.stringify({ userIds: [1], pad: 'x'.repeat(70_000) }) }),
    );
    expect(res).toMatchObject({ status: 413, body: { error: 'BadRequest' } });
    expect(res.sfn.calls).toEqual([]);
  });

  it('thousands of unknown keys → the first 10 problems, each bounded (the response stays small)', async () => {
    const body = JSON.stringify(
      Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`k${i}_${'z'.repeat(8)}`, i])),
    );
    const res = await raw(apiEvent('POST', '/refreshes', { body }));
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('… and 2990 more problem(s)');
    expect(res.size).toBeLessThan(3_000);
  });

  it('an id above 2^53 is refused, not rounded to another id', async () => {
    const res = await raw(apiEvent('POST', '/refreshes', { body: '{"connectionIds":[9007199254740993]}' }));
    expect(res).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('body.connectionIds.0 must be a safe integer') },
    });
  });
});
