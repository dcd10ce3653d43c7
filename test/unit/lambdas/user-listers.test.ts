/**
 * The fan-out's user listing while a tenant moves from the Powens secret's user list to the user registry: first the
 * registry's active users, then the secret's users that have no registry item at all. The registry here is an
 * in-memory stand-in for the two reads the lister makes (listPage, get); test/integration/users/fan-out-pages.test.ts
 * runs the same lister on dynalite with a secret file.
 */
import type { RegisteredUser, UserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import type { SecretSource } from '../../../lambdas/core/adapters/secrets/powens-secret';
import {
  MAX_SECRET_ONLY_IDS_LOGGED,
  registryThenSecretUserLister,
  secretOnlyWarning,
} from '../../../lambdas/core/adapters/secrets/user-credentials';
import type { UserLister } from '../../../lambdas/core/domain/fan-out';

type Registry = Pick<UserRegistry, 'listPage' | 'get'>;

/** Registry items by id (sorted, as the table returns them); the cursor names the last id read (the real one is
 * base64url JSON: never all digits). */
function memoryRegistry(items: Record<number, 'active' | 'disabled'>): Registry & { gets: number[] } {
  const users: RegisteredUser[] = Object.entries(items)
    .map(([id, status]) => ({ userId: Number(id), status, createdAt: 'c', updatedAt: 'u' }))
    .sort((a, b) => a.userId - b.userId);
  const gets: number[] = [];
  return {
    gets,
    listPage: async ({ limit = 100, cursor, status } = {}) => {
      const start = cursor === undefined ? 0 : users.findIndex((u) => `after-${u.userId}` === cursor) + 1;
      const read = users.slice(start, start + limit);
      const last = read.at(-1);
      const more = start + limit < users.length && last !== undefined;
      const page = read.filter((u) => status === undefined || u.status === status);
      return more ? { users: page, cursor: `after-${last.userId}` } : { users: page };
    },
    get: async (userId) => {
      gets.push(userId);
      return users.find((u) => u.userId === userId);
    },
  };
}

const secretWith = (ids: number[]): SecretSource => ({
  description: 'test secret',
  load: async () => ({ clientId: 'c', clientSecret: 's', users: ids.map((userId) => ({ userId, token: 't' })) }),
});

/** Every page the lister returns, calling it as the fan-out does (same limit each time). */
async function listAll(lister: UserLister, limit: number) {
  const pages: number[][] = [];
  const cursors: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await lister.listPage(cursor, limit);
    pages.push(page.userIds);
    cursor = page.cursor;
    if (cursor !== undefined) cursors.push(cursor);
  } while (cursor !== undefined);
  return { pages, ids: pages.flat(), cursors };
}

describe('registryThenSecretUserLister: registry users first, then users only the secret lists', () => {
  it("lists the registry's active users, then the secret's users with no registry item, each once", async () => {
    const registry = memoryRegistry({ 1: 'active', 2: 'active', 3: 'disabled', 4: 'active', 5: 'active' });
    const warned: number[][] = [];
    const lister = registryThenSecretUserLister({
      registry,
      secret: secretWith([9, 2, 3, 8, 7]),
      onSecretOnly: (ids) => warned.push(ids),
    });
    const { pages, ids, cursors } = await listAll(lister, 2);
    // 2 is in both (registry wins, listed once), 3 is disabled in the registry (never listed, even from the secret).
    expect(ids).toEqual([1, 2, 4, 5, 9, 8, 7]);
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    expect(cursors.some((c) => c.startsWith('registry:'))).toBe(true);
    expect(cursors.some((c) => c.startsWith('secret:'))).toBe(true);
    expect(warned).toEqual([[9], [8], [7]]); // per page of the secret ([9, 2], [3, 8], [7])
    // Phase 2 reads each secret user's registry item (GetItem): the secret's list is small (64 KB).
    expect(registry.gets.sort((a, b) => a - b)).toEqual([2, 3, 7, 8, 9]);
  });

  it('a secret without users (migration done) ends with the registry: no secret phase, no registry reads', async () => {
    const registry = memoryRegistry({ 1: 'active', 2: 'active', 3: 'active' });
    const { ids, cursors } = await listAll(registryThenSecretUserLister({ registry, secret: secretWith([]) }), 2);
    expect(ids).toEqual([1, 2, 3]);
    expect(cursors.every((c) => c.startsWith('registry:'))).toBe(true);
    expect(registry.gets).toEqual([]);
  });

  it('an empty registry: the secret users are listed (all of them are still to import)', async () => {
    const warned: number[][] = [];
    const lister = registryThenSecretUserLister({
      registry: memoryRegistry({}),
      secret: secretWith([5, 6, 7]),
      onSecretOnly: (ids) => warned.push(ids),
    });
    expect((await listAll(lister, 10)).ids).toEqual([5, 6, 7]);
    expect(warned).toEqual([[5, 6, 7]]);
  });

  it('never reads more than `limit` users per call, in either phase', async () => {
    const registry = memoryRegistry(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [i + 1, 'active'])));
    const secret = secretWith(Array.from({ length: 9 }, (_, i) => 100 + i));
    const lister = registryThenSecretUserLister({ registry, secret });
    let cursor: string | undefined;
    let calls = 0;
    do {
      const before = registry.gets.length;
      const page = await lister.listPage(cursor, 3);
      expect(page.userIds.length).toBeLessThanOrEqual(3);
      expect(registry.gets.length - before).toBeLessThanOrEqual(3);
      cursor = page.cursor;
      calls += 1;
    } while (cursor !== undefined);
    expect(calls).toBe(3 + 3); // 7 registry users in pages of 3, then 9 secret users in pages of 3
  });

  it('accepts the cursors of the previous listers (a fan-out in flight during a deploy)', async () => {
    const registry = memoryRegistry({ 1: 'active', 2: 'active', 3: 'active' });
    const lister = registryThenSecretUserLister({ registry, secret: secretWith([3, 40, 41]) });
    // The registry-only lister returned the registry's cursor as is: it resumes the registry phase, then goes on.
    const fromRegistryCursor = await lister.listPage('after-1', 2);
    expect(fromRegistryCursor.userIds).toEqual([2, 3]);
    expect((await lister.listPage(fromRegistryCursor.cursor, 5)).userIds).toEqual([40, 41]);
    // secretUserLister's cursor (a position in the secret's list): the secret phase at that position.
    expect(await lister.listPage('2', 5)).toEqual({ userIds: [41] });
  });

  it.each([['secret:-1'], ['secret:x'], ['other:1'], ['secret:1.5']])(
    'refuses the cursor %s with ValidationFailed',
    async (cursor) => {
      const lister = registryThenSecretUserLister({ registry: memoryRegistry({}), secret: secretWith([1]) });
      await expect(lister.listPage(cursor, 5)).rejects.toMatchObject({
        name: 'ValidationFailed',
        message: expect.stringMatching(/cursor/),
      });
    },
  );

  it('the warning names at most MAX_SECRET_ONLY_IDS_LOGGED ids and always the count', () => {
    const ids = Array.from({ length: 250 }, (_, i) => i + 1);
    const warning = secretOnlyWarning(ids);
    expect(warning.count).toBe(250);
    expect(warning.userIds).toEqual(ids.slice(0, MAX_SECRET_ONLY_IDS_LOGGED));
    expect(warning.userIdsTruncated).toBe(true);
    expect(secretOnlyWarning([4, 5])).toEqual({ count: 2, userIds: [4, 5], userIdsTruncated: false });
  });
});
