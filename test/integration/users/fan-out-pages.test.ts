/**
 * The fan-out's NextPage step (lambdas/fan-out-page) driven as the fan-out state machine drives it — NextPage, then the
 * Map's results (or NextPage again after a page with nobody to refresh) — with users from the registry on dynalite
 * (status filter, short pages), their connection-health items on dynalite, and users from the secret (deprecated
 * path). The Map itself (Distributed Map, one seed execution per user) is AWS-only: here its result array is built by
 * the test, one `{userIds, status}` per child as the task's ResultSelector keeps it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createConnectionHealthStore } from '../../../lambdas/core/adapters/dynamodb/connection-health';
import { createUserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import {
  generateLocalKey,
  localKeyProvider,
  parseLocalKey,
} from '../../../lambdas/core/adapters/keys/token-key-provider';
import type { SecretSource } from '../../../lambdas/core/adapters/secrets/powens-secret';
import {
  registryThenSecretUserLister,
  secretUserLister,
} from '../../../lambdas/core/adapters/secrets/user-credentials';
import { healthFromConnection } from '../../../lambdas/core/domain/connection-health';
import {
  type FanOutDeps,
  type FanOutState,
  MAX_FAILED_IDS,
  nextFanOutPage,
  type UserLister,
} from '../../../lambdas/core/domain/fan-out';
import { createFanOutPageHandler } from '../../../lambdas/fan-out-page/handler';
import { parseConfig, parseFanOutPageSize } from '../../../lambdas/core/config';
import { buildStepDependencies } from '../../../lambdas/core/step-runtime';
import { logger } from '../../../lambdas/core/observability';
import { FAN_OUT_PAGE_TABLE_ACTIONS } from '../../../infra/stack';
import { useDynalite } from '../../support/dynalite';

/** A Powens secret whose user list is empty (the migration to the registry is done). */
const noSecretUsers: SecretSource = {
  description: 'client credentials only',
  load: async () => ({ clientId: 'c', clientSecret: 's', users: [] }),
};
const registryUserLister = (registry: ReturnType<typeof createUserRegistry>) =>
  registryThenSecretUserLister({ registry, secret: noSecretUsers });

/** No connection known for anyone: every listed user is refreshed (the pagination tests below). */
const nothingKnown: FanOutDeps['health'] = async (userIds) => new Map(userIds.map((id) => [id, []]));

const depsOf = (users: UserLister, pageSize: number, health = nothingKnown): FanOutDeps => ({
  users,
  pageSize,
  health,
  defaultMaxAgeMinutes: 360,
});

/** Runs the loop to the end; `fails` decides which users' child executions fail. */
async function runFanOut(deps: FanOutDeps, fails: (userId: number) => boolean, input: unknown = {}) {
  let state: FanOutState = await nextFanOutPage(input, deps);
  const pages: number[][] = [];
  const childInputs: unknown[] = [];
  let largestState = 0;
  while (!state.done) {
    if (state.items.length === 0) {
      state = await nextFanOutPage(state, deps);
      continue;
    }
    pages.push(state.items.map((i) => i.userId));
    // What the Map's ItemSelector and the task's Input build for each child.
    childInputs.push(...state.items.map(({ userId }) => ({ userIds: [userId], maxAgeMinutes: state.maxAgeMinutes })));
    const results = state.items.map(({ userId }) =>
      fails(userId)
        ? { Error: 'States.TaskFailed', Cause: 'child failed' }
        : { userIds: [userId], status: 'SUCCEEDED' },
    );
    const mapOutput = { ...state, results };
    largestState = Math.max(largestState, Buffer.byteLength(JSON.stringify(mapOutput)));
    state = await nextFanOutPage(mapOutput, deps);
  }
  return { summary: state.summary, pages, largestState, childInputs };
}

