/**
 * Powens rate budget against real components: the reservations live in dynalite (real SDK, conditional writes),
 * every caller is its own Powens client + budget (as separate Lambda containers), and the calls go over HTTP to the
 * sandbox, whose own sliding-window limiter (429 + Retry-After) and request log are the referee.
 *
 * Time is virtual and shared by the callers, the budgets and the sandbox: it only moves when every caller is either
 * asleep (waiting for its slot) or finished, to the earliest wake-up. No real sleeps; the outcome does not depend on
 * machine speed.
 */
import { createPowensClient } from '../../../lambdas/core/adapters/powens/client';
import {
  createRateBudget,
  DEADLINE_MARGIN_MS,
  RATE_WINDOW_MS,
  type RateBudget,
} from '../../../lambdas/core/adapters/powens/rate-budget';
import { RateLimitedError } from '../../../lambdas/core/errors';
import { invocationDeadline, withInvocationDeadline } from '../../../lambdas/core/invocation-deadline';
import { createStepHandler } from '../../../lambdas/core/step-runtime';
import { createFamilyOfficeDataset, startPowensSandbox, type PowensSandbox } from '../../../infra/local/powens-sandbox';
import { useDynalite } from '../../support/dynalite';
import { lambdaContext } from '../lambdas/harness';

const LIMIT = 30;
const START = Date.parse('2025-06-02T06:00:00Z');

/** Discrete-event clock for `participants` concurrent callers. */
function virtualTime(participants: number) {
  let t = START;
  let finished = 0;
  const sleepers: { at: number; wake: () => void }[] = [];
  const advance = () => {
    if (sleepers.length === 0 || sleepers.length + finished < participants) return;
    t = Math.max(t, Math.min(...sleepers.map((s) => s.at)));
    for (const s of sleepers.filter((x) => x.at <= t)) {
      sleepers.splice(sleepers.indexOf(s), 1);
      s.wake();
    }
  };
  return {
    now: () => t,
    sleep: (ms: number) =>
      new Promise<void>((wake) => {
        sleepers.push({ at: t + ms, wake });
        advance();
      }),
    finish: () => {
      finished += 1;
      advance();
    },
  };
}

/** The largest number of instants in any CLOSED window of RATE_WINDOW_MS (stricter than the sandbox's half-open one). */
function peakPerWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] ?? Infinity) < (sorted[i] ?? 0) - RATE_WINDOW_MS) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

