/**
 * Powens rate budget: one DynamoDB item per Powens client, shared by every Lambda container (and every execution of a
 * fan-out), so N users refreshed in parallel cannot exceed the client's calls per minute.
 *
 * Waiting for a token is not an error. A caller RESERVES its own future slot with one conditional write and then
 * sleeps exactly until that slot: it never re-contends, so concurrent callers do not wake together to race for the
 * same token (the thundering herd of a polled bucket), and slots are served in the order they were reserved (no
 * caller starves). The wait is bounded by what the invocation can afford: the Lambda's remaining time minus the
 * call's own timeout and a margin (../../invocation-deadline.ts), optionally capped by `maxWaitMs`. Only a slot that
 * would fall past that bound fails, with RateLimited (retryable), and then no slot is consumed.
 *
 * Algorithm: GCRA ("virtual scheduling", the token bucket stated in time). With a refill of R = limit − B calls per
 * window W (60 s) and a burst of B, the emission interval is T = ceil(W / R) and the tolerance τ = (B − 1)·T. The item
 * stores one number, TAT (theoretical arrival time). The k-th reservation, by a caller whose clock reads t_k, sets
 *   TAT_k = max(TAT_{k−1}, t_k) + T     and gets the slot     s_k = max(t_k, TAT_{k−1} − τ).
 * Two conditional UpdateItems implement it without a read, because TAT only ever grows:
 *   busy: `SET tat = tat + T` if `t ≤ tat ≤ latestStart + τ` (returns the new TAT; refused past the deadline),
 *   idle: `SET tat = t + T`   if `tat` is absent or `tat < t` (slot = t).
 * A caller tries the one its last known TAT suggests, then the other, then (idle refused ⇒ TAT ≥ t for good) busy
 * once more: at most 3 requests per token whatever the concurrency, 1 in the usual case, and never a read. A busy
 * write refused after an idle one was refused means TAT − τ > latestStart: the caller fails having written nothing.
 *
 * Invariant — never more than `limit` SLOTS in any window of W, for any number of callers, whatever their clocks read
 * (a caller calls Powens at its slot by its own clock: callers whose clocks differ by δ may put up to δ/T more calls
 * in one real window; Lambda clocks are NTP-synchronised, δ is milliseconds and T seconds at Powens' limits):
 *   1. TAT_k ≥ TAT_{k−1} + T, so TAT_{k+m−1} ≥ TAT_k + (m − 1)·T.
 *   2. s_k ≤ TAT_k − T (both terms of s_k are: t_k ≤ max(TAT_{k−1}, t_k) and TAT_{k−1} − τ ≤ TAT_{k−1}).
 *   3. s_{k+m} ≥ TAT_{k+m−1} − τ ≥ TAT_k + (m − 1)·T − (B − 1)·T ≥ s_k + (m − B + 1)·T   (by 1 and 2).
 *   Take the n reservations whose slots lie in one window, i < j the first and last reserved of them (j − i ≥ n − 1):
 *   by 3, s_j − s_i ≥ (n − B)·T, and |s_j − s_i| ≤ W, so n ≤ B + W/T ≤ B + R = limit. (Powens and the sandbox count a
 *   half-open window, where the bound is one lower: the budget keeps one call of slack for network jitter.)
 * The price is a sustained rate of limit − B per window; B buys latency for small refreshes. B = limit would leave
 * R = 0, so B is capped at limit − 1. A reserved slot whose caller dies is simply lost (conservative).
 *
 * Deploy from the previous scheme (a polled token bucket: `tokens`, `refilledAt`, `version` on the same item): those
 * attributes are neither read nor written here, so both schemes work on the item side by side, each counting only its
 * own calls. While containers of the old code still run (at most one Lambda timeout after the deploy) the two together
 * may exceed the limit; Powens' own 429 (RateLimited, retried by the step) is the backstop for that overlap.
 *
 * Fairness: each caller holds at most one reservation at a time (it sleeps on it), so with N callers a caller's slot
 * is at most N − 1 intervals behind the others': its wait is ≤ N·T (plus the idle burst), never unbounded.
 *
 * The item is `RATE#{bucket}` / `BUCKET` with attribute `tat` (epoch ms). Sleep and clock are injected: tests drive the
 * budget on virtual time.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionalWrite, dynamoSender } from '../dynamodb/errors';
import { tableKeys } from '../dynamodb/table-schema';
import { ConfigurationError, RateLimitedError } from '../../errors';
import { invocationDeadline } from '../../invocation-deadline';

export const RATE_WINDOW_MS = 60_000;
/** Kept free before the invocation's deadline after the call's own timeout: the step still has to store and answer. */
export const DEADLINE_MARGIN_MS = 2_000;

