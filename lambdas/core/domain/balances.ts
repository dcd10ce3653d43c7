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
 * - Skipped (reported, not thrown): null balance, null or non-ISO-4217 currency, no connection, no usable timestamp.
 *   Disabled and deleted accounts are not listed by Powens without `?all`; if one shows up anyway it is skipped too.
 */
import { parsePowensDateTime } from '../adapters/powens/datetime';
import type { PowensBankAccount } from '../adapters/powens/types';

export interface AccountBalanceRecord {
  id: string;
  accountId: string;
  tenantId: string;
  connectionId: string;
  balanceType: string;
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
  | 'no_balance'
  | 'no_currency'
  | 'unsupported_currency'
  | 'no_connection'
  | 'no_timestamp'
  | 'disabled_or_deleted';

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
  return typeof precision === 'number' && Number.isInteger(precision) && precision >= 0 && precision <= 12 ? precision : 2;
}

export function balanceRecordId(accountId: string, lastUpdatedAt: string): string {
  return `powens:${accountId}:${lastUpdatedAt}`;
}

export function mapAccountToBalance(account: PowensBankAccount, context: MapAccountContext): MapAccountResult {
  const accountId = String(account.id);
  const skip = (reason: SkipReason, connectionId?: string): MapAccountResult => ({
    skipped: connectionId === undefined
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
    currentBalance: roundTo(account.balance, precision),
    currency,
    lastUpdatedAt,
    createdAt: context.now.toISOString(),
  };
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

export interface CashPosition {
  currency: string;
  /** Sum of currentBalance. */
  current: number;
  /** Sum of availableBalance, counting currentBalance for accounts without one (nothing pending is known). */
  available: number;
  /** Number of accounts summed. */
  accounts: number;
}

function decimalsOf(value: number): number {
  const text = String(value);
  if (text.includes('e-')) return Math.min(12, Number(text.split('e-')[1]));
  const dot = text.indexOf('.');
  return dot === -1 ? 0 : Math.min(12, text.length - dot - 1);
}

/**
 * Totals per currency (never across currencies: no FX here), sorted by currency code. Sums are rounded to the
 * largest number of decimals among the inputs, so float dust (0.1 + 0.2) never reaches a dashboard.
 */
export function cashPositions(records: readonly AccountBalanceRecord[]): CashPosition[] {
  const totals = new Map<string, { current: number; available: number; accounts: number; decimals: number }>();
  for (const record of records) {
    const entry = totals.get(record.currency) ?? { current: 0, available: 0, accounts: 0, decimals: 0 };
    const available = record.availableBalance ?? record.currentBalance;
    entry.current += record.currentBalance;
    entry.available += available;
    entry.accounts += 1;
    entry.decimals = Math.max(entry.decimals, decimalsOf(record.currentBalance), decimalsOf(available));
    totals.set(record.currency, entry);
  }
  return [...totals.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([currency, t]) => ({
      currency,
      current: roundTo(t.current, t.decimals),
      available: roundTo(t.available, t.decimals),
      accounts: t.accounts,
    }));
}
