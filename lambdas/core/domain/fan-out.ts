/**
 * The fan-out's one Lambda step, called by the fan-out state machine (infra/constructs/fan-out-state-machine.ts):
 *
 *   NextPage (this) → [done?] → [any items?] → PerUser (Distributed Map: one seed execution per user, .sync:2) → NextPage
 *                                   └─ no ──────────────────────────────────────────────────────────────────→ NextPage
 *
 * Each call folds the page just refreshed into the running summary and lists the next page of users TO REFRESH: the
 * registry's active users, less those none of whose connections refresh-balances would force now (userNeedsRefresh,
 * the same rule on the connection-health items). The summary counts users by outcome and names failed users (capped),
 * never balances: its size does not grow with users, and neither does any state the fan-out passes around (one page
 * of ids and one page of {userId, status} results).
 *
 * A call examines at most MAX_USERS_EXAMINED_PER_CALL users, so a tenant whose users are all fresh makes several short
 * calls (each may return an empty page with a cursor: the machine then calls NextPage again, without a Map Run), never
 * one unbounded one.
 *
 * A user counts as succeeded only when the Map returned a SUCCEEDED child result for it; every other user of the page
 * (failed, timed out, aborted child, or a failure the Map tolerated) counts as failed. That way the outcome does not
 * depend on how Step Functions reports tolerated failures in the Map's result array.
 */
import { ValidationFailedError } from '../errors';
import type { ConnectionHealth } from './connection-health';
import { parseRefreshInput } from './input';
import { type ConnectionReason, whyNotForced } from './refresh-balances';

export const MAX_FAILED_IDS = 1000;
/** Users one NextPage call looks at (registry items read, health Queries): ≥ the largest page size (1000). */
export const MAX_USERS_EXAMINED_PER_CALL = 2000;
/**
 * A connection observed (by a refresh or a webhook) longer ago than this does not count as known: its user is
 * refreshed, which re-observes every connection Powens lists for it, including ones we never saw.
 */
export const OBSERVATION_MAX_AGE_MS = 24 * 60 * 60 * 1000;
const MAX_AGE_MINUTES_LIMIT = 10_080;

export interface FanOutSummary {
  /** Users refreshed (a child execution each): succeeded + failed. */
  users: number;
  succeeded: number;
  failed: number;
  /** Failed user ids, the first MAX_FAILED_IDS. */
  failedUserIds: number[];
  failedUserIdsTruncated: boolean;
  /** Pages refreshed (Map Runs). */
  pages: number;
  /** Active users not refreshed: none of their known connections needed a forced sync (userNeedsRefresh). */
  skippedFresh: number;
}

/** What the state machine passes between NextPage and the Map (and back). */
export interface FanOutState {
  summary: FanOutSummary;
  /** Opaque position of the next users to examine; absent when the listing is exhausted. */
  cursor?: string;
  /** The page to refresh: one Map item per user (may be empty while `cursor` says more users are left). */
  items: { userId: number }[];
  /** True when there is nothing left to refresh: the machine ends with `summary`. */
  done: boolean;
  /** Freshness threshold of this fan-out (its input, else the configured default): every child gets it. */
  maxAgeMinutes: number;
}

export interface UserLister {
  /**
   * Up to `limit` user ids, in a stable order, and the cursor after them (absent once the listing is exhausted). It
   * reads at most `limit` users, so it may return fewer, even none, before the end.
   */
  listPage(cursor: string | undefined, limit: number): Promise<{ userIds: number[]; cursor?: string }>;
}

/** The connection-health items of each user (deleted ones included; [] for a user never observed). */
export type ConnectionHealthReader = (userIds: readonly number[]) => Promise<Map<number, ConnectionHealth[]>>;

export interface FanOutDeps {
  users: UserLister;
  health: ConnectionHealthReader;
  /** Users per page to refresh (FANOUT_PAGE_SIZE). */
  pageSize: number;
  /** `maxAgeMinutes` when the fan-out's input has none (FRESHNESS_MAX_AGE_MINUTES). */
  defaultMaxAgeMinutes: number;
  clock?: () => Date;
}

export function emptySummary(): FanOutSummary {
  return {
    users: 0,
    succeeded: 0,
    failed: 0,
    failedUserIds: [],
    failedUserIdsTruncated: false,
    pages: 0,
    skippedFresh: 0,
  };
}

