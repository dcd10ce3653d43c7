/**
 * Read routes for dashboards, all for the configured tenant only:
 *   GET /balances                              latest balance of every account, with assetClass and stale (paginated)
 *   GET /positions                             totals per currency and asset class, with stale counts
 *   GET /accounts/{accountId}/history?from&to  stored snapshots of one account, oldest first (paginated)
 * Paginated routes take `limit` (1..500, default 100) and `cursor` (the previous page's `nextCursor`, signed and
 * bound to the tenant and the query: cursor.ts). Any bad or unknown parameter is a 400 naming it; nothing is read.
 */
import type { AccountBalanceRecord } from '../core/domain/balances';
import {
  type BalanceView,
  type FreshnessPolicy,
  type Position,
  positionsOf,
  toBalanceView,
} from '../core/domain/positions';
import type { BalanceStore, PageKey, RecordPage } from '../core/adapters/dynamodb/balance-store';
import { tableKeys } from '../core/adapters/dynamodb/table-schema';
import type { CursorCodec } from './cursor';
import { badRequest, notFound } from './http';

export interface ReadDeps {
  store: Pick<BalanceStore, 'listLatest' | 'listLatestPage' | 'queryHistoryPage' | 'getLatest'>;
  tenantId: string;
  /** Freshness threshold (config MAX_AGE_MINUTES, the refresh's own). */
  maxAgeMinutes: number;
  cursors: CursorCodec;
  now: () => Date;
}

export type QueryParams = Readonly<Record<string, string | undefined>> | null | undefined;

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;
/** Powens account ids are integers; the stored id is their decimal string. Bounded, and never a key separator. */
const ACCOUNT_ID = /^[0-9A-Za-z_-]{1,64}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

export interface BalancesPage {
  tenantId: string;
  /** When staleness was judged (ISO 8601). */
  asOf: string;
  maxAgeMinutes: number;
  balances: BalanceView[];
  /** Present when more balances may follow: pass it as `cursor`. */
  nextCursor?: string;
}

export interface PositionsView {
  tenantId: string;
  asOf: string;
  maxAgeMinutes: number;
  /** Per currency and asset class (never summed across currencies); the cash position is the `cash` row. */
  positions: Position[];
  accounts: number;
  staleAccounts: number;
  oldestBalanceAt?: string;
  newestBalanceAt?: string;
}

export interface HistoryPage {
  tenantId: string;
  accountId: string;
  from?: string;
  to?: string;
  /** Snapshots, oldest first, each as it was stored (with `assetClass`). */
  balances: AccountBalanceRecord[];
  nextCursor?: string;
}

const value = (params: QueryParams, name: string): string | undefined => params?.[name] ?? undefined;

function rejectUnknown(params: QueryParams, allowed: readonly string[]): void {
  const unknown = Object.keys(params ?? {}).filter((name) => !allowed.includes(name));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((name) => JSON.stringify(name.slice(0, 40)));
    throw badRequest(
      `Unknown query parameter ${shown.join(', ')}; allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none'}.`,
    );
  }
}

function parseLimit(params: QueryParams): number {
  const raw = value(params, 'limit');
  if (raw === undefined) return DEFAULT_PAGE_SIZE;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PAGE_SIZE) {
    throw badRequest(
      `Invalid limit ${JSON.stringify(raw.slice(0, 20))}: expected a whole number from 1 to ${MAX_PAGE_SIZE}.`,
    );
  }
  return Number(raw);
}

const DAY_MS = 86_400_000;

/**
 * `from`/`to` as ISO 8601 UTC. A date alone means the whole day: `from=2026-11-01` starts at its first millisecond,
 * `to=2026-11-30` ends at its last, so `from=…&to=…` with dates reads as a finance user means it (inclusive days).
 * Impossible dates (2025-02-30) are rejected rather than rolled over.
 */
function parseTime(params: QueryParams, name: 'from' | 'to'): string | undefined {
  const raw = value(params, name);
  if (raw === undefined) return undefined;
  const time = ISO_DATE_TIME.test(raw) ? new Date(raw) : undefined;
  if (time === undefined || Number.isNaN(time.getTime()) || !sameCalendarDate(raw, time)) {
    throw badRequest(
      `Invalid ${name} ${JSON.stringify(raw.slice(0, 40))}: expected an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T06:00:00Z.`,
    );
  }
  const dateOnly = raw.length === 10;
  return new Date(time.getTime() + (dateOnly && name === 'to' ? DAY_MS - 1 : 0)).toISOString();
}