describe('fan-out pages', () => {
  const dynamo = useDynalite();

  /** A fresh table with users 1..n in the registry of tenant `t` (`disabled(id)`: stored disabled). */
  async function tableWithUsers(tableName: string, n: number, disabled: (id: number) => boolean = () => false) {
    await dynamo().createTable(tableName);
    const client: DynamoDBDocumentClient = dynamo().doc;
    const registry = createUserRegistry({
      client,
      tableName,
      tenantId: 't',
      keys: localKeyProvider(parseLocalKey(generateLocalKey(), 'test')),
    });
    for (let id = 1; id <= n; id++)
      await registry.put({ userId: id, token: `tok-${id}`, status: disabled(id) ? 'disabled' : 'active' });
    return { registry, health: createConnectionHealthStore({ client, tableName }) };
  }

  it('pages through the active users of the registry; failed users are counted and named, the others succeed', async () => {
    const { registry } = await tableWithUsers('fan-out', 23, (id) => id % 7 === 0);
    const { summary, pages } = await runFanOut(depsOf(registryUserLister(registry), 5), (id) => id === 4 || id === 20);
    expect(pages.flat()).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 22, 23]);
    expect(pages.every((p) => p.length <= 5 && p.length > 0)).toBe(true);
    expect(summary).toEqual({
      users: 20,
      succeeded: 18,
      failed: 2,
      failedUserIds: [4, 20],
      failedUserIdsTruncated: false,
      pages: 4,
      skippedFresh: 0,
    });
  });

  it('connection-health items on dynalite decide who is listed: fresh users are skipped and counted', async () => {
    const { registry, health: store } = await tableWithUsers('fan-out-health', 12);
    const now = new Date();
    const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
    const observe = (userId: number, id: number, c: Record<string, unknown>, observedAt = now) =>
      store.record('t', healthFromConnection(userId, { id, active: true, ...c }, observedAt, 'webhook'));
    const fresh = { state: null, last_update: ago(10) };
    await observe(10, 101, fresh); // user 10 fresh: user 1 (`CONN#1#…`) must not see it
    await observe(11, 111, fresh);
    await observe(11, 112, { state: 'SCARequired', last_update: ago(9000) });
    await observe(2, 21, fresh);
    await observe(2, 22, { state: null, last_update: ago(400) }); // stale: user 2 is refreshed
    await observe(3, 31, { state: 'wrongpass', last_update: ago(9000) });
    await observe(3, 32, {
      state: null,
      last_update: ago(2000),
      next_try: new Date(now.getTime() + 600_000).toISOString(),
    });
    await observe(4, 41, { state: null, last_update: ago(9000) });
    await store.record('t', { ...healthFromConnection(4, { id: 41 }, now, 'webhook'), deleted: true });
    await observe(5, 51, { state: 'SCARequired' }, new Date(now.getTime() - 2 * 86_400_000)); // observed 2 days ago
    await observe(6, 61, fresh, now);
    await store.record('t-other', healthFromConnection(7, { id: 71, ...fresh }, now, 'webhook')); // another tenant

    const deps = {
      ...depsOf(registryUserLister(registry), 3, (ids: readonly number[]) => store.listForUsers('t', ids)),
      clock: () => now,
    };
    const byDefault = await runFanOut(deps, () => false);
    expect(byDefault.pages).toEqual([[1, 2, 5], [7, 8, 9], [12]]);
    expect(byDefault.summary).toMatchObject({ users: 7, succeeded: 7, pages: 3, skippedFresh: 5 });
    expect(byDefault.childInputs).toContainEqual({ userIds: [12], maxAgeMinutes: 360 });

    // The threshold comes from the fan-out's input and reaches every child.
    const fiveMinutes = await runFanOut(deps, () => false, { maxAgeMinutes: 5 });
    expect(fiveMinutes.pages.flat()).toEqual([1, 2, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(fiveMinutes.summary.skippedFresh).toBe(2); // 3 (needs the user / Powens due), 4 (deleted)
    expect(new Set(fiveMinutes.childInputs.map((i) => (i as { maxAgeMinutes: number }).maxAgeMinutes))).toEqual(
      new Set([5]),
    );
    const everyone = await runFanOut(deps, () => false, { maxAgeMinutes: 0 });
    expect(everyone.pages.flat()).toHaveLength(12);
  });

  it('with the step wiring (registry + secret file): registry users, then users only the secret lists, exactly the granted actions', async () => {
    // Registry: 1, 2 (fresh), 3 (disabled), 4. Secret: 3 and 4 (the registry wins), 50, 51, 52 (fresh) never imported.
    const { health: store } = await tableWithUsers('fan-out-iam', 4, (id) => id === 3);
    const now = new Date();
    const fresh = { last_update: now.toISOString(), active: true };
    await store.record('t', healthFromConnection(2, { id: 21, ...fresh }, now, 'webhook'));
    await store.record('t', healthFromConnection(52, { id: 521, ...fresh }, now, 'webhook'));
    const dir = await mkdtemp(join(tmpdir(), 'fan-out-secret-'));
    const warnings: [string, { userIds?: number[] }][] = [];
    const spy = jest.spyOn(logger, 'warn').mockImplementation((...args: unknown[]) => {
      warnings.push([String(args[0]), args[1] as { userIds?: number[] }]);
    });
    try {
      await writeFile(join(dir, 'key'), generateLocalKey());
      await writeFile(
        join(dir, 'secret.json'),
        JSON.stringify({
          clientId: 'c',
          clientSecret: 's',
          users: [3, 4, 50, 51, 52].map((userId) => ({ userId, token: `secret-token-${userId}` })),
        }),
      );
      const config = parseConfig({
        TABLE_NAME: 'fan-out-iam',
        POWENS_BASE_URL: 'http://127.0.0.1:9/2.0',
        POWENS_SECRET_FILE: join(dir, 'secret.json'),
        TENANT_ID: 't',
        TOKEN_KEY_FILE: join(dir, 'key'),
      });
      const deps = buildStepDependencies(config, dynamo().doc);
      const handler = createFanOutPageHandler(() => depsOf(deps.users, 2, (ids) => deps.health.listForUsers('t', ids)));
      dynamo().operations.length = 0;
      let state = (await handler({}, {} as never)) as FanOutState;
      const listed: number[] = [];
      while (!state.done) {
        listed.push(...state.items.map((i) => i.userId));
        const results = state.items.map(({ userId }) => ({ userIds: [userId], status: 'SUCCEEDED' }));
        state = (await handler({ ...state, results }, {} as never)) as FanOutState;
      }
      expect(listed).toEqual([1, 4, 50, 51]);
      expect(state.summary).toMatchObject({ users: 4, succeeded: 4, skippedFresh: 2 });
      expect([...new Set(dynamo().operations.map((o) => `dynamodb:${o}`))].sort()).toEqual(
        [...FAN_OUT_PAGE_TABLE_ACTIONS].sort(),
      );
      // The operator is told which users are still to import (52 too: skipped as fresh, still only in the secret).
      const warned = warnings
        .filter(([message]) => message.includes('only the Powens secret lists'))
        .flatMap(([, extra]) => extra.userIds ?? []);
      expect(warned.sort((a, b) => a - b)).toEqual([50, 51, 52]);
      expect(JSON.stringify(warnings)).not.toContain('secret-token-');
    } finally {
      spy.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('no users: done at once with an empty summary', async () => {
    const none: UserLister = { listPage: async () => ({ userIds: [] }) };
    expect(await nextFanOutPage({}, depsOf(none, 10))).toMatchObject({
      done: true,
      items: [],
      summary: { users: 0, pages: 0 },
    });
  });

  it('the state passed around stays flat: the largest is one page, whatever the number of users', async () => {
    const lister = (n: number): UserLister => ({
      listPage: async (cursor, limit) => {
        const start = cursor === undefined ? 0 : Number(cursor);
        const userIds = Array.from(
          { length: Math.max(0, Math.min(limit, n - start)) },
          (_, i) => 1_000_000 + start + i,
        );
        return start + userIds.length < n ? { userIds, cursor: String(start + userIds.length) } : { userIds };
      },
    });
    const small = await runFanOut(depsOf(lister(1_000), 500), () => false);
    const large = await runFanOut(depsOf(lister(10_000), 500), () => false);
    expect(large.summary).toMatchObject({ users: 10_000, succeeded: 10_000, pages: 20 });
    expect(large.largestState).toBeLessThan(64 * 1024);
    expect(large.largestState).toBeLessThanOrEqual(small.largestState + 64);
    // Failed ids are capped, so a mass failure does not grow the summary past the cap.
    const failing = await runFanOut(depsOf(lister(3_000), 500), () => true);
    expect(failing.summary).toMatchObject({ failed: 3_000, failedUserIdsTruncated: true });
    expect(failing.summary.failedUserIds).toHaveLength(MAX_FAILED_IDS);
  });

  it('the secret lister (deprecated path) pages through the secret users in order', async () => {
    const secret = {
      description: 's',
      load: async () => ({
        clientId: 'c',
        clientSecret: 's',
        users: [7, 3, 9].map((userId) => ({ userId, token: 't' })),
      }),
    };
    const { pages } = await runFanOut(depsOf(secretUserLister(secret), 2), () => false);
    expect(pages).toEqual([[7, 3], [9]]);
    await expect(secretUserLister(secret).listPage('-1', 2)).rejects.toMatchObject({ name: 'ValidationFailed' });
  });

  it('the handler rejects a malformed state with ValidationFailed and checks FANOUT_PAGE_SIZE', async () => {
    const handler = createFanOutPageHandler(() => depsOf({ listPage: async () => ({ userIds: [] }) }, 5));
    await expect(handler({ items: [{ user: 1 }] }, {} as never)).rejects.toMatchObject({ name: 'ValidationFailed' });
    await expect(handler({}, {} as never)).resolves.toMatchObject({ done: true });
    expect(parseFanOutPageSize(undefined)).toBe(500);
    expect(() => parseFanOutPageSize('0')).toThrow(/FANOUT_PAGE_SIZE="0" must be a whole number 1..1000/);
  });
});
