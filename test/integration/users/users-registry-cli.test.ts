/**
 * `npm run users -- import|list` against dynalite with a local key file (in-process main()), then the step Lambdas'
 * credential source built from the environment exactly as a handler builds it: users and tokens come from the
 * registry, a user only in the secret still works (deprecated fallback), and no token reaches the output or table.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { main } from '../../../infra/users/cli';
import { parseConfig, resetConfigForTests } from '../../../lambdas/core/config';
import { buildStepDependencies } from '../../../lambdas/core/step-runtime';
import { createUserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import {
  generateLocalKey,
  localKeyProvider,
  parseLocalKey,
} from '../../../lambdas/core/adapters/keys/token-key-provider';
import { useDynalite } from '../../support/dynalite';
import { USER_REGISTRY_STEP_TABLE_ACTIONS } from '../../../infra/stack';

const TENANT = 'martin-family';
/** The tenant of the cases that leave users disabled or half-imported, so the shared table's TENANT stays clean. */
const OTHER = 'dupont-family';
const SECRET = {
  clientId: 'client-1',
  clientSecret: 'client-secret-XYZ',
  users: [
    { userId: 1001, token: 'token-claire-9f8e7d6c5b4a', label: 'Claire' },
    { userId: 1002, token: 'token-louis-1a2b3c4d5e6f' },
    { userId: 1003, token: 'token-holding-0a9b8c7d6e5f', label: 'Holding' },
  ],
};
const TOKENS = [SECRET.clientSecret, ...SECRET.users.map((u) => u.token)];

