/**
 * The fan-out's NextPage as a specification, on in-memory stand-ins for its two ports (the user listing and the
 * connection-health reader); test/integration/users/fan-out-pages.test.ts runs the same code on dynalite.
 */
import type { ConnectionHealth } from '../../../lambdas/core/domain/connection-health';
import {
  type FanOutDeps,
  type FanOutState,
  MAX_USERS_EXAMINED_PER_CALL,
  nextFanOutPage,
  OBSERVATION_MAX_AGE_MS,
  userNeedsRefresh,
  type UserLister,
} from '../../../lambdas/core/domain/fan-out';
import { whyNotForced } from '../../../lambdas/core/domain/refresh-balances';

const NOW = new Date('2026-12-01T06:00:00Z');
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();
const minutesAhead = (m: number) => new Date(NOW.getTime() + m * 60_000).toISOString();

/** A healthy connection synced 10 minutes ago, observed 5 minutes ago; `over` changes what the test is about. */
function health(userId: number, over: Partial<ConnectionHealth> = {}): ConnectionHealth {
  return {
    userId,
    connectionId: userId * 10 + 1,
    state: null,
    lastUpdate: minutesAgo(10),
    nextTry: null,
    needsUser: false,
    active: true,
    observedAt: minutesAgo(5),
    source: 'webhook',
    ...over,
  };
}

describe('userNeedsRefresh: the refresh-balances rule on connection-health items', () => {
  const needs = (known: ConnectionHealth[], maxAge = 360) => userNeedsRefresh(known, NOW, maxAge);

  it('a user never observed is refreshed', () => {
    expect(needs([])).toBe(true);
  });

  it('skipped when every known connection is fresh, due for Powens’ own sync, needs the user, inactive or deleted', () => {
    expect(
      needs([
        health(1),
        health(1, { connectionId: 2, lastUpdate: minutesAgo(2000), nextTry: minutesAhead(30) }),
        health(1, { connectionId: 3, lastUpdate: minutesAgo(9000), state: 'SCARequired', needsUser: true }),
        health(1, { connectionId: 4, lastUpdate: minutesAgo(9000), state: 'notSupported' }),
        health(1, { connectionId: 5, lastUpdate: minutesAgo(9000), active: false }),
        health(1, { connectionId: 6, lastUpdate: minutesAgo(9000), deleted: true, observedAt: minutesAgo(90_000) }),
      ]),
    ).toBe(false);
    // Every connection deleted, lately: nothing left to refresh.
    expect(needs([health(1, { deleted: true, lastUpdate: null, observedAt: minutesAgo(60) })])).toBe(false);
  });

  it('every connection deleted more than a day ago: refreshed, so a connection added since is found (not skipped forever)', () => {
    const old = new Date(NOW.getTime() - OBSERVATION_MAX_AGE_MS - 1000).toISOString();
    expect(needs([health(1, { deleted: true, lastUpdate: null, observedAt: old })])).toBe(true);
    expect(
      needs([
        health(1, { deleted: true, lastUpdate: null, observedAt: old }),
        health(1, { connectionId: 2, deleted: true, lastUpdate: null, observedAt: minutesAgo(60) }),
      ]),
    ).toBe(false);
  });

  it('refreshed as soon as one connection would be forced: stale, or Powens’ next try past or more than an hour away', () => {
    expect(needs([health(1), health(1, { connectionId: 2, lastUpdate: minutesAgo(361) })])).toBe(true);
    expect(needs([health(1, { lastUpdate: minutesAgo(400), nextTry: minutesAhead(61) })])).toBe(true);
    expect(needs([health(1, { lastUpdate: minutesAgo(400), nextTry: minutesAgo(1) })])).toBe(true);
    expect(needs([health(1, { lastUpdate: null })])).toBe(true);
  });

  it('uses the threshold it is given: fresh at 360 minutes is stale at 5', () => {
    expect(needs([health(1)], 360)).toBe(false);
    expect(needs([health(1)], 5)).toBe(true);
  });

  it('momentary states (Powens retrying, a sync in progress) are looked at live: refreshed', () => {
    expect(needs([health(1, { state: 'rateLimiting' })])).toBe(true);
    expect(needs([health(1, { state: 'validating' })])).toBe(true);
  });

  it('an observation older than a day does not count: the run re-lists the user (connections we never saw included)', () => {
    const old = new Date(NOW.getTime() - OBSERVATION_MAX_AGE_MS - 1000).toISOString();
    expect(needs([health(1, { state: 'SCARequired', needsUser: true, observedAt: old })])).toBe(true);
    expect(needs([health(1, { observedAt: 'not a date' })])).toBe(true);
  });

  it('is the rule refresh-balances applies per connection (whyNotForced), not a copy', () => {
    const facts = { state: null, active: true, last_update: minutesAgo(10), next_try: null };
    expect(whyNotForced(facts, NOW, 360)).toEqual({ outcome: 'skipped', reason: 'fresh' });
    expect(whyNotForced({ ...facts, last_update: minutesAgo(400) }, NOW, 360)).toBeUndefined();
    expect(whyNotForced({ ...facts, state: 'wrongpass' }, NOW, 360)).toEqual({
      outcome: 'needs_user_action',
      reason: 'user_action_required',
    });
    expect(whyNotForced({ ...facts, active: false }, NOW, 360)).toEqual({ outcome: 'skipped', reason: 'inactive' });
    expect(whyNotForced(facts, NOW, 0)).toBeUndefined();
  });
});