/**
 * Reasons refresh-balances gives for not forcing a connection that hold until something we hear about happens (the
 * data ages, the account holder reconnects, Powens syncs): the fan-out may skip on them. The others (Powens retrying,
 * a sync in progress) are momentary: an observation of them says little about now, so the user is refreshed and
 * refresh-balances looks at the live connection.
 */
const LASTING_REASONS: ReadonlySet<ConnectionReason | undefined> = new Set<ConnectionReason>([
  'fresh',
  'provider_sync_due',
  'user_action_required',
  'unrecoverable_state',
  'inactive',
]);

/**
 * Does this user need a refresh, judged from its connection-health items? Yes when it has none (never observed), when
 * any live connection was last observed more than OBSERVATION_MAX_AGE_MS ago, or when refresh-balances would force a
 * sync of one of them now (whyNotForced: no lasting reason to leave it). Deleted connections are ignored, but a user
 * whose every connection was deleted is refreshed once its latest deletion is older than OBSERVATION_MAX_AGE_MS too:
 * a connection the account holder added since is one we may never have heard of (nothing else would ever list it).
 */
export function userNeedsRefresh(known: readonly ConnectionHealth[], now: Date, maxAgeMinutes: number): boolean {
  const observedLately = (health: ConnectionHealth) =>
    now.getTime() - Date.parse(health.observedAt) <= OBSERVATION_MAX_AGE_MS;
  if (known.length === 0) return true;
  if (known.every((health) => health.deleted === true)) return !known.some(observedLately);
  return known.some((health) => {
    if (health.deleted === true) return false;
    if (!observedLately(health)) return true;
    const facts = {
      state: health.state,
      // Unknown (a webhook payload without it): assume Powens syncs it, as refresh-balances would see it.
      active: health.active ?? true,
      last_update: health.lastUpdate,
      next_try: health.nextTry,
    };
    return !LASTING_REASONS.has(whyNotForced(facts, now, maxAgeMinutes)?.reason);
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const isMaxAge = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_AGE_MINUTES_LIMIT;

interface ParsedState {
  /** The execution input (no summary yet): list from the start. */
  first: boolean;
  summary: FanOutSummary;
  cursor?: string;
  items: number[];
  results: unknown[];
  maxAgeMinutes: number;
}

/**
 * The fan-out's execution input: `{}` or `{"maxAgeMinutes": n}`, `requestId` allowed and ignored. Validated with the
 * RefreshInput schema (what the API validates), then the fields that choose users or ask for the account holder are
 * refused: the fan-out refreshes every active user, unattended.
 */
function parseFanOutInput(raw: Record<string, unknown>, defaultMaxAgeMinutes: number): number {
  const input = parseRefreshInput(raw);
  const refused = (['userIds', 'connectionIds', 'psuRequested'] as const).filter((key) => input[key] !== undefined);
  if (refused.length > 0) {
    throw new ValidationFailedError(
      `Invalid fan-out input: ${refused.join(', ')} not allowed; the fan-out refreshes every active user, unattended ` +
        '(input {} or {"maxAgeMinutes": 0..10080}); start the refresh machine to choose users or connections.',
      { details: { refusedFields: refused } },
    );
  }
  return input.maxAgeMinutes ?? defaultMaxAgeMinutes;
}

/** The execution input, or the state machine's own data (a malformed shape is our bug: name it, bounded). */
function parseState(raw: unknown, defaultMaxAgeMinutes: number): ParsedState {
  const value = raw === undefined || raw === null ? {} : raw;
  if (!isRecord(value)) throw new ValidationFailedError('Fan-out state must be an object (start the fan-out with {}).');
  if (!('summary' in value)) {
    const maxAgeMinutes = parseFanOutInput(value, defaultMaxAgeMinutes);
    return { first: true, summary: emptySummary(), items: [], results: [], maxAgeMinutes };
  }
  const summary = value.summary;
  if (!isRecord(summary) || !['users', 'succeeded', 'failed', 'pages'].every((k) => Number.isSafeInteger(summary[k]))) {
    throw new ValidationFailedError('Fan-out state.summary is malformed (start the fan-out with {}).');
  }
  if (!Array.isArray(summary.failedUserIds) || summary.failedUserIds.length > MAX_FAILED_IDS) {
    throw new ValidationFailedError('Fan-out state.summary.failedUserIds is malformed (start the fan-out with {}).');
  }
  if (summary.skippedFresh !== undefined && !Number.isSafeInteger(summary.skippedFresh)) {
    throw new ValidationFailedError('Fan-out state.summary.skippedFresh must be an integer.');
  }
  const items = value.items === undefined ? [] : value.items;
  if (!Array.isArray(items) || !items.every((i) => isRecord(i) && Number.isSafeInteger(i.userId))) {
    throw new ValidationFailedError('Fan-out state.items must be [{userId}] (start the fan-out with {}).');
  }
  const results = value.results === undefined ? [] : value.results;
  if (!Array.isArray(results)) throw new ValidationFailedError('Fan-out state.results must be an array.');
  if (value.cursor !== undefined && value.cursor !== null && typeof value.cursor !== 'string') {
    throw new ValidationFailedError('Fan-out state.cursor must be a string.');
  }
  // Absent in the state of an execution started before the field existed: the configured default, as it ran so far.
  if (value.maxAgeMinutes !== undefined && !isMaxAge(value.maxAgeMinutes)) {
    throw new ValidationFailedError(`Fan-out state.maxAgeMinutes must be an integer 0..${MAX_AGE_MINUTES_LIMIT}.`);
  }
  return {
    first: false,
    summary: { ...emptySummary(), ...(summary as unknown as FanOutSummary) },
    ...(typeof value.cursor === 'string' ? { cursor: value.cursor } : {}),
    items: items.map((i) => (i as { userId: number }).userId),
    results,
    maxAgeMinutes: value.maxAgeMinutes ?? defaultMaxAgeMinutes,
  };
}

/** User ids the Map reports as SUCCEEDED (the task's ResultSelector keeps `{userIds, status}` of each child). */
function succeededIds(results: unknown[]): Set<number> {
  const ids = new Set<number>();
  for (const result of results) {
    if (!isRecord(result) || result.status !== 'SUCCEEDED' || !Array.isArray(result.userIds)) continue;
    for (const id of result.userIds) if (Number.isSafeInteger(id)) ids.add(id as number);
  }
  return ids;
}

export async function nextFanOutPage(raw: unknown, deps: FanOutDeps): Promise<FanOutState> {
  const state = parseState(raw, deps.defaultMaxAgeMinutes);
  const { maxAgeMinutes } = state;
  const summary: FanOutSummary = { ...state.summary, failedUserIds: [...state.summary.failedUserIds] };
  if (state.items.length > 0) {
    const ok = succeededIds(state.results);
    summary.pages += 1;
    for (const userId of state.items) {
      summary.users += 1;
      if (ok.has(userId)) {
        summary.succeeded += 1;
        continue;
      }
      summary.failed += 1;
      if (summary.failedUserIds.length < MAX_FAILED_IDS) summary.failedUserIds.push(userId);
      else summary.failedUserIdsTruncated = true;
    }
  }
  if (!state.first && state.cursor === undefined) return { summary, items: [], done: true, maxAgeMinutes };

  // Examine users until the page to refresh is full, the examined bound is reached or the listing is exhausted. Each
  // listing asks for no more users than the page still has room for, so the cursor stops right after the last one
  // examined and no user is skipped or listed twice.
  const now = (deps.clock ?? (() => new Date()))();
  const userIds: number[] = [];
  let cursor = state.cursor;
  let examined = 0;
  do {
    const limit = Math.min(deps.pageSize - userIds.length, MAX_USERS_EXAMINED_PER_CALL - examined);
    const listed = await deps.users.listPage(cursor, limit);
    examined += limit;
    cursor = listed.cursor;
    if (listed.userIds.length === 0) continue;
    // 0 = force every healthy connection: everyone is refreshed (the children still hold the PSD2 budget).
    const known = maxAgeMinutes === 0 ? undefined : await deps.health(listed.userIds);
    for (const userId of listed.userIds) {
      if (known === undefined || userNeedsRefresh(known.get(userId) ?? [], now, maxAgeMinutes)) userIds.push(userId);
      else summary.skippedFresh += 1;
    }
  } while (cursor !== undefined && userIds.length < deps.pageSize && examined < MAX_USERS_EXAMINED_PER_CALL);

  const next: FanOutState = {
    summary,
    items: userIds.map((userId) => ({ userId })),
    done: userIds.length === 0 && cursor === undefined,
    maxAgeMinutes,
  };
  if (cursor !== undefined) next.cursor = cursor;
  return next;
}
