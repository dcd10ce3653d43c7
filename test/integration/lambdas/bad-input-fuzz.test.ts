/**
 * Bad input, fuzzed: every handler gets ≥ 1,000 seeded odd events (null, arrays, numbers, non-string bodies,
 * malformed percent-encoding, huge bodies, thousands of unknown keys, ids above 2^53, non-string execution ids...)
 * and must answer each with a named error (API: a 4xx JSON `{error, message}`; steps: a classified StepError such as
 * ValidationFailed), never a crash or a 500, with a bounded message — and a rejected input changes nothing in
 * DynamoDB (dynalite records every operation it receives). Real handlers, real dynalite, real Powens env.sandbox.
 * A failure names its seed and index: rerun with FUZZ_SEED=<seed> to reproduce.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { handler as refreshHandler } from '../../../lambdas/refresh-balances/handler';
import { handler as fetchHandler } from '../../../lambdas/fetch-balances/handler';
import { createApiHandler } from '../../../lambdas/api/app';
import { createCursorCodec } from '../../../lambdas/api/cursor';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { isClassifiedErrorName } from '../../../lambdas/core/errors';
import { FAMILY_OFFICE_IDS } from '../../../infra/local/powens-sandbox';
import { createRng, jsonValue, manyKeys, mutate, refreshInputLike, type Rng } from '../../support/fuzz';
import { apiEvent } from '../../support/api-events';
import { FakeSfn } from '../../support/fake-sfn';
import { lambdaContext, useStepHandlerEnvironment } from './harness';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const EVENTS_PER_HANDLER = 1_000;
/** No error message may exceed this (the validation messages are capped well below it). */
const MAX_MESSAGE_CHARS = 4_096;
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const TABLE = 'balances-fuzz';
const STATE_MACHINE_ARN = 'arn:aws:states:eu-west-3:123456789012:stateMachine:Refresh';
const FAN_OUT_STATE_MACHINE_ARN = 'arn:aws:states:eu-west-3:123456789012:stateMachine:FanOut';

const known = {
  users: Object.values(FAMILY_OFFICE_IDS.users),
  connections: Object.values(FAMILY_OFFICE_IDS.connections),
};

type Invoke = (event: unknown) => Promise<unknown>;
interface Generated {
  event: unknown;
  /** Why the event must be rejected, when it certainly must. */
  mustReject: string | undefined;
}

