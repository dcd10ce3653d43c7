/**
 * The fan-out's one Lambda step, called once per page of users by the fan-out state machine
 * (infra/constructs/fan-out-state-machine.ts):
 *
 *   NextPage (this) → [done?] → PerUser (Distributed Map: one seed execution per user, .sync:2) → NextPage → …
 *
 * Each call folds the page just refreshed into the running summary and lists the next page. The summary counts users
 * by outcome and names failed users (capped), never balances: its size does not grow with users, and neither does any
 * state the fan-out passes around (one page of ids and one page of {userId, status} results).
 *
 * A user counts as succeeded only when the Map returned a SUCCEEDED child result for it; every other user of the page
 * (failed, timed out, aborted child, or a failure the Map tolerated) counts as failed. That way the outcome does not
 * depend on how Step Functions reports tolerated failures in the Map's result array.
 */
import { ValidationFailedError } from '../errors';

export const MAX_FAILED_IDS = 1000;

export interface FanOutSummary {
  users: number;
  succeeded: number;
  failed: number;
  /** Failed user ids, the first MAX_FAILED_IDS. */
  failedUserIds: number[];
  failedUserIdsTruncated: boolean;
  pages: number;
}

/** What the state machine passes between NextPage and the Map (and back). */
export interface FanOutState {
  summary: FanOutSummary;
  /** Opaque position of the next page; absent when the listing is exhausted. */
  cursor?: string;
  /** The page to refresh: one Map item per user. */
  items: { userId: number }[];
  /** True when there is nothing left to refresh: the machine ends with `summary`. */
  done: boolean;
}

export interface UserLister {
  /** One page of user ids to refresh, in a stable order, and the cursor of the next page. */
  listPage(cursor: string | undefined, limit: number): Promise<{ userIds: number[]; cursor?: string }>;
}

export function emptySummary(): FanOutSummary {
  return { users: 0, succeeded: 0, failed: 0, failedUserIds: [], failedUserIdsTruncated: false, pages: 0 };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The state machine's own data, so a malformed shape is our bug or a hand-started execution: name it, bounded. */
function parseState(raw: unknown): { summary: FanOutSummary; cursor?: string; items: number[]; results: unknown[] } {
  if (raw === undefined || raw === null || (isRecord(raw) && Object.keys(raw).length === 0)) {
    return { summary: emptySummary(), items: [], results: [] };
  }
  if (!isRecord(raw)) throw new ValidationFailedError('Fan-out state must be an object (start the fan-out with {}).');
  const summary = raw.summary === undefined ? emptySummary() : raw.summary;
  if (!isRecord(summary) || !['users', 'succeeded', 'failed', 'pages'].every((k) => Number.isSafeInteger(summary[k]))) {
    throw new ValidationFailedError('Fan-out state.summary is malformed (start the fan-out with {}).');
  }
  const items = raw.items === undefined ? [] : raw.items;
  if (!Array.isArray(items) || !items.every((i) => isRecord(i) && Number.isSafeInteger(i.userId))) {
    throw new ValidationFailedError('Fan-out state.items must be [{userId}] (start the fan-out with {}).');
  }
  const results = raw.results === undefined ? [] : raw.results;
  if (!Array.isArray(results)) throw new ValidationFailedError('Fan-out state.results must be an array.');
  if (raw.cursor !== undefined && raw.cursor !== null && typeof raw.cursor !== 'string') {
    throw new ValidationFailedError('Fan-out state.cursor must be a string.');
  }
  return {
    summary: summary as unknown as FanOutSummary,
    ...(typeof raw.cursor === 'string' ? { cursor: raw.cursor } : {}),
    items: items.map((i) => (i as { userId: number }).userId),
    results,
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

export async function nextFanOutPage(
  raw: unknown,
  deps: { users: UserLister; pageSize: number },
): Promise<FanOutState> {
  const state = parseState(raw);
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
  // First call (no items yet) or a page was just done: list the next one unless the listing is exhausted.
  const firstCall = state.items.length === 0 && state.summary.pages === 0;
  if (!firstCall && state.cursor === undefined) return { summary, items: [], done: true };
  const page = await deps.users.listPage(state.cursor, deps.pageSize);
  const next: FanOutState = {
    summary,
    items: page.userIds.map((userId) => ({ userId })),
    done: page.userIds.length === 0,
  };
  if (page.cursor !== undefined && page.userIds.length > 0) next.cursor = page.cursor;
  return next;
}
