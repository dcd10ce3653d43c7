import { readFileSync } from 'node:fs';
import { ConfigurationError } from '../../errors';
import { ENV } from '../../env-names';
import type { UserRegistryConfig } from '../../config';
import { kmsKeyProvider } from './kms-key-provider';
import { localKeyProvider, parseLocalKey, type TokenKeyProvider } from './token-key-provider';

/** The key provider a configuration names: KMS in AWS, the local key file for `npm start` and tests. */
export function keyProviderFor(config: UserRegistryConfig): TokenKeyProvider {
  if (config.kind === 'kms') return kmsKeyProvider(config.keyId);
  let raw: string;
  try {
    // Once per container, at dependency build time: a few dozen bytes.
    raw = readFileSync(config.keyFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigurationError(
      `Cannot read the local token key ${config.keyFile} (${code}); check ${ENV.tokenKeyFile}.`,
    );
  }
  return localKeyProvider(parseLocalKey(raw, `${ENV.tokenKeyFile}=${config.keyFile}`));
}