describe('npm run users and the registry-backed step credentials', () => {
  const dynamo = useDynalite();
  let dir: string;
  let secretFile: string;
  let keyFile: string;
  const table = 'users-cli';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'users-cli-'));
    secretFile = join(dir, 'powens.json');
    keyFile = join(dir, 'token.key');
    await writeFile(secretFile, JSON.stringify(SECRET));
    await writeFile(keyFile, generateLocalKey());
    await dynamo().createTable(table);
  });
  afterAll(async () => {
    resetConfigForTests();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(...argv: string[]) {
    const lines: string[] = [];
    const code = await main(argv, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    return { code, text: lines.join('\n') };
  }
  const common = (tenant = TENANT) => [
    '--table-name',
    table,
    '--tenant-id',
    tenant,
    '--dynamodb-endpoint',
    dynamo().endpoint,
  ];

  it('imports every user of the secret file (tokens encrypted), idempotently, and lists them without tokens', async () => {
    const first = await run('import', secretFile, ...common(), '--key-file', keyFile);
    expect(first).toMatchObject({
      code: 0,
      text: expect.stringContaining(
        'imported 3 of 3 users into tenant martin-family (created 3, replaced 0, failed 0)',
      ),
    });
    const again = await run('import', secretFile, ...common(), '--key-file', keyFile, '--json');
    expect(JSON.parse(again.text)).toEqual({ created: [], replaced: [1001, 1002, 1003], keptDisabled: [], failed: [] });
    const listed = await run('list', ...common());
    expect(listed.text.split('\n')).toEqual(['1001\tactive\tClaire', '1002\tactive\t', '1003\tactive\tHolding']);

    const { Items } = await dynamo().doc.send(new ScanCommand({ TableName: table }));
    expect(Items).toHaveLength(3);
    for (const secret of TOKENS) {
      expect(JSON.stringify(Items)).not.toContain(secret);
      for (const out of [first.text, again.text, listed.text]) expect(out).not.toContain(secret);
    }
  });

  it('importing again keeps a user the operator disabled (or Powens deleted) disabled: the secret is older news', async () => {
    await run('import', secretFile, ...common(OTHER), '--key-file', keyFile);
    const registry = createUserRegistry({ client: dynamo().doc, tableName: table, tenantId: OTHER });
    await registry.markDeletedAtPowens(1003, '2026-11-30T10:00:00.000Z');
    const keys = localKeyProvider(parseLocalKey(await readFile(keyFile, 'utf8'), 'test'));
    await createUserRegistry({ client: dynamo().doc, tableName: table, tenantId: OTHER, keys }).put({
      userId: 1002,
      token: 'token-louis-1a2b3c4d5e6f',
      status: 'disabled',
    });
    const again = await run('import', secretFile, ...common(OTHER), '--key-file', keyFile, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.text)).toMatchObject({ replaced: [1001, 1002, 1003], keptDisabled: [1002, 1003] });
    expect((await run('list', ...common(OTHER))).text.split('\n')).toEqual([
      '1001\tactive\tClaire',
      '1002\tdisabled\t',
      '1003\tdisabled\tHolding',
    ]);
    expect(await registry.get(1003)).toMatchObject({ powensDeletedAt: '2026-11-30T10:00:00.000Z' });
  });

  it('a user that cannot be stored fails alone: the others are imported, exit 1 names it, never its token', async () => {
    const partial = join(dir, 'partial.json');
    const huge = `token-huge-${'x'.repeat(5000)}`;
    await writeFile(
      partial,
      JSON.stringify({
        ...SECRET,
        users: [
          { userId: 3001, token: huge },
          { userId: 3002, token: 'token-ok-3002-abc' },
        ],
      }),
    );
    const result = await run('import', partial, ...common(OTHER), '--key-file', keyFile);
    expect(result.code).toBe(1);
    expect(result.text).toContain('imported 1 of 2 users');
    expect(result.text).toMatch(/user 3001: ValidationFailed: token must be/);
    expect(result.text).not.toContain('x'.repeat(50));
    const registry = createUserRegistry({ client: dynamo().doc, tableName: table, tenantId: OTHER });
    expect(await registry.get(3001)).toBeUndefined();
    expect(await registry.get(3002)).toMatchObject({ status: 'active' });
  });

  it.each([
    [['import'], /import needs a file/],
    [['import', 'x.json', '--tenant-id', TENANT], /--table-name is required/],
    [['import', 'x.json', '--table-name', 't', '--tenant-id', TENANT], /needs --kms-key-id \(AWS\) or --key-file/],
    [
      ['import', 'x.json', '--table-name', 't', '--tenant-id', TENANT, '--key-file', 'k', '--kms-key-id', 'k'],
      /not both/,
    ],
    [['export'], /unknown command "export"/],
    [['list', '--nope'], /Unknown option '--nope'/],
  ])('usage error %j → exit 2 with the reason', async (argv, message) => {
    const result = await run(...argv);
    expect(result.code).toBe(2);
    expect(result.text).toMatch(message);
  });

  it('a malformed secret file is exit 2 and its content is not echoed', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"clientId":"c","clientSecret":"s","users":[{"userId":1,"token":"token-leaky-123"}, "x"]}');
    const result = await run('import', bad, ...common(), '--key-file', keyFile);
    expect(result.code).toBe(2);
    expect(result.text).toContain('users[1] must be an object');
    expect(result.text).not.toContain('token-leaky-123');
  });

  it('step Lambdas with TOKEN_KEY_FILE read the registry; a user only in the secret is the deprecated fallback', async () => {
    // The secret now only needs the client credentials, plus one user not yet imported.
    const slimSecret = join(dir, 'slim.json');
    await writeFile(
      slimSecret,
      JSON.stringify({
        clientId: 'client-1',
        clientSecret: 'client-secret-XYZ',
        users: [{ userId: 2001, token: 'token-late-xyz' }],
      }),
    );
    const config = parseConfig({
      TABLE_NAME: table,
      POWENS_BASE_URL: 'http://127.0.0.1:9/2.0',
      POWENS_SECRET_FILE: slimSecret,
      TENANT_ID: TENANT,
      TOKEN_KEY_FILE: keyFile,
    });
    expect(config.userRegistry).toEqual({ kind: 'local', keyFile });
    const deps = buildStepDependencies(config, dynamo().doc);
    dynamo().operations.length = 0;
    const one = await deps.secrets.load([1002]);
    expect(one.users).toEqual([{ userId: 1002, token: 'token-louis-1a2b3c4d5e6f' }]);
    expect(one.clientSecret).toBe('client-secret-XYZ');
    const everyone = await deps.secrets.load();
    expect(everyone.users.map((u) => [u.userId, u.token])).toEqual([
      [1001, 'token-claire-9f8e7d6c5b4a'],
      [1002, 'token-louis-1a2b3c4d5e6f'],
      [1003, 'token-holding-0a9b8c7d6e5f'],
      [2001, 'token-late-xyz'],
    ]);
    // An id in neither place is left out; the domain's selectUsers turns that into ValidationFailed.
    expect((await deps.secrets.load([1001, 4242])).users.map((u) => u.userId)).toEqual([1001]);
    // What the stack grants the step Lambdas on top of their binding's actions, no more.
    expect([...new Set(dynamo().operations.map((o) => `dynamodb:${o}`))].sort()).toEqual(
      [...USER_REGISTRY_STEP_TABLE_ACTIONS].sort(),
    );
  });

  it('TOKEN_KMS_KEY_ID and TOKEN_KEY_FILE together are a ConfigurationError naming both', () => {
    expect(() =>
      parseConfig({
        TABLE_NAME: table,
        POWENS_BASE_URL: 'http://x/2.0',
        POWENS_SECRET_FILE: 's',
        TENANT_ID: TENANT,
        TOKEN_KEY_FILE: 'k',
        TOKEN_KMS_KEY_ID: 'alias/x',
      }),
    ).toThrow(/Both TOKEN_KMS_KEY_ID="alias\/x" and TOKEN_KEY_FILE="k" are set/);
  });
});