/** Deterministic PRNG (mulberry32): random-looking schedules that replay identically. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Powens rate budget (GCRA reservations in dynalite, sandbox as referee)', () => {
  const dynamo = useDynalite();
  let sandbox: PowensSandbox | undefined;
  let tableName: string;
  let tables = 0;

  beforeEach(async () => {
    tableName = `rate-${++tables}`;
    await dynamo().createTable(tableName);
  });
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  const budgetFor = (
    clock: { now: () => number; sleep: (ms: number) => Promise<void> },
    settings: { callsPerMinute?: number; burst?: number; maxWaitMs?: number; deadline?: () => number | undefined },
  ): RateBudget =>
    createRateBudget({
      client: dynamo().doc,
      tableName,
      bucket: 'sandbox',
      callsPerMinute: settings.callsPerMinute ?? LIMIT,
      ...(settings.burst === undefined ? {} : { burst: settings.burst }),
      maxWaitMs: settings.maxWaitMs ?? 3_600_000,
      now: clock.now,
      sleep: clock.sleep,
      ...(settings.deadline === undefined ? {} : { deadline: settings.deadline }),
    });

  /**
   * `callers` concurrent containers, each making `callsEach` GET /users/me in a row through its own client + budget,
   * inside an invocation whose deadline is `deadlineMs` after the start.
   */
  async function run(options: {
    callers: number;
    callsEach: number;
    budget: boolean;
    maxWaitMs?: number;
    deadlineMs?: number;
  }) {
    const clock = virtualTime(options.callers);
    const started = await startPowensSandbox({
      dataset: createFamilyOfficeDataset(),
      clock: () => new Date(clock.now()),
      rateLimit: { limit: LIMIT },
    });
    sandbox = started;
    const user = started.secret.users[0];
    if (!user) throw new Error('dataset has no user');
    const outcomes = { ok: 0, errors: [] as string[], waits: [] as number[], budgets: [] as RateBudget[] };
    await Promise.all(
      Array.from({ length: options.callers }, async () => {
        const budget = options.budget
          ? budgetFor(clock, {
              ...(options.maxWaitMs === undefined ? {} : { maxWaitMs: options.maxWaitMs }),
              ...(options.deadlineMs === undefined ? {} : { deadline: () => START + (options.deadlineMs ?? 0) }),
            })
          : undefined;
        if (budget) outcomes.budgets.push(budget);
        const powens = createPowensClient({
          baseUrl: started.baseUrl,
          timeoutMs: 15_000,
          syncTimeoutMs: 30_000,
          ...(budget ? { rateBudget: budget } : {}),
        });
        try {
          for (let i = 0; i < options.callsEach; i++) {
            const asked = clock.now();
            try {
              await powens.getMe({ userId: user.userId, token: user.token });
              outcomes.ok += 1;
              outcomes.waits.push(clock.now() - asked);
            } catch (error) {
              outcomes.errors.push((error as Error).name);
            }
          }
        } finally {
          clock.finish();
        }
      }),
    );
    const times = started.requests.map((r) => Date.parse(r.at));
    const requests = outcomes.budgets.reduce((n, b) => n + b.requestCount, 0);
    const acquired = outcomes.budgets.reduce((n, b) => n + b.acquiredCount, 0);
    return { ...outcomes, times, requests, acquired, statuses: started.requests.map((r) => r.status) };
  }

  it('eight concurrent callers making 80 calls never exceed 30 calls in any 60 s window, and none is refused', async () => {
    const result = await run({ callers: 8, callsEach: 10, budget: true });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(80);
    expect(result.statuses.every((s) => s === 200)).toBe(true);
    const peak = peakPerWindow(result.times);
    expect(peak).toBeLessThanOrEqual(LIMIT);
    expect(peak).toBeGreaterThan(LIMIT - 5);
    // The budget is used, not just idle: 80 calls at 25 calls/min after a burst of 5 take 3 virtual minutes.
    expect(Math.max(...result.times) - START).toBeGreaterThanOrEqual(3 * RATE_WINDOW_MS);
  }, 120_000);

  it('forty concurrent invocations whose deadline allows it all get through: no RateLimited, no 429, ~1 DynamoDB request per call, no caller starved', async () => {
    const callers = 40;
    // Each a 15-minute invocation (the deadline allows 160 calls at 25/min + burst 5: ≈ 6.2 min).
    const result = await run({ callers, callsEach: 4, budget: true, deadlineMs: 15 * 60_000 });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(160);
    expect(result.statuses.every((s) => s === 200)).toBe(true);
    expect(peakPerWindow(result.times)).toBeLessThanOrEqual(LIMIT);
    // One conditional write per call but for the first, idle-bucket guesses of each container (≤ 3 by construction).
    expect(result.acquired).toBe(160);
    expect(result.requests).toBeLessThanOrEqual(3 * result.acquired);
    expect(result.requests / result.acquired).toBeLessThan(1.5);
    // Fairness: slots are served in reservation order and a caller holds one reservation at a time, so no wait
    // exceeds one interval per caller (T = 2.4 s): nobody starves while later arrivals get through.
    const interval = RATE_WINDOW_MS / (LIMIT - 5);
    expect(Math.max(...result.waits)).toBeLessThanOrEqual(callers * interval);
    console.log(
      JSON.stringify({ requestsPerCall: result.requests / result.acquired, maxWaitMs: Math.max(...result.waits) }),
    );
  }, 120_000);

  it('control: the same callers without the budget are refused by the sandbox (the referee can fail the test)', async () => {
    const result = await run({ callers: 8, callsEach: 10, budget: false });
    expect(result.errors).toContain('RateLimited');
    expect(result.statuses).toContain(429);
  }, 120_000);

  it('a caller whose slot would exceed maxWaitMs fails with RateLimited (retryable) without calling Powens', async () => {
    const result = await run({ callers: 1, callsEach: 7, budget: true, maxWaitMs: 1_000 });
    // Burst of 5, then the 6th call's slot is 2.4 s away > 1 s: refused locally, twice, without a DynamoDB request.
    expect(result.ok).toBe(5);
    expect(result.errors).toEqual(['RateLimited', 'RateLimited']);
    expect(sandbox?.requests).toHaveLength(5);
    expect(result.requests).toBe(5);
  }, 120_000);

  it('the slot must leave the call its timeout before the deadline; a refused caller consumes no slot', async () => {
    const t = START;
    const frozen = { now: () => t, sleep: () => Promise.resolve() };
    // 6/min with a burst of 1: one slot every 12 s.
    const settings = { callsPerMinute: 6, burst: 1 };
    await budgetFor(frozen, settings).acquire('GET /users/me');
    // Next slot: t + 12 s. A 30 s invocation cannot start a call with a 20 s timeout there (12 + 20 + margin > 30)...
    const tooLate = budgetFor(frozen, { ...settings, deadline: () => t + 30_000 });
    const error = await tooLate.acquire('PUT /sync', { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryable).toBe(true);
    expect((error as RateLimitedError).message).toMatch(/no slot for PUT \/sync within the 8000 ms/);
    // A fresh container learns it from two refused conditional writes (idle, then busy), no read.
    expect(tooLate.requestCount).toBe(2);
    expect(tooLate.acquiredCount).toBe(0);
    expect(tooLate.refusedCount).toBe(1);
    // ... but one with a 10 s timeout can; and it gets t + 12 s, the slot the refused caller did not take.
    let sleptMs = -1;
    const fits = budgetFor(
      {
        now: () => t,
        sleep: (ms) => {
          sleptMs = ms;
          return Promise.resolve();
        },
      },
      { ...settings, deadline: () => t + 12_000 + 10_000 + DEADLINE_MARGIN_MS },
    );
    await fits.acquire('GET /users/me', { timeoutMs: 10_000 });
    expect(sleptMs).toBe(12_000);
  });

  it('a RateLimited error from the budget is retryable and carries when to try again', async () => {
    const t = START;
    const budget = budgetFor(
      { now: () => t, sleep: () => Promise.reject(new Error('must not sleep')) },
      { callsPerMinute: 6, burst: 1, maxWaitMs: 0 },
    );
    await budget.acquire('GET /users/me');
    const error = await budget.acquire('GET /users/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryable).toBe(true);
    expect((error as RateLimitedError).retryAfterMs).toBe(12_000);
  });

  it.each([
    { seed: 1, callsPerMinute: 30, burst: 5, callers: 12 },
    { seed: 2, callsPerMinute: 7, burst: 6, callers: 5 },
    { seed: 3, callsPerMinute: 120, burst: 20, callers: 40 },
  ])(
    'invariant under random arrivals (seed $seed, $callsPerMinute/min, burst $burst, $callers callers): no window over the limit',
    async ({ seed, callsPerMinute, burst, callers }) => {
      const random = prng(seed);
      const clock = virtualTime(callers);
      const released: number[] = [];
      await Promise.all(
        Array.from({ length: callers }, async () => {
          const budget = budgetFor(clock, { callsPerMinute, burst });
          try {
            for (let i = 0; i < 12; i++) {
              // Bursty, idle and steady phases: think times from 0 to 2 windows.
              const think = random() < 0.5 ? 0 : Math.floor(random() * random() * 2 * RATE_WINDOW_MS);
              if (think > 0) await clock.sleep(think);
              await budget.acquire('call');
              released.push(clock.now());
            }
          } finally {
            clock.finish();
          }
        }),
      );
      expect(released).toHaveLength(callers * 12);
      expect(peakPerWindow(released)).toBeLessThanOrEqual(callsPerMinute);
    },
    120_000,
  );

  it('a step handler puts the Lambda invocation deadline in scope of the budget', async () => {
    const seen: (number | undefined)[] = [];
    const handler = createStepHandler(
      async () => {
        seen.push(invocationDeadline());
        return null;
      },
      () => ({}),
      { publishMetrics: false },
    );
    const before = Date.now();
    await handler({}, lambdaContext());
    const after = Date.now();
    // lambdaContext() reports 60 s remaining.
    expect(seen[0]).toBeGreaterThanOrEqual(before + 60_000);
    expect(seen[0]).toBeLessThanOrEqual(after + 60_000);
    expect(invocationDeadline()).toBeUndefined();
    // And a budget with no deadline of its own reads it. 6/min, burst 1: the second slot is 12 s after the first.
    let sleptMs = 0;
    const budget = budgetFor(
      {
        now: () => START,
        sleep: (ms) => {
          sleptMs += ms;
          return Promise.resolve();
        },
      },
      { callsPerMinute: 6, burst: 1 },
    );
    const inInvocation = <T>(fn: () => Promise<T>) => withInvocationDeadline(START + 60_000, fn);
    // A slot that is now is taken whatever the call's timeout (the deadline bounds waiting, not calling)...
    await inInvocation(() => budget.acquire('PUT /sync', { timeoutMs: 90_000 }));
    // ... a call that would have to wait cannot, when its timeout leaves no time for it (59 s + margin > 60 s)...
    const error = await inInvocation(() => budget.acquire('PUT /sync', { timeoutMs: 59_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(sleptMs).toBe(0);
    // ... and one with a 15 s timeout waits its 12 s.
    await inInvocation(() => budget.acquire('GET /users/me', { timeoutMs: 15_000 }));
    expect(sleptMs).toBe(12_000);
    expect([budget.acquiredCount, budget.refusedCount]).toEqual([2, 1]);
  });
});
