/**
 * The Powens credentials: client id/secret and one permanent user token per Powens user. They come from Secrets
 * Manager in AWS and from a JSON file locally, through one small interface, and are cached per process with a TTL so
 * a rotated token is picked up by warm Lambdas without a redeploy.
 *
 * Nothing in this module ever puts a secret value into a message: validation errors name the JSON path and the
 * expected type, never what was found.
 */
import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigurationError, ServiceUnavailableError, type StepError } from '../../errors';
import type { SecretLocation } from '../../config';
import { ENV } from '../../env-names';

export interface PowensSecretUser {
  /** Powens user id (positive integer). */
  userId: number;
  /** Permanent user access token. Secret. */
  token: string;
  /** Human label for logs and reports (e.g. "Dupont holding"); not secret. */
  label?: string;
}

export interface PowensSecret {
  clientId: string;
  clientSecret: string;
  users: PowensSecretUser[];
  /**
   * HMAC key of the Powens webhook auth provider (`secret_key`, shown once by `POST /webhooks/auth`). Secret. Only the
   * webhook receiver needs it; without it every webhook is refused (401).
   */
  webhookSecret?: string;
}

export interface SecretSource {
  /** Where the secret comes from, safe to log (an ARN or a path, never content). */
  readonly description: string;
  /**
   * `userIds`: the users the caller needs (undefined = all). The secret itself ignores it (its list is small); the
   * user-registry source (./user-credentials.ts) reads and decrypts only those users.
   */
  load(userIds?: readonly number[]): Promise<PowensSecret>;
}

export interface SecretParseOptions {
  /** With a user registry, the secret only needs the client credentials: `users` may be absent or empty. */
  usersOptional?: boolean;
}

/** Hand-written rather than ajv: every message is built here, so none can quote a value. */
export function parsePowensSecret(raw: string, origin: string, options: SecretParseOptions = {}): PowensSecret {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // The parser's message quotes the offending text, which could be part of a token: drop it.
    throw new ConfigurationError(`Powens secret from ${origin} is not valid JSON.`);
  }
  const problem = (path: string, expected: string) =>
    new ConfigurationError(`Powens secret from ${origin}: ${path} must be ${expected}.`);
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

  if (!isObject(json)) throw problem('the document', 'a JSON object {clientId, clientSecret, users}');
  if (!nonEmptyString(json.clientId)) throw problem('clientId', 'a non-empty string');
  if (!nonEmptyString(json.clientSecret)) throw problem('clientSecret', 'a non-empty string');
  let webhookSecret: string | undefined;
  if (json.webhookSecret !== undefined) {
    if (!nonEmptyString(json.webhookSecret) || json.webhookSecret.length < 16) {
      throw problem(
        'webhookSecret',
        'a string of at least 16 characters (the HMAC secret_key Powens gave) when present',
      );
    }
    webhookSecret = json.webhookSecret;
  }
  const withWebhook = (secret: PowensSecret): PowensSecret =>
    webhookSecret === undefined ? secret : { ...secret, webhookSecret };
  if (options.usersOptional && (json.users === undefined || (Array.isArray(json.users) && json.users.length === 0))) {
    return withWebhook({ clientId: json.clientId, clientSecret: json.clientSecret, users: [] });
  }
  if (!Array.isArray(json.users) || json.users.length === 0) {
    throw problem('users', 'a non-empty array of {userId, token, label?}');
  }
  const seen = new Set<number>();
  const users = json.users.map((user: unknown, index): PowensSecretUser => {
    const at = `users[${index}]`;
    if (!isObject(user)) throw problem(at, 'an object {userId, token, label?}');
    const { userId, token, label } = user;
    if (typeof userId !== 'number' || !Number.isSafeInteger(userId) || userId < 1) {
      throw problem(`${at}.userId`, 'a positive integer (the Powens user id)');
    }
    if (seen.has(userId)) throw problem(`${at}.userId`, `unique (user ${userId} appears twice)`);
    seen.add(userId);
    if (!nonEmptyString(token)) throw problem(`${at}.token`, 'a non-empty string (the permanent user token)');
    if (label !== undefined && typeof label !== 'string') throw problem(`${at}.label`, 'a string when present');
    return label === undefined ? { userId, token } : { userId, token, label };
  });
  return withWebhook({ clientId: json.clientId, clientSecret: json.clientSecret, users });
}