describe('bad input, fuzzed (seeded)', () => {
  const env = useStepHandlerEnvironment({
    table: TABLE,
    tenantId: 'fuzz-family',
    env: {
      POWERTOOLS_SERVICE_NAME: 'fuzz',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      // The shared Powens rate budget is not under test here: a realistic limit would make the accepted events wait.
      POWENS_CALLS_PER_MINUTE: '1000000',
      POWENS_RATE_BURST: '999999',
    },
  });

  /** Table items a rejected input must not change (the Powens rate bucket counts calls really made, so it may). */
  async function businessItems(): Promise<string> {
    const { Items = [] } = await env.dynamo.doc.send(new ScanCommand({ TableName: TABLE }));
    return JSON.stringify(
      Items.filter((item) => !String(item.pk).startsWith('RATE#')).sort((a, b) =>
        `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`),
      ),
    );
  }

  /**
   * Runs `count` generated events through a step handler; returns what went wrong (empty when all is well).
   * Accepted events do real work (Powens sandbox, writes); rejected ones must be classified and write nothing.
   */
  async function fuzzStep(
    invoke: Invoke,
    generate: (rng: Rng, i: number) => Generated,
  ): Promise<{ problems: string[]; rejected: number }> {
    const rng = createRng(SEED);
    const problems: string[] = [];
    let rejected = 0;
    // The table as it was before the current event; rescanned only after an event that wrote.
    let snapshot = await businessItems();
    for (let i = 0; i < EVENTS_PER_HANDLER; i++) {
      const { event, mustReject } = generate(rng, i);
      const before = env.dynamo.operations.length;
      const itemsBefore = snapshot;
      const where = `seed ${SEED} #${i} ${JSON.stringify(event)?.slice(0, 200)}`;
      try {
        await invoke(event);
        if (mustReject) problems.push(`${where}: accepted, but ${mustReject}`);
      } catch (error) {
        rejected += 1;
        const name = (error as { name?: unknown }).name;
        const message = String((error as { message?: unknown }).message);
        if (typeof name !== 'string' || !isClassifiedErrorName(name) || name === 'InternalError') {
          problems.push(`${where}: unclassified ${String(name)}: ${message.slice(0, 300)}`);
        }
        if (message.length > MAX_MESSAGE_CHARS) problems.push(`${where}: ${name} message of ${message.length} chars`);
        if (name === 'ValidationFailed') {
          const wrote = env.dynamo.operations.slice(before).some((op) => WRITES.has(op));
          if (wrote && (await businessItems()) !== itemsBefore)
            problems.push(`${where}: rejected but changed the table`);
        }
      }
      if (env.dynamo.operations.slice(before).some((op) => WRITES.has(op))) snapshot = await businessItems();
      if (problems.length >= 10) break;
    }
    return { problems, rejected };
  }

  const invokeStep =
    (h: unknown): Invoke =>
    (event) =>
      (h as (e: unknown, c: Context) => Promise<unknown>)(event, lambdaContext());

  /** Ids that JSON cannot carry exactly: any input holding one must be refused, not rounded to another id. */
  const unsafeId = (input: unknown): boolean =>
    typeof input === 'object' &&
    input !== null &&
    ['userIds', 'connectionIds'].some((key) => {
      const ids = (input as Record<string, unknown>)[key];
      return Array.isArray(ids) && ids.some((id) => typeof id === 'number' && id > Number.MAX_SAFE_INTEGER);
    });

  /**
   * A step event as the state machine sends it (the workflow data; plus `executionId` for refresh-balances, which
   * asks for it), then bent out of shape: the fields, the execution id, the whole event.
   * `mustReject` says why, when the event is certainly invalid (accepting it is then a failure too).
   */
  function stepEvent(rng: Rng, i: number, withExecutionId: boolean): Generated {
    const input = refreshInputLike(rng, known);
    const isObject = typeof input === 'object' && input !== null && !Array.isArray(input);
    const event =
      withExecutionId && isObject ? { ...input, executionId: `arn:aws:states:local:0:execution:fuzz:${i}` } : input;
    const idProblem = unsafeId(input) ? 'it holds an id above 2^53' : undefined;
    const notObject = (value: unknown) =>
      value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))
        ? 'it is not a JSON object'
        : undefined;
    switch (rng.int(5)) {
      case 0: {
        const value = jsonValue(rng);
        return { event: value, mustReject: notObject(value) };
      }
      case 1:
        return {
          event: isObject
            ? mutate(rng, event as Record<string, unknown>, ['executionId', 'userIds', 'connectionIds', 'psuRequested'])
            : event,
          mustReject: undefined,
        };
      case 2:
        if (withExecutionId && isObject) {
          return {
            event: { ...(event as object), executionId: rng.pick([{}, [], 42, null, true, '', 'x'.repeat(5_000)]) },
            mustReject: 'its executionId is no execution id',
          };
        }
        return { event, mustReject: idProblem ?? notObject(event) };
      default:
        return { event, mustReject: idProblem ?? notObject(event) };
    }
  }

  it(`refresh-balances: ${EVENTS_PER_HANDLER} generated events, each answered or rejected by name, rejections write nothing`, async () => {
    const { problems, rejected } = await fuzzStep(invokeStep(refreshHandler), (rng, i) => stepEvent(rng, i, true));
    expect(problems).toEqual([]);
    expect(rejected).toBeGreaterThan(EVENTS_PER_HANDLER / 4); // the generator does produce bad input
  }, 600_000);

  it(`fetch-balances: ${EVENTS_PER_HANDLER} generated events, each answered or rejected by name, rejections write nothing`, async () => {
    const { problems, rejected } = await fuzzStep(invokeStep(fetchHandler), (rng, i) => stepEvent(rng, i, false));
    expect(problems).toEqual([]);
    expect(rejected).toBeGreaterThan(EVENTS_PER_HANDLER / 4);
  }, 600_000);

  it(`refresh-api: ${EVENTS_PER_HANDLER} generated events on every route, always a 2xx or a named 4xx, rejections start nothing`, async () => {
    const sfn = new FakeSfn(() => new Date('2025-03-01T06:00:00.000Z'));
    const unexpected: unknown[] = [];
    const store = createBalanceStore({ client: env.dynamo.doc, tableName: TABLE });
    const handler = createApiHandler(
      {
        refresh: {
          sfn,
          stateMachineArn: STATE_MACHINE_ARN,
          fanOutStateMachineArn: FAN_OUT_STATE_MACHINE_ARN,
          now: () => new Date('2025-03-01T06:00:00.000Z'),
        },
        read: {
          store,
          tenantId: 'fuzz-family',
          maxAgeMinutes: 360,
          cursors: createCursorCodec(async () => Buffer.alloc(32, 7)),
          now: () => new Date(),
        },
        connections: async () => ({ connections: [] }),
      },
      { onUnexpectedError: (error) => unexpected.push(error) },
    );
    const rng = createRng(SEED);
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    const templates = [
      () => apiEvent('POST', '/refreshes', { body: JSON.stringify(refreshInputLike(rng, known)) }),
      () =>
        apiEvent('GET', '/refreshes/{id}', {
          path: `/refreshes/${rng.pick(['auto-1', '%E0%A4%A', '%zz', 'a'.repeat(100), 'req-x', 'fanout-req-x'])}`,
          pathParameters: rng.chance(0.5) ? { id: 'auto-1' } : undefined,
        }),
      () => apiEvent('GET', '/balances'),
      () => ({
        ...apiEvent('GET', rng.pick(['/balances', '/positions'])),
        queryStringParameters: rng.chance(0.5)
          ? { limit: String(jsonValue(rng, 0)), cursor: String(jsonValue(rng, 0)) }
          : (jsonValue(rng, 1) as null),
      }),
      () => {
        const id = String(
          rng.chance(0.5)
            ? rng.pick(['3101', '9007199254740993', '%E0%A4%A', '-1', 'x'.repeat(300)])
            : jsonValue(rng, 0),
        );
        return {
          ...apiEvent('GET', '/accounts/{accountId}/history', {
            path: `/accounts/${id}/history`,
            pathParameters: rng.chance(0.5) ? { accountId: id } : undefined,
          }),
          queryStringParameters: rng.chance(0.5)
            ? { from: String(jsonValue(rng, 0)), to: '2025-01-01T00:00:00Z' }
            : null,
        };
      },
      () =>
        apiEvent('POST', '/refreshes', {
          body: rng.chance(0.5) ? 'x'.repeat(256 * 1024) : JSON.stringify(manyKeys(rng)),
        }),
    ];
    const keys = [
      'httpMethod',
      'path',
      'resource',
      'body',
      'isBase64Encoded',
      'pathParameters',
      'queryStringParameters',
      'headers',
      'requestContext',
    ];
    for (let i = 0; i < EVENTS_PER_HANDLER && problems.length < 10; i++) {
      const template = rng.pick(templates)() as unknown as Record<string, unknown>;
      const event = rng.chance(0.15) ? jsonValue(rng) : rng.chance(0.5) ? mutate(rng, template, keys) : template;
      const startsBefore = sfn.calls.filter((c) => c.startsWith('StartExecution')).length;
      const opsBefore = env.dynamo.operations.length;
      const where = `seed ${SEED} #${i} ${JSON.stringify(event)?.slice(0, 200)}`;
      let res: APIGatewayProxyResult;
      try {
        res = (await handler(event as never, {} as Context)) as APIGatewayProxyResult;
      } catch (error) {
        problems.push(`${where}: threw ${(error as Error).name}: ${(error as Error).message}`);
        continue;
      }
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (typeof res.statusCode !== 'number' || res.statusCode >= 500)
        problems.push(`${where}: status ${res.statusCode} ${res.body?.slice(0, 300)}`);
      if (res.statusCode >= 400) {
        let body: { error?: unknown; message?: unknown } = {};
        try {
          body = JSON.parse(res.body) as typeof body;
        } catch {
          problems.push(`${where}: non-JSON error body`);
        }
        if (typeof body.error !== 'string' || !isClassifiedErrorName(body.error))
          problems.push(`${where}: unnamed error ${res.body.slice(0, 200)}`);
        if (res.body.length > MAX_MESSAGE_CHARS) problems.push(`${where}: error body of ${res.body.length} chars`);
        if (sfn.calls.filter((c) => c.startsWith('StartExecution')).length !== startsBefore)
          problems.push(`${where}: rejected but started an execution`);
        if (env.dynamo.operations.slice(opsBefore).some((op) => WRITES.has(op)))
          problems.push(`${where}: rejected but wrote to DynamoDB`);
      }
    }
    expect(problems).toEqual([]);
    expect(unexpected).toEqual([]);
    // Every kind of answer happened: the generator reaches the routes, not only the guard.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 202, 400, 404, 413]));
  }, 600_000);
});
