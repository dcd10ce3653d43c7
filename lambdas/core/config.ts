/**
 * Step Lambda configuration, parsed from the environment once per process (a warm Lambda reuses it). Every problem
 * is a ConfigurationError naming the variable, the bad value and the fix, so a misdeployed function fails its first
 * invocation with a classified, permanent error instead of misbehaving later. Values here are never secret (the
 * Powens credentials live in the secret the config only points to), so echoing them is safe.
 */
import { ConfigurationError } from './errors';
import { ENV } from './env-names';
import { defaultBurst } from './adapters/powens/rate-budget';

/** PSD2 RTS Art. 36(5)(b): four unattended accesses per 24 h unless a higher frequency is agreed. */
export const PSD2_REGULATORY_DAILY_LIMIT = 4;

export const CONFIG_DEFAULTS = {
  powensTimeoutMs: 15_000,
  powensSyncTimeoutMs: 180_000,
  psd2DailySyncLimit: PSD2_REGULATORY_DAILY_LIMIT,
  historyTtlDays: 400,
  freshnessMaxAgeMinutes: 360,
  /** The published limit of a Powens sandbox client; production limits are negotiated, so set them explicitly. */
  powensCallsPerMinute: 30,
  /**
   * No cap of its own by default (Lambda's longest timeout): a wait for a rate slot is bounded by the invocation's
   * remaining time minus the call's timeout (adapters/powens/rate-budget.ts), which is always the tighter bound.
   */
  powensRateMaxWaitMs: 900_000,
} as const;

export interface PowensRateConfig {
  bucket: string;
  callsPerMinute: number;
  burst: number;
  maxWaitMs: number;
}

export type SecretLocation = { kind: 'secretsManager'; secretId: string } | { kind: 'file'; path: string };

/** Where user tokens are decrypted from when the user registry is on (absent: the secret's user list). */
export type UserRegistryConfig = { kind: 'kms'; keyId: string } | { kind: 'local'; keyFile: string };

export interface StepConfig {
  tableName: string;
  powensBaseUrl: string;
  secret: SecretLocation;
  tenantId: string;
  powensTimeoutMs: number;
  powensSyncTimeoutMs: number;
  psd2DailySyncLimit: number;
  historyTtlDays: number;
  /** refresh-balances' default `maxAgeMinutes`. */
  freshnessMaxAgeMinutes: number;
  powensRate: PowensRateConfig;
  userRegistry?: UserRegistryConfig;
}

export type Environment = Readonly<Record<string, string | undefined>>;

