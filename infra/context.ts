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
  /** Fan-out: seed executions at once (default 10), tolerated failed users in % (default 10), users per page (500). */
  fanOutMaxConcurrency?: number;
  fanOutToleratedFailurePercentage?: number;
  fanOutPageSize?: number;
}

export const CONTEXT_KEYS = {
  powensBaseUrl: 'powensBaseUrl',
  tenantId: 'tenantId',
  refreshSchedule: 'refreshSchedule',
  refreshScheduleTimeZone: 'refreshScheduleTimeZone',
  powensSecretName: 'powensSecretName',
  alarmEmail: 'alarmEmail',
  powensCallsPerMinute: 'powensCallsPerMinute',
  fanOutMaxConcurrency: 'fanOutMaxConcurrency',
  fanOutToleratedFailurePercentage: 'fanOutToleratedFailurePercentage',
  fanOutPageSize: 'fanOutPageSize',
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

/** `-c key=120` arrives as a string, cdk.json may hold a number. */
function optionalInteger(node: Node, key: string, min: number, max: number, meaning: string): number | undefined {
  const raw: unknown = node.tryGetContext(key);
  const text = raw === undefined || raw === null || raw === '' ? undefined : String(raw).trim();
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ContextError(
      `Context ${key}=${JSON.stringify(text)} must be a whole number ${min}..${max} (${meaning}).`,
    );
  }
  return value;
}

/** The whole-number settings with their bounds, read in this order (the first bad one is reported). */
const INTEGER_SETTINGS = [
  ['powensCallsPerMinute', 2, 1_000_000, 'the limit agreed with Powens'],
  ['fanOutMaxConcurrency', 1, 10_000, 'child executions at once'],
  ['fanOutToleratedFailurePercentage', 0, 100, 'percent of users'],
  ['fanOutPageSize', 1, 1000, 'users per Distributed Map run'],
] as const;

export function readSettings(node: Node): AppSettings {
  const powensBaseUrl = optionalString(node, CONTEXT_KEYS.powensBaseUrl);
  if (powensBaseUrl === undefined || !/^https:\/\/[^\s/]+(\/\S*)?$/.test(powensBaseUrl)) {
    throw new ContextError(
      `Context powensBaseUrl=${JSON.stringify(powensBaseUrl)} must be an https URL, e.g. -c powensBaseUrl=https://acme-sandbox.biapi.pro/2.0`,
    );
  }
  const tenantId = optionalString(node, CONTEXT_KEYS.tenantId);
  if (tenantId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(tenantId)) {
    throw new ContextError(
      `Context tenantId=${JSON.stringify(tenantId)} must match [A-Za-z0-9_-]{1,64}, e.g. -c tenantId=family-office`,
    );
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
  for (const [field, min, max, meaning] of INTEGER_SETTINGS) {
    const value = optionalInteger(node, CONTEXT_KEYS[field], min, max, meaning);
    if (value !== undefined) settings[field] = value;
  }
  return settings;
}