export interface RateBudgetSettings {
  /** Calls allowed per 60 s window for this Powens client (sandbox client: 30). */
  callsPerMinute: number;
  /** Calls that may go at once after an idle period (1..callsPerMinute-1; default: a sixth of the limit). */
  burst?: number;
  /** Upper bound on one wait for a slot (ms), on top of the invocation's deadline (the bound that usually applies). */
  maxWaitMs: number;
}

export interface RateBudgetOptions extends RateBudgetSettings {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Bucket name: one per Powens client (the deployment derives it from the Powens domain). */
  bucket: string;
  /** Epoch ms (default Date.now). */
  now?: () => number;
  /** Default: a real timer. Tests pass a virtual one. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Epoch ms (same clock as `now`) by which the current invocation must have finished, or undefined outside one.
   * Default: the running Lambda invocation's (../../invocation-deadline.ts).
   */
  deadline?: () => number | undefined;
}

/** What a caller says about the call it wants a slot for. */
export interface RateBudgetCall {
  /** The call's own timeout: a wait for its slot must leave that much (plus DEADLINE_MARGIN_MS) before the deadline. */
  timeoutMs?: number;
}

export interface RateBudget {
  readonly bucket: string;
  readonly callsPerMinute: number;
  readonly burst: number;
  /**
   * Resolves at the caller's reserved slot. Throws RateLimited, having reserved nothing, when the slot would fall past
   * the deadline (or past `maxWaitMs`). `label` names the call.
   */
  acquire(label: string, call?: RateBudgetCall): Promise<void>;
  /** DynamoDB requests made (benchmarks and tests report them per token). */
  readonly requestCount: number;
  /** Slots reserved (= calls let through). */
  readonly acquiredCount: number;
  /** Calls refused with RateLimited. */
  readonly refusedCount: number;
  /** Total ms spent waiting for slots. */
  readonly waitedMs: number;
}

export function defaultBurst(callsPerMinute: number): number {
  return Math.max(1, Math.min(callsPerMinute - 1, Math.floor(callsPerMinute / 6)));
}

/**
 * T, the interval between two slots once the burst is spent: rounded up, since a longer interval only slows the rate
 * (the invariant's W/T ≤ R still holds).
 */
export function slotIntervalMs(callsPerMinute: number, burst: number): number {
  return Math.ceil(RATE_WINDOW_MS / (callsPerMinute - burst));
}

