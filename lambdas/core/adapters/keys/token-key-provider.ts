/**
 * Envelope for Powens user tokens at rest: the user registry stores only what a key provider returns from
 * encrypt(), and only decrypt() with the same encryption context gets the token back. The context binds a
 * ciphertext to its tenant and Powens user, so an item copied to another user or tenant does not decrypt.
 *
 * Two providers behind one interface: KMS in AWS (./kms-key-provider.ts; the key never leaves KMS, the context is
 * KMS's EncryptionContext, visible in CloudTrail and usable in IAM conditions) and a local AES-256-GCM key for
 * `npm start` and tests (the context is the GCM additional authenticated data).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigurationError } from '../../errors';

/** What a ciphertext is bound to. Keys are fixed so the KMS context and the IAM condition keys match. */
export interface TokenContext {
  tenantId: string;
  userId: number;
}

export interface TokenKeyProvider {
  /** `kms` or `local`; stored next to each ciphertext so a mismatched deployment fails clearly. */
  readonly kind: 'kms' | 'local';
  /** Key identity, safe to log and store (a KMS key id/ARN, or a fingerprint of the local key). */
  readonly keyId: string;
  /** Returns base64 ciphertext. */
  encrypt(plaintext: string, context: TokenContext): Promise<string>;
  /** Throws TokenDecryptionError when the ciphertext does not belong to `context` or to this key. */
  decrypt(ciphertext: string, context: TokenContext): Promise<string>;
}

/** The encryption context as KMS receives it (and the AAD locally): `tenant` and `powensUser`. */
export function encryptionContext(context: TokenContext): Record<string, string> {
  return { tenant: context.tenantId, powensUser: String(context.userId) };
}

/**
 * A stored token that does not decrypt under its tenant + user: the item was copied or altered, or the key is not the
 * one it was encrypted with. Permanent (a ConfigurationError for the state machine): re-import the user's token.
 */
export function tokenDecryptionError(context: TokenContext, reason: string, cause?: unknown): ConfigurationError {
  return new ConfigurationError(
    `The stored Powens token of user ${context.userId} does not decrypt under its encryption context ` +
      `(tenant ${context.tenantId}, user ${context.userId}): ${reason}. Store the token again (PUT /users/${context.userId}).`,
    { cause, details: { userId: context.userId, reason: 'tokenDecryptionFailed' } },
  );
}

const LOCAL_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

function aad(context: TokenContext): Buffer {
  const entries = Object.entries(encryptionContext(context)).sort(([a], [b]) => a.localeCompare(b));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

/** Parses a base64 32-byte key (what `npm start` writes to its work dir; tests generate one). */
export function parseLocalKey(base64: string, origin: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) {
    throw new ConfigurationError(
      `The local token key from ${origin} must be 32 bytes, base64-encoded (got ${key.length} bytes).`,
    );
  }
  return key;
}

export function generateLocalKey(): string {
  return randomBytes(32).toString('base64');
}

/** AES-256-GCM with a random 96-bit IV per token; layout: version(1) | iv(12) | tag(16) | ciphertext. */
export function localKeyProvider(key: Buffer): TokenKeyProvider {
  if (key.length !== 32) throw new ConfigurationError('The local token key must be 32 bytes.');
  const keyId = `local:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  return {
    kind: 'local',
    keyId,
    encrypt: async (plaintext, context) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.from([LOCAL_VERSION]), iv, cipher.getAuthTag(), body]).toString('base64');
    },
    decrypt: async (ciphertext, context) => {
      const blob = Buffer.from(ciphertext, 'base64');
      if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== LOCAL_VERSION) {
        throw tokenDecryptionError(context, 'not a local-key ciphertext');
      }
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(aad(context));
      decipher.setAuthTag(blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(blob.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
          'utf8',
        );
      } catch (error) {
        // GCM authentication failed: other context, other key, or altered bytes. The three are indistinguishable.
        throw tokenDecryptionError(context, 'authentication failed (other tenant/user, other key, or altered)', error);
      }
    },
  };
}
