/**
 * The fan-out's NextPage step (lambdas/fan-out-page) driven as the fan-out state machine drives it — NextPage, then the
 * Map's results, then NextPage again — with users from the registry on dynalite (status filter, short pages) and from
 * the secret (deprecated path). The Map itself (Distributed Map, one seed execution per user) is AWS-only: here its
 * result array is built by the test, one `{userIds, status}` per child as the task's ResultSelector keeps it.
 */
import { createUserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import {
  generateLocalKey,
  localKeyProvider,
  parseLocalKey,
} from '../../../lambdas/core/adapters/keys/token-key-provider';
import { registryUserLister, secretUserLister } from '../../../lambdas/core/adapters/secrets/user-credentials';
import {
  type FanOutState,
  MAX_FAILED_IDS,
  nextFanOutPage,
  type UserLister,
} from '../../../lambdas/core/domain/fan-out';
import { createFanOutPageHandler } from '../../../lambdas/fan-out-page/handler';
import { parseFanOutPageSize } from '../../../lambdas/core/config';
import { useDynalite } from '../../support/dynalite';

/** Runs the loop to the end; `fails` decides which users' child executions fail. */
async function runFanOut(users: UserLister, pageSize: number, fails: (userId: number) => boolean) {
  let state: FanOutState = await nextFanOutPage({}, { users, pageSize });
  const pages: number[][] = [];
  let largestState = 0;
  while (!state.done) {
    pages.push(state.items.map((i) => i.userId));
    const results = state.items.map(({ userId }) =>
      fails(userId)
        ? { Error: 'States.TaskFailed', Cause: 'child failed' }
        : { userIds: [userId], status: 'SUCCEEDED' },
    );
    const mapOutput = { ...state, results };
    largestState = Math.max(largestState, Buffer.byteLength(JSON.stringify(mapOutput)));
    state = await nextFanOutPage(mapOutput, { users, pageSize });
  }
  return { summary: state.summary, pages, largestState };
}

describe('fan-out pages', () => {
  const dynamo = useDynalite();

  it('pages through the active users of the registry; failed users are counted and named, the others succeed', async () => {
    await dynamo().createTable('fan-out');
    const registry = createUserRegistry({
      client: dynamo().doc,
      tableName: 'fan-out',
      tenantId: 't',
      keys: localKeyProvider(parseLocalKey(generateLocalKey(), 'test')),
    });
    for (let id = 1; id <= 23; id++)
      await registry.put({ userId: id, token: `tok-${id}`, status: id % 7 === 0 ? 'disabled' : 'active' });
    const { summary, pages } = await runFanOut(registryUserLister(registry), 5, (id) => id === 4 || id === 20);
    expect(pages.flat()).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 22, 23]);
    expect(pages.every((p) => p.length <= 5 && p.length > 0)).toBe(true);
    expect(summary).toEqual({
      users: 20,
      succeeded: 18,
      failed: 2,
      failedUserIds: [4, 20],
      failedUserIdsTruncated: false,
      pages: 4,
    });
  });

  it('no users: done at once with an empty summary', async () => {
    const none: UserLister = { listPage: async () => ({ userIds: [] }) };
    expect(await nextFanOutPage({}, { users: none, pageSize: 10 })).toMatchObject({
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
    const small = await runFanOut(lister(1_000), 500, () => false);
    const large = await runFanOut(lister(10_000), 500, () => false);
    expect(large.summary).toMatchObject({ users: 10_000, succeeded: 10_000, pages: 20 });
    expect(large.largestState).toBeLessThan(64 * 1024);
    expect(large.largestState).toBeLessThanOrEqual(small.largestState + 64);
    // Failed ids are capped, so a mass failure does not grow the summary past the cap.
    const failing = await runFanOut(lister(3_000), 500, () => true);
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
    const { pages } = await runFanOut(secretUserLister(secret), 2, () => false);
    expect(pages).toEqual([[7, 3], [9]]);
    await expect(secretUserLister(secret).listPage('-1', 2)).rejects.toMatchObject({ name: 'ValidationFailed' });
  });

  it('the handler rejects a malformed state with ValidationFailed and checks FANOUT_PAGE_SIZE', async () => {
    const handler = createFanOutPageHandler(() => ({
      users: { listPage: async () => ({ userIds: [] }) },
      pageSize: 5,
    }));
    await expect(handler({ items: [{ user: 1 }] }, {} as never)).rejects.toMatchObject({ name: 'ValidationFailed' });
    await expect(handler({}, {} as never)).resolves.toMatchObject({ done: true });
    expect(parseFanOutPageSize(undefined)).toBe(500);
    expect(() => parseFanOutPageSize('0')).toThrow(/FANOUT_PAGE_SIZE="0" must be a whole number 1..1000/);
  });
});
