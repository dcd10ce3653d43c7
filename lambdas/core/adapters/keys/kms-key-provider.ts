/**
 * KMS key provider for user tokens: Encrypt/Decrypt with the registry's KMS key and the encryption context
 * {tenant, powensUser}. The plaintext token only exists in the Lambda's memory; KMS refuses a Decrypt whose context
 * differs from the Encrypt's (InvalidCiphertextException), and IAM can restrict a function to one tenant with the
 * `kms:EncryptionContext:tenant` condition key (the stack does).
 *
 * Named static imports, not a lazy import() of the package: esbuild then bundles the client and these two commands
 * only (a lazily imported package is bundled whole, ~50 commands: a step bundle went 378 → 343 KB with this change).
 * The client itself is created on first use, so a function that never touches a token does not build it.
 */
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import type * as KmsSdk from '@aws-sdk/client-kms';
import { ConfigurationError, ServiceUnavailableError, type StepError } from '../../errors';
import {
  encryptionContext,
  tokenDecryptionError,
  type TokenContext,
  type TokenKeyProvider,
} from './token-key-provider';

/** The one method of KMSClient used here, so tests can hand in a declared fake of the KMS API. */
export interface KmsSender {
  send(command: KmsSdk.EncryptCommand): Promise<KmsSdk.EncryptCommandOutput>;
  send(command: KmsSdk.DecryptCommand): Promise<KmsSdk.DecryptCommandOutput>;
}

// Module scope: one client per container, created on first use. Region from AWS_REGION.
let defaultClient: KmsSender | undefined;
function kmsClient(): KmsSender {
  defaultClient ??= new KMSClient({});
  return defaultClient;
}

/** Deployment or key-state problems: retrying does not help. */
const KMS_CONFIGURATION_ERRORS = new Set([
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  'AccessDeniedException',
  'InvalidKeyUsageException',
  'IncorrectKeyException',
  'ValidationException',
]);

function classify(error: unknown, operation: string, keyId: string): StepError {
  const name = error instanceof Error ? error.name : 'UnknownError';
  if (KMS_CONFIGURATION_ERRORS.has(name)) {
    return new ConfigurationError(
      `KMS ${operation} with key ${keyId} was refused (${name}); check TOKEN_KMS_KEY_ID, the key state and the function's grant.`,
      { cause: error, details: { operation, sdkError: name } },
    );
  }
  // Throttling, KMSInternalException, DependencyTimeoutException, KeyUnavailableException, network: transient.
  return new ServiceUnavailableError(`KMS ${operation} with key ${keyId} failed transiently (${name}).`, {
    cause: error,
    details: { operation, sdkError: name },
  });
}

export function kmsKeyProvider(keyId: string, client?: KmsSender): TokenKeyProvider {
  if (keyId.trim() === '') throw new ConfigurationError('The KMS key id for user tokens is empty.');
  return {
    kind: 'kms',
    keyId,
    encrypt: async (plaintext, context: TokenContext) => {
      try {
        const kms = client ?? kmsClient();
        const out = await kms.send(
          new EncryptCommand({
            KeyId: keyId,
            Plaintext: Buffer.from(plaintext, 'utf8'),
            EncryptionContext: encryptionContext(context),
          }),
        );
        if (!out.CiphertextBlob) throw new Error('KMS Encrypt returned no CiphertextBlob');
        return Buffer.from(out.CiphertextBlob).toString('base64');
      } catch (error) {
        throw classify(error, 'Encrypt', keyId);
      }
    },
    decrypt: async (ciphertext, context: TokenContext) => {
      let out: KmsSdk.DecryptCommandOutput;
      try {
        const kms = client ?? kmsClient();
        out = await kms.send(
          new DecryptCommand({
            // KeyId pins the key: a ciphertext of another key is refused instead of silently decrypted.
            KeyId: keyId,
            CiphertextBlob: Buffer.from(ciphertext, 'base64'),
            EncryptionContext: encryptionContext(context),
          }),
        );
      } catch (error) {
        if (error instanceof Error && error.name === 'InvalidCiphertextException') {
          throw tokenDecryptionError(context, 'KMS InvalidCiphertextException (other tenant/user, or altered)', error);
        }
        // Automatic rotation keeps the key id, so old ciphertexts still decrypt; this is a token stored under another
        // key (the deployment moved to a new one): only storing the token again fixes it, user by user.
        if (error instanceof Error && error.name === 'IncorrectKeyException') {
          throw tokenDecryptionError(context, `encrypted under another KMS key than ${keyId}`, error);
        }
        throw classify(error, 'Decrypt', keyId);
      }
      if (!out.Plaintext) throw tokenDecryptionError(context, 'KMS Decrypt returned no plaintext');
      return Buffer.from(out.Plaintext).toString('utf8');
    },
  };
}
