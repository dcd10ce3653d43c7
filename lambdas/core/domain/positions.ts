/**
 * What a dashboard shows: each latest balance with its asset class and whether it can be trusted now (`stale`), and
 * positions per currency AND asset class. Never summed across currencies (no FX here), never mixing classes: the
 * "cash position" of a currency is its `cash` row, with `card` (deferred debits to come) as its own row.
 *
 * Amounts are JSON numbers holding decimals rounded to the currency's precision (model.ts). Totals are computed in
 * integer minor units (BigInt), so a sum of a thousand 0.10 is exactly 100 and no float dust reaches a dashboard.
 *
 * Staleness, per balance, at read time (`now`):
 * - `too_old`: the bank balance is older than the freshness threshold, the same `maxAgeMinutes` the refresh uses
 *   (config.ts) to decide that a connection is due for a sync: a balance the refresh would refresh is not current.
 * - `needs_user`: the account's connection, when last read, needed the account holder (SCA, expired password...) or
 *   was in a state nothing unattended can fix. Its balances cannot move until the holder acts, however recent the
 *   last one looks.
 */
import { classifyConnectionState } from '../adapters/powens/types';
import { ASSET_CLASSES, type AssetClass } from './asset-class';
import type { AccountBalanceRecord } from './balances';

export type StaleReason = 'too_old' | 'needs_user';

export interface FreshnessPolicy {
  /** A balance older than this (bank time vs `now`) is stale. */
  maxAgeMinutes: number;
  now: Date;
}

/** A latest balance as served to dashboards. */
export type BalanceView = AccountBalanceRecord & { stale: boolean; staleReasons?: StaleReason[] };

export interface Position {
  /** ISO 4217. */
  currency: string;
  assetClass: AssetClass;
  /** Sum of currentBalance, exact to the currency precision. */
  current: number;
  /** Sum of availableBalance, counting currentBalance for accounts without one (nothing pending is known). */
  available: number;
  accounts: number;
  staleAccounts: number;
  /** Oldest balance time among the accounts (ISO 8601): how old the least fresh number in this total is. */
  oldestBalanceAt: string;
}

/** Per-currency cash totals (`cash` class only); the shape fetch-balances has always returned as `cashPositions`. */
export interface CashPosition {
  currency: string;
  current: number;
  available: number;
  accounts: number;
}

/** Connection states that only the account holder can resolve (or nothing unattended can): never fresh again alone. */
export function connectionNeedsUser(state: string | null | undefined): boolean {
  const cls = classifyConnectionState(state);
  return cls === 'needs_user' || cls === 'unrecoverable';
}

export function staleReasons(record: AccountBalanceRecord, policy: FreshnessPolicy): StaleReason[] {
  const reasons: StaleReason[] = [];
  const ageMs = policy.now.getTime() - Date.parse(record.lastUpdatedAt);
  if (!(ageMs <= policy.maxAgeMinutes * 60_000)) reasons.push('too_old');
  if (connectionNeedsUser(record.connectionState)) reasons.push('needs_user');
  return reasons;
}

export function toBalanceView(record: AccountBalanceRecord, policy: FreshnessPolicy): BalanceView {
  const reasons = staleReasons(record, policy);
  const view: BalanceView = { ...record, stale: reasons.length > 0 };
  if (reasons.length > 0) view.staleReasons = reasons;
  return view;
}

// ---- exact decimal sums --------------------------------------------------------------------------------------------

const MAX_DECIMALS = 12;

function decimalsOf(value: number): number {
  const text = String(value);
  if (text.includes('e-')) return Math.min(MAX_DECIMALS, Number(text.split('e-')[1]));
  const dot = text.indexOf('.');
  return dot === -1 ? 0 : Math.min(MAX_DECIMALS, text.length - dot - 1);
}

/** The record's currency precision (Powens `currency.precision`, kept in metadata), else the decimals it shows. */
function precisionOf(record: AccountBalanceRecord): number {
  const declared = (record.metadata as { precision?: unknown } | undefined)?.precision;
  const fromAmounts = Math.max(decimalsOf(record.currentBalance), decimalsOf(record.availableBalance ?? 0));
  if (typeof declared === 'number' && Number.isInteger(declared) && declared >= 0 && declared <= MAX_DECIMALS) {
    return Math.max(declared, fromAmounts);
  }
  return fromAmounts;
}

/** `value` in units of 10^-decimals: the decimal the JSON number denotes, to `decimals` places (no float sum). */
export function toMinorUnits(value: number, decimals: number): bigint {
  if (!Number.isFinite(value)) throw new RangeError(`amount ${value} is not a finite number`);
  const [whole = '0', fraction = ''] = Math.abs(value).toFixed(decimals).split('.');
  const units = BigInt(whole + fraction);
  return value < 0 ? -units : units;
}

export function fromMinorUnits(units: bigint, decimals: number): number {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, '0');
  const text = decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  return Number(negative ? `-${text}` : text);
}

/** Exact sum of decimal amounts, rounded to `decimals`. */
export function sumExact(values: readonly number[], decimals: number): number {
  return fromMinorUnits(
    values.reduce((total, value) => total + toMinorUnits(value, decimals), 0n),
    decimals,
  );
}

// ---- positions -----------------------------------------------------------------------------------------------------

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Positions sorted by currency, then by class in ASSET_CLASSES order (cash first). */
export function positionsOf(records: readonly AccountBalanceRecord[], policy: FreshnessPolicy): Position[] {
  const groups = new Map<string, { currency: string; assetClass: AssetClass; records: AccountBalanceRecord[] }>();
  for (const record of records) {
    const { assetClass } = record;
    const key = `${record.currency}\u0000${assetClass}`;
    const group = groups.get(key) ?? { currency: record.currency, assetClass, records: [] };
    group.records.push(record);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort(
      (a, b) =>
        compare(a.currency, b.currency) || ASSET_CLASSES.indexOf(a.assetClass) - ASSET_CLASSES.indexOf(b.assetClass),
    )
    .map(({ currency, assetClass, records: members }) => {
      const decimals = Math.max(...members.map(precisionOf));
      return {
        currency,
        assetClass,
        current: sumExact(
          members.map((r) => r.currentBalance),
          decimals,
        ),
        available: sumExact(
          members.map((r) => r.availableBalance ?? r.currentBalance),
          decimals,
        ),
        accounts: members.length,
        staleAccounts: members.filter((r) => staleReasons(r, policy).length > 0).length,
        oldestBalanceAt: members.map((r) => r.lastUpdatedAt).reduce((min, t) => (t < min ? t : min)),
      };
    });
}

/** The cash rows of positionsOf, in the per-currency shape `cashPositions` has always had. */
export function cashPositions(records: readonly AccountBalanceRecord[]): CashPosition[] {
  const epoch: FreshnessPolicy = { maxAgeMinutes: Number.POSITIVE_INFINITY, now: new Date(0) };
  return positionsOf(records, epoch)
    .filter((p) => p.assetClass === 'cash')
    .map(({ currency, current, available, accounts }) => ({ currency, current, available, accounts }));
}