export function createRateBudget(options: RateBudgetOptions): RateBudget {
  const { client, tableName, bucket, callsPerMinute, maxWaitMs } = options;
  if (!Number.isInteger(callsPerMinute) || callsPerMinute < 2) {
    throw new ConfigurationError(`Powens rate budget: callsPerMinute must be an integer >= 2, got ${callsPerMinute}.`);
  }
  const burst = options.burst ?? defaultBurst(callsPerMinute);
  if (!Number.isInteger(burst) || burst < 1 || burst >= callsPerMinute) {
    throw new ConfigurationError(
      `Powens rate budget: burst must be an integer in 1..${callsPerMinute - 1} (below callsPerMinute), got ${burst}.`,
    );
  }
  if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
    throw new ConfigurationError(`Powens rate budget: maxWaitMs must be >= 0, got ${maxWaitMs}.`);
  }
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = options.deadline ?? invocationDeadline;
  const interval = slotIntervalMs(callsPerMinute, burst);
  const tolerance = (burst - 1) * interval;
  const key = tableKeys.rateBucket(bucket);
  const sender = dynamoSender(tableName);
  /** The highest TAT this container has seen: a lower bound of the stored one, which never decreases. */
  let knownTat: number | undefined;
  let acquiredCount = 0;
  let refusedCount = 0;
  let waitedMs = 0;

  /** Busy path: the next interval after TAT, if TAT is at or past `t` and the slot is not after `latestStart`. */
  const reserveBusy = async (t: number, latestStart: number): Promise<number | undefined> => {
    const written = await conditionalWrite(sender, 'UpdateItem', () =>
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET tat = tat + :interval',
          ConditionExpression: 'tat BETWEEN :t AND :latest',
          ExpressionAttributeValues: { ':interval': interval, ':t': t, ':latest': latestStart + tolerance },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return written === undefined ? undefined : Number(written.Attributes?.tat);
  };

  /** Idle path: the slot `t` itself, if the bucket has been idle (TAT absent or before `t`). */
  const reserveIdle = async (t: number): Promise<boolean> =>
    (await conditionalWrite(sender, 'UpdateItem', () =>
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET tat = :next',
          ConditionExpression: 'attribute_not_exists(tat) OR tat < :t',
          ExpressionAttributeValues: { ':next': t + interval, ':t': t },
        }),
      ),
    )) !== undefined;

  /** `tat`: a lower bound of the stored TAT when known, so the error can say when the slot would have been. */
  const refuse = (label: string, t: number, latestStart: number, tat: number | undefined): RateLimitedError => {
    refusedCount += 1;
    const canWaitMs = Math.max(0, latestStart - t);
    const slotInMs = tat === undefined ? undefined : Math.max(0, tat - tolerance - t);
    return new RateLimitedError(
      `Powens rate budget "${bucket}" (${callsPerMinute} calls/min) has no slot for ${label} within the ${canWaitMs} ms ` +
        `this invocation can wait${slotInMs === undefined ? '' : ` (next slot in ${slotInMs} ms)`}; ` +
        'too many concurrent refreshes for this Powens client',
      {
        ...(slotInMs === undefined ? {} : { retryAfterMs: slotInMs }),
        details: { bucket, callsPerMinute, canWaitMs },
      },
    );
  };

  const acquire = async (label: string, call: RateBudgetCall = {}): Promise<void> => {
    const t = now();
    const end = deadline();
    // The deadline bounds the WAIT: a call whose slot is now goes ahead even if its timeout outlasts the invocation
    // (whether it may run that long is the step's business, as without a budget).
    const latestStart = Math.min(
      t + maxWaitMs,
      end === undefined ? Infinity : Math.max(t, end - (call.timeoutMs ?? 0) - DEADLINE_MARGIN_MS),
    );
    // TAT never decreases: a slot already known to be too late needs no request to refuse.
    if (knownTat !== undefined && knownTat - tolerance > latestStart) {
      throw refuse(label, t, latestStart, knownTat);
    }
    let slot: number | undefined;
    let idleRefused = false;
    let tryIdle = knownTat === undefined || knownTat < t;
    while (slot === undefined) {
      if (tryIdle) {
        if (await reserveIdle(t)) {
          slot = t;
          knownTat = Math.max(knownTat ?? 0, t + interval);
        } else {
          idleRefused = true;
          tryIdle = false;
        }
        continue;
      }
      const tat = await reserveBusy(t, latestStart);
      if (tat !== undefined) {
        slot = Math.max(t, tat - interval - tolerance);
        knownTat = Math.max(knownTat ?? 0, tat);
      } else if (idleRefused) {
        // TAT ≥ t (the idle write was refused), so the busy write was refused for the deadline alone: TAT is past
        // latestStart + τ, which is all we know without a read (and worth remembering: TAT never decreases).
        knownTat = Math.max(knownTat ?? 0, latestStart + tolerance + 1);
        throw refuse(label, t, latestStart, undefined);
      } else {
        tryIdle = true;
      }
    }
    acquiredCount += 1;
    const wait = slot - now();
    if (wait > 0) {
      waitedMs += wait;
      await sleep(wait);
    }
  };

  return {
    bucket,
    callsPerMinute,
    burst,
    acquire,
    get requestCount() {
      return sender.requestCount;
    },
    get acquiredCount() {
      return acquiredCount;
    },
    get refusedCount() {
      return refusedCount;
    },
    get waitedMs() {
      return waitedMs;
    },
  };
}
