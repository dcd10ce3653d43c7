/**
 * PUT / DELETE / GET /users through the real API handler module (env-configured clients, middy, http-router) against
 * dynalite with the local key provider (TOKEN_KEY_FILE): the token goes in, is stored encrypted, and never comes out
 * in any answer or log line.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ENV } from '../../../lambdas/core/env-names';
import { USER_REGISTRY_API_TABLE_ACTIONS } from '../../../infra/stack';
import { generateLocalKey } from '../../../lambdas/core/adapters/keys/token-key-provider';
import { DUMMY_AWS_ENV, startDynalite, type LocalDynamo } from '../../support/dynalite';
import { apiEvent } from '../../support/api-events';

const TABLE = 'users-api-test';
const TENANT = 'family-office';
const TOKEN = 'powens-permanent-token-7f3a9c1e5b';

describe('/users routes (API handler + dynalite + local token key)', () => {
  let dynamo: LocalDynamo;
  let dir: string;
  let handler: (event: unknown, context: Context) => Promise<APIGatewayProxyResult>;
  const savedEnv = { ...process.env };
  const logs: string[] = [];
  let spies: jest.SpyInstance[] = [];

  beforeAll(async () => {
    dynamo = await startDynalite();
    await dynamo.createTable(TABLE);
    dir = await mkdtemp(join(tmpdir(), 'users-api-'));
    await writeFile(join(dir, 'key'), generateLocalKey());
    Object.assign(process.env, DUMMY_AWS_ENV, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      [ENV.tableName]: TABLE,
      [ENV.tenantId]: TENANT,
      [ENV.tokenKeyFile]: join(dir, 'key'),
      // Read lazily by the listing routes only; the /users routes never touch it.
      [ENV.cursorSecretId]: 'cursor-key-unused',
      [ENV.stateMachineArn]: 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh',
      [ENV.fanOutStateMachineArn]: 'arn:aws:states:eu-west-3:123456789012:stateMachine:FanOut',
    });
    ({ handler } = jest.requireActual<{ handler: typeof handler }>('../../../lambdas/api/handler'));
  });
  beforeEach(() => {
    spies = [process.stdout, process.stderr].map((stream) =>
      jest.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
        logs.push(String(chunk));
        return true;
      }),
    );
  });
  afterEach(() => spies.forEach((s) => s.mockRestore()));
  afterAll(async () => {
    process.env = savedEnv;
    await dynamo.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (method: string, userId: string | undefined, body?: unknown, query?: Record<string, string>) => {
    const event: APIGatewayProxyEvent = apiEvent(method, userId === undefined ? '/users' : '/users/{userId}', {
      path: userId === undefined ? '/users' : `/users/${userId}`,
      ...(userId === undefined ? {} : { pathParameters: { userId } }),
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });
    if (query) event.queryStringParameters = query;
    return handler(event, {} as Context);
  };

  it('PUT creates (201) then replaces (200); the answer and the table hold no token', async () => {
    const created = await call('PUT', '1001', { token: TOKEN, label: 'Claire' });
    expect(created.statusCode).toBe(201);
    expect(JSON.parse(created.body)).toMatchObject({
      created: true,
      user: { userId: 1001, label: 'Claire', status: 'active' },
    });
    const replaced = await call('PUT', '1001', { token: `${TOKEN}-2`, status: 'disabled' });
    expect(replaced.statusCode).toBe(200);
    expect(JSON.parse(replaced.body)).toMatchObject({ created: false, user: { userId: 1001, status: 'disabled' } });
    const { Items } = await dynamo.doc.send(new ScanCommand({ TableName: TABLE }));
    expect(Items).toHaveLength(1);
    for (const text of [created.body, replaced.body, JSON.stringify(Items)]) expect(text).not.toContain(TOKEN);
  });

  it('GET /users lists page by page without tokens', async () => {
    await call('PUT', '1002', { token: TOKEN });
    await call('PUT', '1003', { token: TOKEN });
    const first = await call('GET', undefined, undefined, { limit: '2' });
    const page = JSON.parse(first.body) as { users: { userId: number }[]; cursor?: string };
    expect(page.users.map((u) => u.userId)).toEqual([1001, 1002]);
    const second = JSON.parse(
      (await call('GET', undefined, undefined, { limit: '2', cursor: page.cursor as string })).body,
    );
    expect(second.users.map((u: { userId: number }) => u.userId)).toEqual([1003]);
    expect(first.body).not.toContain(TOKEN);
    expect((await call('GET', undefined, undefined, { limit: '5000' })).statusCode).toBe(400);
  });

  it('DELETE answers 204, then 404 for a user that is not there', async () => {
    expect((await call('DELETE', '1003')).statusCode).toBe(204);
    const again = await call('DELETE', '1003');
    expect(again.statusCode).toBe(404);
    expect(JSON.parse(again.body)).toEqual({ error: 'NotFound', message: 'User 1003 is not in the registry.' });
  });

  it.each([
    ['a non-numeric user id', 'abc', { token: TOKEN }, /positive integer Powens user id/],
    ['a body that is not JSON', '5', `{"token": "${TOKEN}"`, /not valid JSON/],
    ['no token', '5', { label: 'x' }, /token is required/],
    ['an unknown field', '5', { token: TOKEN, password: 'x' }, /Unknown field\(s\) "password"/],
    ['an unknown status', '5', { token: TOKEN, status: 'gone' }, /status must be one of active, disabled/],
    ['a blank token', '5', { token: '   ' }, /token must be a non-empty string of at most 4096/],
    ['a token over 4096 characters', '5', { token: `${TOKEN}${'x'.repeat(4096)}` }, /at most 4096 characters/],
    [
      'a label over 200 characters',
      '5',
      { token: TOKEN, label: 'l'.repeat(201) },
      /label must be a string of at most 200/,
    ],
    ['a label that is not a string', '5', { token: TOKEN, label: 42 }, /label must be a string/],
    ['a user id of 0', '0', { token: TOKEN }, /positive integer Powens user id/],
    ['a user id beyond 2^53', '99999999999999999', { token: TOKEN }, /positive integer Powens user id/],
  ])('PUT with %s → 400 BadRequest, nothing stored, token not echoed', async (_what, userId, body, message) => {
    const res = await call('PUT', userId, body);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'BadRequest', message: expect.stringMatching(message) });
    expect(res.body).not.toContain(TOKEN);
    const { Items } = await dynamo.doc.send(new ScanCommand({ TableName: TABLE }));
    expect(Items?.some((i) => i.userId === 5)).toBe(false);
  });

  it('the user routes call exactly the DynamoDB actions the stack grants them (USER_REGISTRY_API_TABLE_ACTIONS)', async () => {
    dynamo.operations.length = 0;
    await call('PUT', '77', { token: TOKEN });
    await call('GET', undefined);
    await call('DELETE', '77');
    expect([...new Set(dynamo.operations.map((o) => `dynamodb:${o}`))].sort()).toEqual(
      [...USER_REGISTRY_API_TABLE_ACTIONS].sort(),
    );
  });

  it('no log line written during these requests contains the token', () => {
    expect(logs.join('')).not.toContain(TOKEN);
  });
});
