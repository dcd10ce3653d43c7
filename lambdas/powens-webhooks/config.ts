/**
 * Webhook receiver configuration: the table, the tenant, where the Powens secret is (its `webhookSecret` is the HMAC
 * key) and the PSD2 limit Powens' own syncs are counted against. Parsed once; errors name the variable and the fix.
 */
import { type Environment, type SecretLocation, CONFIG_DEFAULTS, PSD2_REGULATORY_DAILY_LIMIT } from '../core/config';
import { ConfigurationError } from '../core/errors';
import { ENV } from '../core/env-names';

export interface WebhookConfig {
  tableName: string;
  tenantId: string;
  secret: SecretLocation;
  psd2DailySyncLimit: number;
}

function value(env: Environment, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

export function parseWebhookConfig(env: Environment): WebhookConfig {
  const tableName = value(env, ENV.tableName);
  if (tableName === undefined || !/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) {
    throw new ConfigurationError(
      `${ENV.tableName} must be the balances DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -).`,
    );
  }
  const tenantId = value(env, ENV.tenantId);
  if (tenantId === undefined || !/^[A-Za-z0-9_.:-]{1,128}$/.test(tenantId)) {
    throw new ConfigurationError(`${ENV.tenantId} must be the tenant id (1-128 of A-Z a-z 0-9 _ . : -).`);
  }
  const secretId = value(env, ENV.powensSecretId);
  const secretFile = value(env, ENV.powensSecretFile);
  if ((secretId === undefined) === (secretFile === undefined)) {
    throw new ConfigurationError(`Set exactly one of ${ENV.powensSecretId} (AWS) and ${ENV.powensSecretFile} (local).`);
  }
  const limitRaw = value(env, ENV.psd2DailySyncLimit);
  const limit = limitRaw === undefined ? CONFIG_DEFAULTS.psd2DailySyncLimit : Number(limitRaw);
  const agreed = value(env, ENV.psd2HigherLimitAgreed) === 'true';
  if (!Number.isInteger(limit) || limit < 1 || limit > (agreed ? 24 : PSD2_REGULATORY_DAILY_LIMIT)) {
    throw new ConfigurationError(
      `${ENV.psd2DailySyncLimit}=${JSON.stringify(limitRaw)} must be 1..${agreed ? 24 : PSD2_REGULATORY_DAILY_LIMIT}.`,
    );
  }
  return {
    tableName,
    tenantId,
    secret:
      secretId !== undefined ? { kind: 'secretsManager', secretId } : { kind: 'file', path: secretFile as string },
    psd2DailySyncLimit: limit,
  };
}
