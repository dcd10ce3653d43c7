import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  cachedSecretSource,
  fileSecretSource,
  parsePowensSecret,
  secretsManagerSource,
  type PowensSecret,
  type SecretSource,
} from '../../../lambdas/core/adapters/secrets/powens-secret';

const TOKEN = 'tok_SUPER_SECRET_123';
const VALID = {
  clientId: 'cid',
  clientSecret: 'CLIENT_SECRET_456',
  users: [{ userId: 1, token: TOKEN, label: 'Claire' }],
};

describe('parsePowensSecret', () => {
  it('accepts the documented shape', () => {
    expect(parsePowensSecret(JSON.stringify(VALID), 'test')).toEqual(VALID);
  });

  it.each([
    ['{not json ' + TOKEN, /is not valid JSON/],
    [JSON.stringify([]), /the document must be a JSON object/],
    [JSON.stringify({ ...VALID, clientSecret: '' }), /clientSecret must be a non-empty string/],
    [JSON.stringify({ ...VALID, users: [] }), /users must be a non-empty array/],
    [
      JSON.stringify({ ...VALID, users: [{ userId: '1', token: TOKEN }] }),
      /users\[0\]\.userId must be a positive integer/,
    ],
    [JSON.stringify({ ...VALID, users: [{ userId: 1, token: 42 }] }), /users\[0\]\.token must be a non-empty string/],
    [
      JSON.stringify({
        ...VALID,
        users: [
          { userId: 1, token: TOKEN },
          { userId: 1, token: 'x' },
        ],
      }),
      /users\[1\]\.userId must be unique/,
    ],
    [
      JSON.stringify({ ...VALID, users: [{ userId: 1, token: TOKEN, label: 3 }] }),
      /users\[0\]\.label must be a string/,
    ],
  ])('rejects %s with a ConfigurationError that never quotes a value', (raw, message) => {
    let thrown: unknown;
    try {
      parsePowensSecret(raw, 'file /x.json');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: 'ConfigurationError', message: expect.stringMatching(message) });
    const text = `${(thrown as Error).message} ${JSON.stringify(thrown)}`;
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('CLIENT_SECRET_456');
  });
});

describe('fileSecretSource', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'secret-unit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and validates the file', async () => {
    const path = join(dir, 'ok.json');
    await writeFile(path, JSON.stringify(VALID));
    await expect(fileSecretSource(path).load()).resolves.toEqual(VALID);
  });

  it('names the path and errno when the file is missing', async () => {
    await expect(fileSecretSource(join(dir, 'missing.json')).load()).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringMatching(/missing\.json \(ENOENT\); check POWENS_SECRET_FILE/),
    });
  });
});

describe('cachedSecretSource', () => {
  function countingSource(values: (PowensSecret | Error)[]): SecretSource & { calls: number } {
    const source = {
      description: 'fake',
      calls: 0,
      load: async () => {
        const value = values[Math.min(source.calls, values.length - 1)] as PowensSecret | Error;
        source.calls += 1;
        if (value instanceof Error) throw value;
        return value;
      },
    };
    return source;
  }
  const rotated = { ...VALID, users: [{ userId: 1, token: 'rotated' }] };

  it('serves the cached secret within the TTL and reloads after it (token rotation)', async () => {
    const inner = countingSource([VALID, rotated]);
    let now = 0;
    const cached = cachedSecretSource(inner, { ttlMs: 300_000, now: () => now });
    await Promise.all([cached.load(), cached.load()]);
    now = 299_999;
    expect(await cached.load()).toEqual(VALID);
    expect(inner.calls).toBe(1);
    now = 300_000;
    expect(await cached.load()).toEqual(rotated);
    expect(inner.calls).toBe(2);
  });

  it('does not cache a failure', async () => {
    const inner = countingSource([new Error('throttled'), VALID]);
    const cached = cachedSecretSource(inner, { now: () => 0 });
    await expect(cached.load()).rejects.toThrow('throttled');
    await expect(cached.load()).resolves.toEqual(VALID);
  });
});

describe('secretsManagerSource', () => {
  // A stub client: there is no local Secrets Manager to run against (no Docker, no AWS here).
  function stubClient(answer: () => unknown) {
    return { send: async () => answer() } as unknown as SecretsManagerClient;
  }
  const named = (name: string) => Object.assign(new Error(`${name} happened`), { name });

  it('parses SecretString', async () => {
    const source = secretsManagerSource(
      'powens',
      stubClient(() => ({ SecretString: JSON.stringify(VALID) })),
    );
    await expect(source.load()).resolves.toEqual(VALID);
  });

  it.each([
    ['ResourceNotFoundException', 'ConfigurationError'],
    ['AccessDeniedException', 'ConfigurationError'],
    ['ThrottlingException', 'ServiceUnavailable'],
    ['InternalServiceError', 'ServiceUnavailable'],
  ])('classifies %s as %s', async (sdkName, name) => {
    const source = secretsManagerSource(
      'powens',
      stubClient(() => {
        throw named(sdkName);
      }),
    );
    await expect(source.load()).rejects.toMatchObject({ name, message: expect.stringContaining(sdkName) });
  });

  it('rejects a binary-only secret', async () => {
    const source = secretsManagerSource(
      'powens',
      stubClient(() => ({ SecretBinary: new Uint8Array([1]) })),
    );
    await expect(source.load()).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringContaining('no SecretString'),
    });
  });
});