/** Users 1..n in id order; the cursor is the next index. Counts what it is asked to read. */
function numbered(n: number) {
  const reads: number[] = [];
  const lister: UserLister = {
    listPage: async (cursor, limit) => {
      reads.push(limit);
      const start = cursor === undefined ? 0 : Number(cursor);
      const userIds = Array.from({ length: Math.max(0, Math.min(limit, n - start)) }, (_, i) => start + i + 1);
      return start + userIds.length < n ? { userIds, cursor: String(start + userIds.length) } : { userIds };
    },
  };
  return { lister, reads };
}

/** Health items for the users `fresh` says are fresh (one connection each); nothing known of the others. */
function healthOf(fresh: (userId: number) => boolean) {
  const asked: number[] = [];
  const reader: FanOutDeps['health'] = async (userIds) => {
    asked.push(...userIds);
    return new Map(userIds.map((id) => [id, fresh(id) ? [health(id)] : []]));
  };
  return { reader, asked };
}

/** Drives NextPage as the machine does: Map over non-empty pages (every child succeeds), NextPage again otherwise. */
async function drive(deps: FanOutDeps, input: unknown = {}) {
  let state: FanOutState = await nextFanOutPage(input, deps);
  const pages: number[][] = [];
  let calls = 1;
  while (!state.done) {
    const items = state.items.map((i) => i.userId);
    const results = items.map((id) => ({ userIds: [id], status: 'SUCCEEDED' }));
    if (items.length > 0) pages.push(items);
    state = await nextFanOutPage(items.length > 0 ? { ...state, results } : state, deps);
    calls += 1;
  }
  return { state, pages, calls };
}

