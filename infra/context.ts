/**
 * CDK context the app reads (`-c key=value` or cdk.json "context"). Parsed once, validated with errors that name the
 * key, the bad value and the fix.
 */
import type { Node } from 'constructs';
import { DEFAULT_REFRESH_SCHEDULE } from './constructs/refresh-schedule';

export interface AppSettings {
  /** Powens API root, e.g. https://acme-sandbox.biapi.pro/2.0 */
  powensBaseUrl: string;
  /** Tenant (family office) the balances belong to. */
  tenantId: string;
  refreshSchedule: string;
  /** IANA time zone for the cron schedule (default UTC). */
  refreshScheduleTimeZone?: string;
  /** Import this existing Secrets Manager secret instead of creating one. */
  powensSecretName?: string;
  alarmEmail?: string;
  /** Powens calls per minute for this client (the Lambdas' shared rate budget); default: the Lambdas' 30. */
  powensCallsPerMinute?: number;
}

export const CONTEXT_KEYS = {
  powensBaseUrl: 'powensBaseUrl',
  tenantId: 'tenantId',
  refreshSchedule: 'refreshSchedule',
  refreshScheduleTimeZone: 'refreshScheduleTimeZone',
  powensSecretName: 'powensSecretName',
  alarmEmail: 'alarmEmail',
  powensCallsPerMinute: 'powensCallsPerMinute',
} as const;

export class ContextError extends Error {
  override readonly name = 'ContextError';
}

function optionalString(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw new ContextError(`Context ${key}=${JSON.stringify(value)} must be a string (-c ${key}=...).`);
  }
  return value.trim();
}

export function readSettings(node: Node): AppSettings {
  const powensBaseUrl = optionalString(node, CONTEXT_KEYS.powensBaseUrl);
  if (powensBaseUrl === undefined || !/^https:\/\/[^\s/]+(\/\S*)?$/.test(powensBaseUrl)) {
    throw new ContextError(
      `Context powensBaseUrl=${JSON.stringify(powensBaseUrl)} must be an https URL, e.g. -c powensBaseUrl=https://acme-sandbox.biapi.pro/2.0`,
    );
  }
  const tenantId = optionalString(node, CONTEXT_KEYS.tenantId);
  if (tenantId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(tenantId)) {
    throw new ContextError(`Context tenantId=${JSON.stringify(tenantId)} must match [A-Za-z0-9_-]{1,64}, e.g. -c tenantId=family-office`);
  }
  const alarmEmail = optionalString(node, CONTEXT_KEYS.alarmEmail);
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new ContextError(`Context alarmEmail=${JSON.stringify(alarmEmail)} is not an e-mail address.`);
  }
  const settings: AppSettings = {
    powensBaseUrl,
    tenantId,
    refreshSchedule: optionalString(node, CONTEXT_KEYS.refreshSchedule) ?? DEFAULT_REFRESH_SCHEDULE,
  };
  const timeZone = optionalString(node, CONTEXT_KEYS.refreshScheduleTimeZone);
  if (timeZone !== undefined) settings.refreshScheduleTimeZone = timeZone;
  const secretName = optionalString(node, CONTEXT_KEYS.powensSecretName);
  if (secretName !== undefined) settings.powensSecretName = secretName;
  if (alarmEmail !== undefined) settings.alarmEmail = alarmEmail;
  // `-c key=120` arrives as a string, cdk.json may hold a number.
  const rawCalls: unknown = node.tryGetContext(CONTEXT_KEYS.powensCallsPerMinute);
  const callsPerMinute = rawCalls === undefined || rawCalls === null || rawCalls === '' ? undefined : String(rawCalls).trim();
  if (callsPerMinute !== undefined) {
    const value = Number(callsPerMinute);
    if (!/^\d+$/.test(callsPerMinute) || value < 2 || value > 1_000_000) {
      throw new ContextError(
        `Context powensCallsPerMinute=${JSON.stringify(callsPerMinute)} must be a whole number 2..1000000 (the limit agreed with Powens).`,
      );
    }
    settings.powensCallsPerMinute = value;
  }
  return settings;
}
