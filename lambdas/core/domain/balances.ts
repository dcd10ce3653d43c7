/**
 * Powens BankAccount → ContractSpec's canonical AccountBalanceRecord (docs/contractspec-semantics.md §3.3).
 *
 * Mapping decisions:
 * - `currentBalance` = `balance`: the booked balance Powens reports for the account.
 * - `availableBalance` = `balance + coming` when `coming` is a number. `coming` is the signed sum of operations
 *   known but not yet booked (card payments awaiting debit are negative), so balance + coming is what the account
 *   holds once they settle. When `coming` is null the available balance is unknown and omitted, not guessed.
 *   Rounded to the currency's precision (`currency.precision`, default 2) to remove float dust.
 * - `balanceType` = 'current': one record carries both amounts (the canonical model's shape).
 * - `lastUpdatedAt` = the account's `last_update` (time of the balance), else its connection's `last_update`;
 *   naive Powens times are Europe/Paris (../powens/datetime.ts). It is the snapshot's identity: history items are
 *   keyed by it and the latest item only moves forward in it.
 * - `id` = `powens:{accountId}:{lastUpdatedAt}`, deterministic, so re-reading an unchanged account yields the same
 *   record and storing it again is a no-op.
 * - Ids are strings (ContractSpec `ID` scalar).
 * - `accountType` = Powens `type`, kept as is; `assetClass` derived from it (asset-class.ts), so positions never
 *   count a portfolio, a loan or an unclassified account as cash.
 * - `connectionState` = the connection's Powens `state` when the account was read with `expand=connection` (null =
 *   healthy); it is what marks a balance stale because its connection needs the account holder (positions.ts).
 * - Skipped (reported, not thrown): null balance, null or non-ISO-4217 currency, no connection, no usable timestamp.
 *   Disabled and deleted accounts are not listed by Powens without `?all`; if one shows up anyway it is skipped too.
 */
import { parsePowensDateTime } from '../adapters/powens/datetime';
import type { PowensBankAccount } from '../adapters/powens/types';
import { type AssetClass, assetClassOf } from './asset-class';

export interface AccountBalanceRecord {
  id: string;
  accountId: string;
  tenantId: string;
  connectionId: string;
  balanceType: string;
  /** Powens account type (`checking`, `market`, `loan`...), as Powens sent it. */
  accountType: string | null;
  assetClass: AssetClass;
  /** Powens state of the account's connection when the balance was read (null = healthy); absent when unknown. */
  connectionState?: string | null;
  currentBalance: number;
  availableBalance?: number;
  /** ISO 4217, three upper-case letters. */
  currency: string;
  /** ISO 8601 UTC: when the bank balance was last updated. */
  lastUpdatedAt: string;
  /** ISO 8601 UTC: when this record was produced. */
  createdAt: string;
  metadata?: Record<string, unknown>;
}

export type SkipReason =
  'no_balance' | 'no_currency' | 'unsupported_currency' | 'no_connection' | 'no_timestamp' | 'disabled_or_deleted';

export interface SkippedAccount {
  userId: number;
  accountId: string;
  connectionId?: string;
  reason: SkipReason;
}

export interface MapAccountContext {
  tenantId: string;
  userId: number;
  /** `last_update` of the account's connection (fallback timestamp), Powens format. */
  connectionLastUpdate?: string | null;
  /** State of the account's connection, when known (`undefined` = not read). */
  connectionState?: string | null;
  now: Date;
}

export type MapAccountResult = { record: AccountBalanceRecord } | { skipped: SkippedAccount };

const ISO_CURRENCY = /^[A-Z]{3}$/;

export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

function precisionOf(account: PowensBankAccount): number {
  const precision = account.currency?.precision;
  return typeof precision === 'number' && Number.isInteger(precision) && precision >= 0 && precision <= 12
    ? precision
    : 2;
}

export function balanceRecordId(accountId: string, lastUpdatedAt: string): string {
  return `powens:${accountId}:${lastUpdatedAt}`;
}

export function mapAccountToBalance(account: PowensBankAccount, context: MapAccountContext): MapAccountResult {
  const accountId = String(account.id);
  const skip = (reason: SkipReason, connectionId?: string): MapAccountResult => ({
    skipped:
      connectionId === undefined
        ? { userId: context.userId, accountId, reason }
        : { userId: context.userId, accountId, connectionId, reason },
  });
  if (account.id_connection === null || account.id_connection === undefined) return skip('no_connection');
  const connectionId = String(account.id_connection);
  if (account.disabled || account.deleted) return skip('disabled_or_deleted', connectionId);
  if (typeof account.balance !== 'number' || !Number.isFinite(account.balance)) return skip('no_balance', connectionId);
  if (!account.currency) return skip('no_currency', connectionId);
  const currency = account.currency.id;
  if (typeof currency !== 'string' || !ISO_CURRENCY.test(currency)) return skip('unsupported_currency', connectionId);

  const accountTime = parsePowensDateTime(account.last_update);
  const balanceTime = accountTime ?? parsePowensDateTime(context.connectionLastUpdate);
  if (balanceTime === null) return skip('no_timestamp', connectionId);
  const lastUpdatedAt = balanceTime.toISOString();

  const precision = precisionOf(account);
  const record: AccountBalanceRecord = {
    id: balanceRecordId(accountId, lastUpdatedAt),
    accountId,
    tenantId: context.tenantId,
    connectionId,
    balanceType: 'current',
    accountType: typeof account.type === 'string' ? account.type : null,
    assetClass: assetClassOf(account.type),
    currentBalance: roundTo(account.balance, precision),
    currency,
    lastUpdatedAt,
    createdAt: context.now.toISOString(),
  };
  if (context.connectionState !== undefined) record.connectionState = context.connectionState;
  const coming = account.coming;
  if (typeof coming === 'number' && Number.isFinite(coming)) {
    record.availableBalance = roundTo(account.balance + coming, precision);
  }
  const metadata: Record<string, unknown> = {
    provider: 'powens',
    powensUserId: context.userId,
    name: account.name,
    type: account.type,
    precision,
    lastUpdatedFrom: accountTime !== null ? 'account' : 'connection',
  };
  if (typeof coming === 'number') metadata.coming = coming;
  if (account.usage) metadata.usage = account.usage;
  record.metadata = metadata;
  return { record };
}