/** Date parsing rolls 2025-02-30 over to March 2: compare the written date with the parsed one (in its own offset). */
function sameCalendarDate(raw: string, time: Date): boolean {
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(raw);
  const offsetMs = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000 : 0;
  return new Date(time.getTime() + offsetMs).toISOString().slice(0, 10) === raw.slice(0, 10);
}

async function startKey(deps: ReadDeps, params: QueryParams, scope: string, pk: string): Promise<PageKey | undefined> {
  const cursor = value(params, 'cursor');
  return cursor === undefined ? undefined : deps.cursors.decode(scope, cursor, pk);
}

async function nextCursor(deps: ReadDeps, scope: string, page: RecordPage): Promise<{ nextCursor?: string }> {
  return page.lastKey === undefined ? {} : { nextCursor: await deps.cursors.encode(scope, page.lastKey) };
}

const policyOf = (deps: ReadDeps): FreshnessPolicy => ({ maxAgeMinutes: deps.maxAgeMinutes, now: deps.now() });

export async function listBalances(deps: ReadDeps, params: QueryParams): Promise<BalancesPage> {
  rejectUnknown(params, ['limit', 'cursor']);
  const limit = parseLimit(params);
  const scope = `balances|${deps.tenantId}`;
  const pk = tableKeys.latest(deps.tenantId, '').pk;
  const start = await startKey(deps, params, scope, pk);
  const page = await deps.store.listLatestPage(
    deps.tenantId,
    start === undefined ? { limit } : { limit, startKey: start },
  );
  const policy = policyOf(deps);
  return {
    tenantId: deps.tenantId,
    asOf: policy.now.toISOString(),
    maxAgeMinutes: deps.maxAgeMinutes,
    balances: page.records.map((record) => toBalanceView(record, policy)),
    ...(await nextCursor(deps, scope, page)),
  };
}

/** Not paginated: one row per currency and class, computed over every latest balance of the tenant. */
export async function getPositions(deps: ReadDeps, params: QueryParams): Promise<PositionsView> {
  rejectUnknown(params, []);
  const records = await deps.store.listLatest(deps.tenantId);
  const policy = policyOf(deps);
  const positions = positionsOf(records, policy);
  const view: PositionsView = {
    tenantId: deps.tenantId,
    asOf: policy.now.toISOString(),
    maxAgeMinutes: deps.maxAgeMinutes,
    positions,
    accounts: records.length,
    staleAccounts: positions.reduce((n, p) => n + p.staleAccounts, 0),
  };
  const times = records.map((r) => r.lastUpdatedAt).sort();
  if (times.length > 0) {
    view.oldestBalanceAt = times[0];
    view.newestBalanceAt = times[times.length - 1];
  }
  return view;
}

export async function accountHistory(deps: ReadDeps, accountId: string, params: QueryParams): Promise<HistoryPage> {
  if (!ACCOUNT_ID.test(accountId)) {
    throw badRequest(
      `Invalid accountId ${JSON.stringify(accountId.slice(0, 70))}: expected the account id of GET /balances (1-64 of 0-9 A-Z a-z _ -).`,
    );
  }
  rejectUnknown(params, ['from', 'to', 'limit', 'cursor']);
  const from = parseTime(params, 'from');
  const to = parseTime(params, 'to');
  if (from !== undefined && to !== undefined && from > to) {
    throw badRequest(`Invalid from ${from}: it is after to ${to}.`);
  }
  const limit = parseLimit(params);
  // The range is part of the scope: a cursor continues exactly the query that produced it.
  const scope = `history|${deps.tenantId}|${accountId}|${from ?? ''}|${to ?? ''}`;
  const pk = tableKeys.history(deps.tenantId, accountId, '').pk;
  const start = await startKey(deps, params, scope, pk);
  const range = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
  const page = await deps.store.queryHistoryPage(
    deps.tenantId,
    accountId,
    range,
    start === undefined ? { limit } : { limit, startKey: start },
  );
  // An empty first page: a typo'd account (404) or an account with nothing in this range (200, empty)?
  if (page.records.length === 0 && start === undefined && page.lastKey === undefined) {
    if ((await deps.store.getLatest(deps.tenantId, accountId)) === undefined) {
      throw notFound(`No account ${accountId} for this tenant (GET /balances lists the accounts).`);
    }
  }
  return {
    tenantId: deps.tenantId,
    accountId,
    ...range,
    balances: page.records,
    ...(await nextCursor(deps, scope, page)),
  };
}