function present(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function required(env: Environment, name: string, hint: string): string {
  const value = present(env, name);
  if (value === undefined) throw new ConfigurationError(`${name} is not set. ${hint}`);
  return value;
}

function integer(env: Environment, name: string, fallback: number, min: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new ConfigurationError(`${name}=${JSON.stringify(raw)} is not a whole number; expected ${min}..${max}.`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigurationError(`${name}=${raw} is out of range; expected ${min}..${max}.`);
  }
  return value;
}

/** TOKEN_KMS_KEY_ID (AWS) or TOKEN_KEY_FILE (local), at most one; neither = no user registry. Shared with the API. */
export function parseUserRegistryConfig(env: Environment): UserRegistryConfig | undefined {
  const kmsKeyId = present(env, ENV.tokenKmsKeyId);
  const keyFile = present(env, ENV.tokenKeyFile);
  if (kmsKeyId !== undefined && keyFile !== undefined) {
    throw new ConfigurationError(
      `Both ${ENV.tokenKmsKeyId}=${JSON.stringify(kmsKeyId)} and ${ENV.tokenKeyFile}=${JSON.stringify(keyFile)} are set; ` +
        `set at most one (${ENV.tokenKmsKeyId} in AWS, ${ENV.tokenKeyFile} for a local run).`,
    );
  }
  return kmsKeyId !== undefined
    ? { kind: 'kms', keyId: kmsKeyId }
    : keyFile !== undefined
      ? { kind: 'local', keyFile }
      : undefined;
}

/** Pure: parses the given environment. Tests call it directly; Lambdas use getConfig(). */
export function parseConfig(env: Environment): StepConfig {
  const tableName = required(env, ENV.tableName, 'Set it to the balances DynamoDB table name.');
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) {
    throw new ConfigurationError(
      `${ENV.tableName}=${JSON.stringify(tableName)} is not a valid DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -).`,
    );
  }

  const baseUrlRaw = required(
    env,
    ENV.powensBaseUrl,
    'Set it to the Powens API root, e.g. https://acme-sandbox.biapi.pro/2.0',
  );
  let baseUrl: URL;
  try {
    baseUrl = new URL(baseUrlRaw);
  } catch {
    throw new ConfigurationError(
      `${ENV.powensBaseUrl}=${JSON.stringify(baseUrlRaw)} is not an absolute URL, e.g. https://acme-sandbox.biapi.pro/2.0`,
    );
  }
  if (baseUrl.protocol !== 'https:' && baseUrl.protocol !== 'http:') {
    throw new ConfigurationError(`${ENV.powensBaseUrl}=${JSON.stringify(baseUrlRaw)} must be an http(s) URL.`);
  }

  const secretId = present(env, ENV.powensSecretId);
  const secretFile = present(env, ENV.powensSecretFile);
  if ((secretId === undefined) === (secretFile === undefined)) {
    throw new ConfigurationError(
      secretId === undefined
        ? `Neither ${ENV.powensSecretId} nor ${ENV.powensSecretFile} is set; set exactly one ` +
            `(${ENV.powensSecretId} in AWS, ${ENV.powensSecretFile} for a local run).`
        : `Both ${ENV.powensSecretId}=${JSON.stringify(secretId)} and ${ENV.powensSecretFile}=` +
            `${JSON.stringify(secretFile)} are set; set exactly one.`,
    );
  }
  const secret: SecretLocation =
    secretId !== undefined ? { kind: 'secretsManager', secretId } : { kind: 'file', path: secretFile as string };

  const tenantId = required(env, ENV.tenantId, 'Set it to the tenant (family office) id the balances belong to.');
  // The id is embedded in `#`-joined table keys (table-schema.ts): a `#` would make keys ambiguous.
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(tenantId)) {
    throw new ConfigurationError(
      `${ENV.tenantId}=${JSON.stringify(tenantId)} is invalid; use 1-128 of A-Z a-z 0-9 _ . : - (no '#').`,
    );
  }

  const higherLimitAgreedRaw = present(env, ENV.psd2HigherLimitAgreed);
  if (higherLimitAgreedRaw !== undefined && higherLimitAgreedRaw !== 'true' && higherLimitAgreedRaw !== 'false') {
    throw new ConfigurationError(
      `${ENV.psd2HigherLimitAgreed}=${JSON.stringify(higherLimitAgreedRaw)} must be "true" or "false".`,
    );
  }
  const psd2DailySyncLimit = integer(env, ENV.psd2DailySyncLimit, CONFIG_DEFAULTS.psd2DailySyncLimit, 1, 24);
  if (psd2DailySyncLimit > PSD2_REGULATORY_DAILY_LIMIT && higherLimitAgreedRaw !== 'true') {
    throw new ConfigurationError(
      `${ENV.psd2DailySyncLimit}=${psd2DailySyncLimit} exceeds the PSD2 limit of ${PSD2_REGULATORY_DAILY_LIMIT} ` +
        `unattended accesses per 24 h (RTS 2018/389 Art. 36(5)). Lower it, or set ${ENV.psd2HigherLimitAgreed}=true ` +
        'if a higher frequency is agreed with the bank and consented to by the account holder.',
    );
  }

  const powensTimeoutMs = integer(env, ENV.powensTimeoutMs, CONFIG_DEFAULTS.powensTimeoutMs, 100, 900_000);
  const powensSyncTimeoutMs = integer(env, ENV.powensSyncTimeoutMs, CONFIG_DEFAULTS.powensSyncTimeoutMs, 100, 900_000);

  const callsPerMinute = integer(env, ENV.powensCallsPerMinute, CONFIG_DEFAULTS.powensCallsPerMinute, 2, 1_000_000);
  const burst = integer(env, ENV.powensRateBurst, defaultBurst(callsPerMinute), 1, callsPerMinute - 1);
  const bucket = present(env, ENV.powensRateBucket) ?? baseUrl.host;
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(bucket)) {
    throw new ConfigurationError(
      `${ENV.powensRateBucket}=${JSON.stringify(bucket)} is invalid; use 1-200 of A-Z a-z 0-9 _ . : -.`,
    );
  }
  const powensRate: PowensRateConfig = {
    bucket,
    callsPerMinute,
    burst,
    maxWaitMs: integer(env, ENV.powensRateMaxWaitMs, CONFIG_DEFAULTS.powensRateMaxWaitMs, 0, 900_000),
  };

  const userRegistry = parseUserRegistryConfig(env);

  return {
    ...(userRegistry === undefined ? {} : { userRegistry }),
    tableName,
    powensBaseUrl: baseUrlRaw,
    secret,
    tenantId,
    powensTimeoutMs,
    powensSyncTimeoutMs,
    psd2DailySyncLimit,
    historyTtlDays: integer(env, ENV.historyTtlDays, CONFIG_DEFAULTS.historyTtlDays, 1, 3650),
    freshnessMaxAgeMinutes: parseFreshnessMaxAgeMinutes(env),
    powensRate,
  };
}

/**
 * The freshness threshold (minutes): refresh-balances syncs a connection whose data is older, and the balances it
 * leaves older than that are served as `stale` (fetch-balances' output, the read API). One variable for both.
 */
export function parseFreshnessMaxAgeMinutes(env: Environment): number {
  return integer(env, ENV.freshnessMaxAgeMinutes, CONFIG_DEFAULTS.freshnessMaxAgeMinutes, 0, 10_080);
}

let cached: StepConfig | undefined;

/**
 * The process-wide configuration, parsed on first use. Lazy rather than at import so a bad environment surfaces as a
 * ConfigurationError from the handler (a classified Step Functions error) instead of a Lambda init crash, and so
 * importing a handler module never throws. A failed parse is not cached: fixing the environment in a test works.
 */
export const DEFAULT_FANOUT_PAGE_SIZE = 500;

/** FANOUT_PAGE_SIZE (fan-out Lambda only): user ids per page, 1..1000, default 500. */
export function parseFanOutPageSize(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_FANOUT_PAGE_SIZE;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < 1 || value > 1000) {
    throw new ConfigurationError(`${ENV.fanOutPageSize}=${JSON.stringify(raw)} must be a whole number 1..1000.`);
  }
  return value;
}

export function getConfig(): StepConfig {
  cached ??= parseConfig(process.env);
  return cached;
}

/** Tests and the local runner change process.env between runs; this forgets the parsed copy. */
export function resetConfigForTests(): void {
  cached = undefined;
}
