/**
 * Token key providers. The local provider (AES-256-GCM) is real crypto. KMS cannot run locally, so the KMS adapter is
 * tested against a DECLARED FAKE of the KMS API below: it keeps plaintexts server-side, hands out opaque blobs, and
 * refuses a Decrypt whose KeyId or EncryptionContext differs from the Encrypt's with InvalidCiphertextException, as
 * KMS documents. The fake is what is asserted against, not the real service.
 */
import { randomBytes } from 'node:crypto';
import type { DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { kmsKeyProvider, type KmsSender } from '../../../lambdas/core/adapters/keys/kms-key-provider';
import {
  encryptionContext,
  generateLocalKey,
  localKeyProvider,
  parseLocalKey,
  type TokenKeyProvider,
} from '../../../lambdas/core/adapters/keys/token-key-provider';
import { namedError } from '../../support/named-error';

const TOKEN = 'tok_' + randomBytes(24).toString('hex');
const ALICE = { tenantId: 'martin-family', userId: 1001 };

/** Declared fake of KMS Encrypt/Decrypt (see the file comment). */
function fakeKms(...keyIds: string[]) {
  const stored = new Map<string, { plaintext: Uint8Array; keyId: string; context: string }>();
  const calls: { command: string; context: Record<string, string> | undefined }[] = [];
  let failWith: string | undefined;
  const canonical = (context: Record<string, string> | undefined) =>
    JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  const sender = {
    failNext(name: string) {
      failWith = name;
    },
    calls,
    async send(command: EncryptCommand | DecryptCommand) {
      const input = command.input as Record<string, unknown>;
      const name = command.constructor.name;
      calls.push({ command: name, context: input.EncryptionContext as Record<string, string> | undefined });
      if (failWith) {
        const error = namedError(failWith);
        failWith = undefined;
        throw error;
      }
      if (name === 'EncryptCommand') {
        const keyId = String(input.KeyId);
        if (!keyIds.includes(keyId)) throw namedError('NotFoundException');
        const blob = randomBytes(32);
        stored.set(blob.toString('hex'), {
          plaintext: input.Plaintext as Uint8Array,
          keyId,
          context: canonical(input.EncryptionContext as Record<string, string>),
        });
        return { CiphertextBlob: new Uint8Array(blob), KeyId: keyId };
      }
      const entry = stored.get(Buffer.from(input.CiphertextBlob as Uint8Array).toString('hex'));
      if (!entry) throw namedError('InvalidCiphertextException');
      if (input.KeyId !== undefined && input.KeyId !== entry.keyId) throw namedError('IncorrectKeyException');
      if (canonical(input.EncryptionContext as Record<string, string>) !== entry.context) {
        throw namedError('InvalidCiphertextException');
      }
      return { Plaintext: entry.plaintext, KeyId: entry.keyId };
    },
  };
  return sender;
}

const providers: [string, () => TokenKeyProvider][] = [
  ['local AES-256-GCM', () => localKeyProvider(parseLocalKey(generateLocalKey(), 'test'))],
  [
    'KMS (declared fake)',
    () =>
      kmsKeyProvider('arn:aws:kms:eu-west-3:1:key/k', fakeKms('arn:aws:kms:eu-west-3:1:key/k') as unknown as KmsSender),
  ],
];

describe.each(providers)('%s key provider', (_name, make) => {
  it('round-trips a token, and the ciphertext does not contain it', async () => {
    const keys = make();
    const ciphertext = await keys.encrypt(TOKEN, ALICE);
    expect(ciphertext).not.toContain(TOKEN);
    expect(Buffer.from(ciphertext, 'base64').toString('latin1')).not.toContain(TOKEN);
    await expect(keys.decrypt(ciphertext, ALICE)).resolves.toBe(TOKEN);
  });

  it.each([
    ['another user', { ...ALICE, userId: 1002 }],
    ['another tenant', { ...ALICE, tenantId: 'other-family' }],
  ])('refuses to decrypt under %s (context mismatch) with a named, permanent error', async (_what, context) => {
    const keys = make();
    const ciphertext = await keys.encrypt(TOKEN, ALICE);
    const error = await keys.decrypt(ciphertext, context).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'ConfigurationError',
      retryable: false,
      details: { reason: 'tokenDecryptionFailed' },
    });
    expect(String((error as Error).message)).not.toContain(TOKEN);
  });

  it('refuses an altered ciphertext', async () => {
    const keys = make();
    const blob = Buffer.from(await keys.encrypt(TOKEN, ALICE), 'base64');
    blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 1;
    await expect(keys.decrypt(blob.toString('base64'), ALICE)).rejects.toMatchObject({ name: 'ConfigurationError' });
  });
});

describe('local key provider', () => {
  it('refuses a ciphertext made with another key', async () => {
    const a = localKeyProvider(parseLocalKey(generateLocalKey(), 'a'));
    const b = localKeyProvider(parseLocalKey(generateLocalKey(), 'b'));
    expect(a.keyId).not.toBe(b.keyId);
    await expect(b.decrypt(await a.encrypt(TOKEN, ALICE), ALICE)).rejects.toMatchObject({ name: 'ConfigurationError' });
  });

  it('rejects a key that is not 32 bytes', () => {
    expect(() => parseLocalKey(Buffer.alloc(16).toString('base64'), 'file k')).toThrow(
      /32 bytes, base64-encoded \(got 16 bytes\)/,
    );
  });
});

describe('KMS key provider (declared fake of the KMS API)', () => {
  const KEY = 'arn:aws:kms:eu-west-3:123456789012:key/abc';

  it('sends the encryption context {tenant, powensUser} with both Encrypt and Decrypt', async () => {
    const kms = fakeKms(KEY);
    const keys = kmsKeyProvider(KEY, kms as unknown as KmsSender);
    await keys.decrypt(await keys.encrypt(TOKEN, ALICE), ALICE);
    expect(kms.calls).toEqual([
      { command: 'EncryptCommand', context: { tenant: 'martin-family', powensUser: '1001' } },
      { command: 'DecryptCommand', context: { tenant: 'martin-family', powensUser: '1001' } },
    ]);
    expect(encryptionContext(ALICE)).toEqual({ tenant: 'martin-family', powensUser: '1001' });
  });

  it.each([
    ['AccessDeniedException', 'ConfigurationError'],
    ['DisabledException', 'ConfigurationError'],
    ['ThrottlingException', 'ServiceUnavailable'],
    ['KMSInternalException', 'ServiceUnavailable'],
  ])('classifies %s as %s', async (sdkError, stepError) => {
    const kms = fakeKms(KEY);
    const keys = kmsKeyProvider(KEY, kms as unknown as KmsSender);
    const ciphertext = await keys.encrypt(TOKEN, ALICE);
    kms.failNext(sdkError);
    await expect(keys.decrypt(ciphertext, ALICE)).rejects.toMatchObject({ name: stepError });
  });
  it('a token stored under a previous key (the deployment moved to a new key) names the user and says to store it again', async () => {
    const OLD = 'arn:aws:kms:eu-west-3:123456789012:key/old';
    const kms = fakeKms(OLD, KEY);
    const ciphertext = await kmsKeyProvider(OLD, kms as unknown as KmsSender).encrypt(TOKEN, ALICE);
    const error = await kmsKeyProvider(KEY, kms as unknown as KmsSender)
      .decrypt(ciphertext, ALICE)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'ConfigurationError',
      details: { userId: 1001, reason: 'tokenDecryptionFailed' },
      message: expect.stringContaining('PUT /users/1001'),
    });
  });
});
