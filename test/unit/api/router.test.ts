/**
 * The refresh API's routing, validation and idempotency. Step Functions is the hand-written FakeSfn MOCK (see
 * fake-sfn.ts: no local Step Functions API exists); the balance store is an empty stub here — the real store against
 * dynalite is covered in test/integration/api/balances.test.ts.
 */
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { API_ROUTES, createApiHandler, createApiRoutes } from '../../../lambdas/api/app';
import type { ReadDeps } from '../../../lambdas/api/balances';
import { createCursorCodec } from '../../../lambdas/api/cursor';
import { DEDUP_WINDOW_MS, executionNameFor, parseRefreshBody } from '../../../lambdas/api/refresh-request';
import { executionArnFor } from '../../../lambdas/api/refreshes';
import { apiEvent } from './events';
import { FakeSfn } from './fake-sfn';

const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh';
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
      refresh: { sfn, stateMachineArn: STATE_MACHINE_ARN, now: () => now },
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
      refresh: { sfn: new FakeSfn(() => T0), stateMachineArn: STATE_MACHINE_ARN, now: () => T0 },
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

  it('starts an execution and answers 202 {executionArn, executionName, startDate}', async () => {
    const { call, sfn } = setup();
    const res = await call('POST', '/refreshes', { body: '{"userIds":[2,1]}' });
    expect(res.status).toBe(202);
    const name = executionNameFor({ userIds: [1, 2] }, T0);
    expect(res.body).toEqual({
      executionArn: executionArnFor(STATE_MACHINE_ARN, name),
      executionName: name,
      startDate: T0.toISOString(),
    });
    expect(res.headers.location).toBe(`/refreshes/${name}`);
    // The execution input is the normalised body: same meaning, same bytes.
    expect([...sfn.executions.values()][0]?.input).toBe('{"userIds":[1,2]}');
  });

  it('treats an empty or base64 body like {} / the decoded JSON', async () => {
    const { call, sfn } = setup();
    const empty = await call('POST', '/refreshes', { body: null });
    const braces = await call('POST', '/refreshes', { body: '{}', base64: true });
    expect(empty.status).toBe(202);
    expect(braces.body.executionName).toBe(empty.body.executionName);
    expect(sfn.executions.size).toBe(1);
  });

  it('double submit of the same body in the same 5-minute window starts ONE execution', async () => {
    const { call, sfn, advance } = setup();
    const first = await call('POST', '/refreshes', { body: '{"connectionIds":[7,3],"psuRequested":false}' });
    advance(60_000);
    const second = await call('POST', '/refreshes', { body: '{"connectionIds":[3,7]}' });
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body); // same execution, original start date
    expect(sfn.executions.size).toBe(1);
    // Also when the first execution is already finished (StartExecution then throws ExecutionAlreadyExists).
    sfn.finish(String(first.body.executionName), { output: '{}' });
    const third = await call('POST', '/refreshes', { body: '{"connectionIds":[3,7]}' });
    expect(third.status).toBe(202);
    expect(third.body).toEqual(first.body);
    expect(sfn.executions.size).toBe(1);
  });

  it('starts a new execution in the next window, and for a different body', async () => {
    const { call, sfn, advance } = setup();
    const first = await call('POST', '/refreshes', { body: '{}' });
    const other = await call('POST', '/refreshes', { body: '{"userIds":[1]}' });
    advance(DEDUP_WINDOW_MS);
    const later = await call('POST', '/refreshes', { body: '{}' });
    expect(new Set([first.body.executionName, other.body.executionName, later.body.executionName]).size).toBe(3);
    expect(sfn.executions.size).toBe(3);
  });

  it('derives the name from requestId regardless of time; reusing it with another body is a 409', async () => {
    const { call, advance } = setup();
    const first = await call('POST', '/refreshes', { body: '{"requestId":"abc-1"}' });
    expect(first.body.executionName).toBe('req-abc-1');
    advance(7 * 24 * 3600_000);
    const again = await call('POST', '/refreshes', { body: '{"requestId":"abc-1"}' });
    expect(again).toMatchObject({ status: 202, body: first.body });
    const clash = await call('POST', '/refreshes', { body: '{"requestId":"abc-1","userIds":[5]}' });
    expect(clash.status).toBe(409);
    expect(clash.body).toEqual({ error: 'Conflict', message: expect.stringContaining('req-abc-1') });
  });
});

describe('GET /refreshes/{id}', () => {
  it('returns status and the parsed output of a finished execution', async () => {
    const { call, sfn } = setup();
    const started = await call('POST', '/refreshes', { body: '{}' });
    const name = String(started.body.executionName);
    const running = await call('GET', '/refreshes/{id}', { path: `/refreshes/${name}`, pathParameters: { id: name } });
    expect(running.body).toMatchObject({ status: 'RUNNING', executionName: name });
    expect(running.body).not.toHaveProperty('output');
    sfn.finish(name, { output: '{"balances":{"count":3}}' });
    const done = await call('GET', '/refreshes/{id}', { path: `/refreshes/${name}`, pathParameters: { id: name } });
    expect(done).toMatchObject({ status: 200, body: { status: 'SUCCEEDED', output: { balances: { count: 3 } } } });
  });

  it('answers 404 for an unknown execution and 400 for a malformed id', async () => {
    const { call } = setup();
    const missing = await call('GET', '/refreshes/{id}', { path: '/refreshes/nope', pathParameters: { id: 'nope' } });
    expect(missing).toEqual({
      status: 404,
      headers: expect.anything(),
      body: { error: 'NotFound', message: 'No refresh named nope.' },
    });
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
        refresh: { sfn, stateMachineArn: STATE_MACHINE_ARN, now: () => T0 },
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