describe('nextFanOutPage: pages of users to refresh', () => {
  const base = { pageSize: 3, defaultMaxAgeMinutes: 360, clock: () => NOW };

  it('skips fresh users, fills each page with users to refresh and counts the skipped ones', async () => {
    const { lister } = numbered(10);
    const { reader } = healthOf((id) => id % 2 === 0);
    const { state, pages } = await drive({ ...base, users: lister, health: reader });
    expect(pages).toEqual([
      [1, 3, 5],
      [7, 9],
    ]);
    expect(state.summary).toEqual({
      users: 5,
      succeeded: 5,
      failed: 0,
      failedUserIds: [],
      failedUserIdsTruncated: false,
      pages: 2,
      skippedFresh: 5,
    });
    expect(state.maxAgeMinutes).toBe(360);
  });

  it('a tenant of fresh users: each call examines a bounded number of users, returns no items but a cursor, and the fan-out goes on to the end', async () => {
    const users = 2 * MAX_USERS_EXAMINED_PER_CALL + 500;
    const { lister, reads } = numbered(users);
    const { reader, asked } = healthOf((id) => id !== users); // only the very last user is stale
    const deps = { ...base, pageSize: 1000, users: lister, health: reader };
    const first = await nextFanOutPage({}, deps);
    expect(first).toMatchObject({ items: [], done: false, cursor: String(MAX_USERS_EXAMINED_PER_CALL) });
    expect(reads.reduce((a, b) => a + b, 0)).toBe(MAX_USERS_EXAMINED_PER_CALL);
    expect(asked).toHaveLength(MAX_USERS_EXAMINED_PER_CALL);
    const { state, pages, calls } = await drive(deps);
    expect(pages).toEqual([[users]]);
    expect(calls).toBe(4); // 2000 + 2000 + 500 examined (the last page refreshed), then done
    expect(state.summary).toMatchObject({ users: 1, succeeded: 1, pages: 1, skippedFresh: users - 1 });
  });

  it('an empty page with a cursor does not end the fan-out (a listing may come back short before its end)', async () => {
    // Ids 1..9; the lister hides 4, 5, 6 (e.g. disabled), returning an empty page with a cursor for them.
    const lister: UserLister = {
      listPage: async (cursor, limit) => {
        const start = cursor === undefined ? 0 : Number(cursor);
        const end = Math.min(9, start + limit);
        const userIds = Array.from({ length: end - start }, (_, i) => start + i + 1).filter((id) => id < 4 || id > 6);
        return end < 9 ? { userIds, cursor: String(end) } : { userIds };
      },
    };
    const { pages } = await drive({ ...base, users: lister, health: healthOf(() => false).reader });
    expect(pages.flat()).toEqual([1, 2, 3, 7, 8, 9]);
  });

  it('carries maxAgeMinutes from the input to every page; 0 refreshes everyone without reading health', async () => {
    const { lister } = numbered(4);
    const { reader, asked } = healthOf(() => true);
    const zero = await drive({ ...base, users: lister, health: reader }, { maxAgeMinutes: 0, requestId: 'r-1' });
    expect(zero.pages.flat()).toEqual([1, 2, 3, 4]);
    expect(zero.state).toMatchObject({ maxAgeMinutes: 0, summary: { skippedFresh: 0 } });
    expect(asked).toEqual([]);
    // 5 minutes: the items (synced 10 minutes ago) are stale for this run.
    const five = await drive({ ...base, users: numbered(4).lister, health: reader }, { maxAgeMinutes: 5 });
    expect(five.pages.flat()).toEqual([1, 2, 3, 4]);
    expect(five.state.maxAgeMinutes).toBe(5);
  });

  it('bad input or state is a named, bounded ValidationFailed, and nothing is listed', async () => {
    const { lister, reads } = numbered(3);
    const deps = { ...base, users: lister, health: healthOf(() => false).reader };
    for (const input of [
      { maxAgeMinutes: 10_081 },
      { maxAgeMinutes: -1 },
      { maxAgeMinutes: '60' },
      { maxAgeMinutes: 1.5 },
      { userIds: [1] },
      { connectionIds: [2] },
      { psuRequested: true },
      { somethingElse: 'x'.repeat(100_000) },
      [],
      'go',
      { summary: { users: 0, succeeded: 0, failed: 0, pages: 0, failedUserIds: [] }, maxAgeMinutes: 99_999 },
      { summary: { users: 'a' } },
    ]) {
      const error = await nextFanOutPage(input, deps).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error).toMatchObject({ name: 'ValidationFailed' });
      expect(error?.message.length).toBeLessThan(600);
    }
    expect(reads).toEqual([]);
    await expect(nextFanOutPage({ userIds: [1] }, deps)).rejects.toThrow(/userIds not allowed.*every active user/);
  });

  it('a state from before skippedFresh and maxAgeMinutes existed goes on with the configured default', async () => {
    const { lister } = numbered(5);
    const legacy = {
      summary: { users: 2, succeeded: 2, failed: 0, failedUserIds: [], failedUserIdsTruncated: false, pages: 1 },
      cursor: '2',
      items: [{ userId: 1 }, { userId: 2 }],
      done: false,
      results: [1, 2].map((id) => ({ userIds: [id], status: 'SUCCEEDED' })),
    };
    const next = await nextFanOutPage(legacy, { ...base, users: lister, health: healthOf(() => false).reader });
    expect(next).toMatchObject({
      items: [{ userId: 3 }, { userId: 4 }, { userId: 5 }],
      maxAgeMinutes: 360,
      summary: { users: 4, succeeded: 4, pages: 2, skippedFresh: 0 },
    });
  });
});