export function fileSecretSource(path: string, options: SecretParseOptions = {}): SecretSource {
  return {
    description: `file ${path}`,
    load: async () => {
      let raw: string;
      try {
        raw = await readFile(path, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
        throw new ConfigurationError(`Cannot read the Powens secret file ${path} (${code}); check POWENS_SECRET_FILE.`);
      }
      return parsePowensSecret(raw, `file ${path}`, options);
    },
  };
}

// Module scope: created on the first secret load (not at import, and never for file sources), then reused by warm
// invocations. Region comes from AWS_REGION. Static named imports, not a lazy import(): esbuild can then keep only
// the client and GetSecretValue (a lazily imported package is bundled whole, all ~25 commands).
let defaultSecretsManager: SecretsManagerClient | undefined;
function secretsManagerClient(): SecretsManagerClient {
  defaultSecretsManager ??= new SecretsManagerClient({});
  return defaultSecretsManager;
}

const SECRETS_MANAGER_CONFIGURATION_ERRORS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
]);

function classifySecretsManagerError(error: unknown, secretId: string, variable: string): StepError {
  const name = error instanceof Error ? error.name : 'UnknownError';
  if (SECRETS_MANAGER_CONFIGURATION_ERRORS.has(name)) {
    return new ConfigurationError(
      `Secrets Manager refused GetSecretValue for ${secretId} (${name}); check ${variable} and the function's grant.`,
      { cause: error },
    );
  }
  // Throttling, InternalServiceError, network: transient, the step retry can fix it.
  return new ServiceUnavailableError(`Secrets Manager GetSecretValue for ${secretId} failed (${name}).`, {
    cause: error,
  });
}

/**
 * The SecretString of a secret (the Powens configuration, the API's cursor key), failures classified and naming the
 * environment `variable` that points to it. `client` is for
 * tests; without it the container's shared client is created on the first call.
 */
export async function readSecretString(
  secretId: string,
  variable: string,
  client?: SecretsManagerClient,
): Promise<string> {
  let secretString: string | undefined;
  try {
    // Inside the try: a failure to load the SDK module is classified like any other Secrets Manager failure.
    const sm = client ?? secretsManagerClient();
    const response = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
    secretString = response.SecretString;
  } catch (error) {
    throw classifySecretsManagerError(error, secretId, variable);
  }
  if (secretString === undefined) {
    throw new ConfigurationError(`Secret ${secretId} has no SecretString; store the value as a string secret.`);
  }
  return secretString;
}

export function secretsManagerSource(
  secretId: string,
  client?: SecretsManagerClient,
  options: SecretParseOptions = {},
): SecretSource {
  return {
    description: `secretsmanager ${secretId}`,
    load: async () =>
      parsePowensSecret(await readSecretString(secretId, ENV.powensSecretId, client), `secret ${secretId}`, options),
  };
}

export const DEFAULT_SECRET_TTL_MS = 5 * 60_000;

/**
 * Caches a source for `ttlMs`. Concurrent callers share one in-flight load; a failed load is not cached, so the next
 * call (a Step Functions retry) tries again.
 */
export function cachedSecretSource(
  source: SecretSource,
  options: { ttlMs?: number; now?: () => number } = {},
): SecretSource {
  const ttlMs = options.ttlMs ?? DEFAULT_SECRET_TTL_MS;
  const now = options.now ?? Date.now;
  let entry: { value: Promise<PowensSecret>; loadedAt: number } | undefined;
  return {
    description: source.description,
    load: () => {
      if (entry === undefined || now() - entry.loadedAt >= ttlMs) {
        const value = source.load();
        const current = { value, loadedAt: now() };
        entry = current;
        value.catch(() => {
          if (entry === current) entry = undefined;
        });
      }
      return entry.value;
    },
  };
}

/** The source a deployed (Secrets Manager) or local (file) step Lambda uses, cached. */
export function secretSourceFor(
  location: SecretLocation,
  options: { ttlMs?: number } & SecretParseOptions = {},
): SecretSource {
  const parse = { usersOptional: options.usersOptional ?? false };
  const source =
    location.kind === 'file'
      ? fileSecretSource(location.path, parse)
      : secretsManagerSource(location.secretId, undefined, parse);
  return cachedSecretSource(source, options);
}
