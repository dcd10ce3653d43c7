/**
 * User registry on dynalite (real SDK) with the local key provider (real AES-256-GCM): what is stored, paging,
 * replacement and deletion, decryption for the step Lambdas, and that no plaintext token ever reaches the table.
 */
import { randomBytes } from 'node:crypto';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createUserRegistry, type UserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import { tableKeys } from '../../../lambdas/core/adapters/dynamodb/table-schema';
import {
  generateLocalKey,
  localKeyProvider,
  parseLocalKey,
} from '../../../lambdas/core/adapters/keys/token-key-provider';
import { useDynalite } from '../../support/dynalite';

const TENANT = 'martin-family';
const token = (n: number) => `tok-${n}-${randomBytes(16).toString('hex')}`;

describe('user registry (dynalite, local key provider)', () => {
  const dynamo = useDynalite();
  let tableName: string;
  let registry: UserRegistry;
  let tables = 0;
  const keys = localKeyProvider(parseLocalKey(generateLocalKey(), 'test'));
  const clock = { now: new Date('2026-11-30T10:00:00Z') };

  beforeEach(async () => {
    tableName = `users-${++tables}`;
    await dynamo().createTable(tableName);
    registry = createUserRegistry({ client: dynamo().doc, tableName, tenantId: TENANT, keys, clock: () => clock.now });
  });

  const scanAll = async () => (await dynamo().doc.send(new ScanCommand({ TableName: tableName }))).Items ?? [];

  it('stores only ciphertext; reading and listing never return the token; credentials() decrypts it', async () => {
    const t = token(1);
    await expect(registry.put({ userId: 1001, token: t, label: 'Claire' })).resolves.toMatchObject({ created: true });
    const items = await scanAll();
    expect(items).toHaveLength(1);
    expect(JSON.stringify(items)).not.toContain(t);
    expect(items[0]).toMatchObject({
      ...tableKeys.registeredUser(TENANT, 1001),
      userId: 1001,
      status: 'active',
      keyProvider: 'local',
      keyId: keys.keyId,
    });
    expect(await registry.get(1001)).toEqual({
      userId: 1001,
      label: 'Claire',
      status: 'active',
      createdAt: clock.now.toISOString(),
      updatedAt: clock.now.toISOString(),
    });
    expect(JSON.stringify(await registry.listPage())).not.toContain('tokenCiphertext');
    await expect(registry.credentials([1001])).resolves.toEqual([{ userId: 1001, token: t, label: 'Claire' }]);
  });

  it('a second PUT replaces token, label and status, keeps createdAt and says it was not created', async () => {
    await registry.put({ userId: 7, token: token(1), label: 'old' });
    const created = clock.now.toISOString();
    clock.now = new Date('2026-11-30T11:00:00Z');
    const t2 = token(2);
    const second = await registry.put({ userId: 7, token: t2, status: 'disabled' });
    expect(second).toEqual({
      created: false,
      user: { userId: 7, status: 'disabled', createdAt: created, updatedAt: clock.now.toISOString() },
    });
    expect(await registry.get(7)).toEqual(second.user);
    // Disabled users are not refreshed: asking for one is a named input error, and "everyone" skips it.
    await expect(registry.credentials([7])).rejects.toMatchObject({
      name: 'ValidationFailed',
      message: expect.stringContaining('not active in the user registry: 7'),
    });
    await expect(registry.credentials()).resolves.toEqual([]);
  });

  it('lists users page by page in numeric order, with an opaque cursor; a forged cursor is refused', async () => {
    for (const id of [30, 4, 1000, 200, 5]) await registry.put({ userId: id, token: token(id) });
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await registry.listPage({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.users.map((u) => u.userId));
      cursor = page.cursor;
      pages += 1;
    } while (cursor !== undefined);
    expect(seen).toEqual([4, 5, 30, 200, 1000]);
    expect(pages).toBeGreaterThanOrEqual(3);
    const forged = Buffer.from(JSON.stringify({ pk: 'USERS#other-tenant', sk: 'USER#0' })).toString('base64url');
    await expect(registry.listPage({ cursor: forged })).rejects.toMatchObject({ name: 'ValidationFailed' });
    await expect(registry.listPage({ limit: 0 })).rejects.toMatchObject({ name: 'ValidationFailed' });
  });

  it('credentials() of everyone reads every page and decrypts every active token', async () => {
    const tokens = new Map<number, string>();
    for (let id = 1; id <= 12; id++) {
      tokens.set(id, token(id));
      await registry.put({ userId: id, token: tokens.get(id) as string, status: id === 3 ? 'disabled' : 'active' });
    }
    const all = await registry.credentials();
    expect(all.map((u) => u.userId)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const user of all) expect(user.token).toBe(tokens.get(user.userId));
  });

  it('unknown ids are a ValidationFailed naming them; delete removes the item and says whether it existed', async () => {
    await registry.put({ userId: 1, token: token(1) });
    await expect(registry.credentials([1, 2, 3])).rejects.toMatchObject({
      name: 'ValidationFailed',
      details: { unknownUserIds: [2, 3] },
    });
    await expect(registry.delete(1)).resolves.toBe(true);
    await expect(registry.delete(1)).resolves.toBe(false);
    expect(await scanAll()).toEqual([]);
  });

  it('a ciphertext copied onto another user (or tenant) does not decrypt: the context binds it', async () => {
    await registry.put({ userId: 1, token: token(1) });
    await registry.put({ userId: 2, token: token(2) });
    const [one] = (await scanAll()).filter((i) => i.userId === 1);
    await dynamo().doc.send(
      new PutCommand({ TableName: tableName, Item: { ...one, ...tableKeys.registeredUser(TENANT, 2), userId: 2 } }),
    );
    await expect(registry.credentials([2])).rejects.toMatchObject({
      name: 'ConfigurationError',
      details: { reason: 'tokenDecryptionFailed' },
    });
    await dynamo().doc.send(
      new PutCommand({ TableName: tableName, Item: { ...one, ...tableKeys.registeredUser('other-family', 1) } }),
    );
    const other = createUserRegistry({ client: dynamo().doc, tableName, tenantId: 'other-family', keys });
    await expect(other.credentials([1])).rejects.toMatchObject({ name: 'ConfigurationError' });
  });

  it.each([
    ['user id 0', { userId: 0, token: 't' }, /userId must be a positive integer/],
    ['an empty token', { userId: 1, token: '' }, /token must be a non-empty string/],
    ['a 5,000-character token', { userId: 1, token: 'x'.repeat(5000) }, /at most 4096 characters/],
    [
      'a 201-character label',
      { userId: 1, token: 't', label: 'x'.repeat(201) },
      /label must be a string of at most 200/,
    ],
    ['an unknown status', { userId: 1, token: 't', status: 'gone' as never }, /status must be one of active, disabled/],
  ])('rejects %s with ValidationFailed and writes nothing', async (_what, put, message) => {
    await expect(registry.put(put)).rejects.toThrow(message);
    expect(await scanAll()).toEqual([]);
  });
});
