/**
 * Powens rate budget against real components: the token bucket lives in dynalite (real SDK, conditional writes),
 * every caller is its own Powens client + budget (as separate Lambda containers), and the calls go over HTTP to the
 * sandbox, whose own sliding-window limiter (429 + Retry-After) and request log are the referee.
 *
 * Time is virtual and shared by the callers, the budgets and the sandbox: it only moves when every caller is either
 * asleep (waiting for a token) or finished, to the earliest wake-up. No real sleeps; the outcome does not depend on
 * machine speed.
 */
import { createPowensClient } from '../../../lambdas/core/adapters/powens/client';
import { createRateBudget, RATE_WINDOW_MS } from '../../../lambdas/core/adapters/powens/rate-budget';
import { RateLimitedError } from '../../../lambdas/core/errors';
import { createFamilyOfficeDataset, startPowensSandbox, type PowensSandbox } from '../../../infra/local/powens-sandbox';
import { useDynalite } from '../../support/dynalite';

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

/** The largest number of requests the sandbox received in any window of RATE_WINDOW_MS. */
function peakPerWindow(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] ?? Infinity) <= (sorted[i] ?? 0) - RATE_WINDOW_MS) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

describe('Powens rate budget (dynalite token bucket, sandbox as referee)', () => {
  const dynamo = useDynalite();
  let sandbox: PowensSandbox;
  let tableName: string;
  let tables = 0;
  let clock: ReturnType<typeof virtualTime>;

  beforeEach(async () => {
    tableName = `rate-${++tables}`;
    await dynamo().createTable(tableName);
  });
  afterEach(async () => {
    await sandbox.close();
  });

  async function run(options: { callers: number; callsEach: number; budget: boolean; maxWaitMs?: number }) {
    clock = virtualTime(options.callers);
    sandbox = await startPowensSandbox({
      dataset: createFamilyOfficeDataset(),
      clock: () => new Date(clock.now()),
      rateLimit: { limit: LIMIT },
    });
    const user = sandbox.secret.users[0];
    if (!user) throw new Error('dataset has no user');
    const outcomes: { ok: number; errors: string[] } = { ok: 0, errors: [] };
    await Promise.all(
      Array.from({ length: options.callers }, async () => {
        const powens = createPowensClient({
          baseUrl: sandbox.baseUrl,
          timeoutMs: 30_000,
          syncTimeoutMs: 30_000,
          ...(options.budget
            ? {
                rateBudget: createRateBudget({
                  client: dynamo().doc,
                  tableName,
                  bucket: 'sandbox',
                  callsPerMinute: LIMIT,
                  maxWaitMs: options.maxWaitMs ?? 3_600_000,
                  now: clock.now,
                  sleep: clock.sleep,
                }),
              }
            : {}),
        });
        try {
          for (let i = 0; i < options.callsEach; i++) {
            try {
              await powens.getMe({ userId: user.userId, token: user.token });
              outcomes.ok += 1;
            } catch (error) {
              outcomes.errors.push((error as Error).name);
            }
          }
        } finally {
          clock.finish();
        }
      }),
    );
    const times = sandbox.requests.map((r) => Date.parse(r.at));
    return { ...outcomes, times, statuses: sandbox.requests.map((r) => r.status) };
  }

  it('eight concurrent callers making 80 calls never exceed 30 calls in any 60 s window, and none is refused', async () => {
    const result = await run({ callers: 8, callsEach: 10, budget: true });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(80);
    expect(result.statuses.every((s) => s === 200)).toBe(true);
    const peak = peakPerWindow(result.times);
    expect(peak).toBeLessThanOrEqual(LIMIT);
    expect(peak).toBeGreaterThan(LIMIT - 5);
    // The budget is used, not just idle: 80 calls at 25 tokens/min after a burst of 5 take 3 virtual minutes.
    expect(Math.max(...result.times) - START).toBeGreaterThanOrEqual(3 * RATE_WINDOW_MS);
  }, 120_000);

  it('control: the same callers without the budget are refused by the sandbox (the referee can fail the test)', async () => {
    const result = await run({ callers: 8, callsEach: 10, budget: false });
    expect(result.errors).toContain('RateLimited');
    expect(result.statuses).toContain(429);
  }, 120_000);

  it('a caller that cannot get a token within maxWaitMs fails with RateLimited (retryable) without calling Powens', async () => {
    const result = await run({ callers: 1, callsEach: 7, budget: true, maxWaitMs: 1_000 });
    // Burst of 5, then the 6th call would wait 2.4 s > 1 s: refused locally, twice.
    expect(result.ok).toBe(5);
    expect(result.errors).toEqual(['RateLimited', 'RateLimited']);
    expect(sandbox.requests).toHaveLength(5);
  }, 120_000);

  it('a RateLimited error from the budget is retryable and carries when to try again', async () => {
    const t = START;
    const budget = createRateBudget({
      client: dynamo().doc,
      tableName,
      bucket: 'one',
      callsPerMinute: 6,
      burst: 1,
      maxWaitMs: 0,
      now: () => t,
      sleep: () => Promise.reject(new Error('must not sleep')),
    });
    await budget.acquire('GET /users/me');
    const error = await budget.acquire('GET /users/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryable).toBe(true);
    expect((error as RateLimitedError).retryAfterMs).toBe(12_000);
  });
});
