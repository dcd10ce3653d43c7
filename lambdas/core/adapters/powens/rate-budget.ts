/**
 * Powens rate budget: one DynamoDB token bucket per Powens client, shared by every Lambda container (and every
 * execution of a fan-out), so N users refreshed in parallel cannot exceed the client's calls per minute.
 *
 * Why a bucket whose burst + refill per window equals the limit: Powens (and the sandbox) count calls in a sliding
 * window (30 per 60 s for a sandbox client). A bucket of capacity B refilled at R tokens per window lets through at
 * most B + R calls in any window of that length (what was in the bucket at its start plus what flowed in during
 * it), so R = limit − B makes "never more than `limit` in any window" hold by construction, for any number of
 * concurrent callers. The price is a sustained rate of limit − B per window; B (the burst) buys latency for small
 * refreshes. With B = limit, R would be 0, so B is capped at limit − 1.
 *
 * Concurrency: one item (pk `RATE#{bucket}`, sk `BUCKET`) with a version number. Taking a token = consistent
 * GetItem, refill computed from the caller's clock, then UpdateItem conditioned on the version read (optimistic
 * locking; DynamoDB serialises conditional writes per item), so two callers can never take the same token. A lost
 * race re-reads and tries again. A caller whose clock is behind the stored `refilledAt` gets no refill (never more
 * tokens than time allows).
 *
 * An empty bucket is not an error: the caller waits until the next token is due, up to `maxWaitMs` in total, and only
 * then fails with RateLimited (retryable: the step's Retry tries again later). The wait uses the injected sleep and
 * clock, so tests drive it on virtual time.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoSender, isConditionalCheckFailed } from '../dynamodb/errors';
import { tableKeys } from '../dynamodb/table-schema';
import { ConfigurationError, RateLimitedError } from '../../errors';

export const RATE_WINDOW_MS = 60_000;

export interface RateBudgetSettings {
  /** Calls allowed per 60 s window for this Powens client (sandbox client: 30). */
  callsPerMinute: number;
  /** Tokens that may be spent at once after an idle period (1..callsPerMinute-1; default: a sixth of the limit). */
  burst?: number;
  /** Longest a caller waits for a token before failing with RateLimited (ms). */
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
  /** Upper bound on consecutive lost optimistic-locking races (default 50): a guard against livelock, not a knob. */
  maxRaces?: number;
}

export interface RateBudget {
  readonly bucket: string;
  readonly callsPerMinute: number;
  readonly burst: number;
  /** Resolves when a token is taken; throws RateLimited after `maxWaitMs` of waiting. `label` names the call. */
  acquire(label: string): Promise<void>;
  /** DynamoDB requests made (benchmarks report them). */
  readonly requestCount: number;
  /** Total ms spent waiting for tokens (benchmarks report it). */
  readonly waitedMs: number;
}

export function defaultBurst(callsPerMinute: number): number {
  return Math.max(1, Math.min(callsPerMinute - 1, Math.floor(callsPerMinute / 6)));
}

interface BucketItem {
  tokens: number;
  refilledAt: number;
  version: number;
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
  const maxRaces = options.maxRaces ?? 50;
  /** Tokens per ms. */
  const refillRate = (callsPerMinute - burst) / RATE_WINDOW_MS;
  const key = tableKeys.rateBucket(bucket);
  const sender = dynamoSender(tableName);
  let waitedMs = 0;

  const read = async (): Promise<BucketItem | undefined> => {
    const { Item } = await sender.send('GetItem', () =>
      client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true })),
    );
    if (Item === undefined) return undefined;
    return { tokens: Number(Item.tokens), refilledAt: Number(Item.refilledAt), version: Number(Item.version) };
  };

  /** Writes the bucket state if nobody else wrote since `seen`; false when a concurrent caller won. */
  const write = async (seen: BucketItem | undefined, next: BucketItem): Promise<boolean> => {
    try {
      await sender.send('UpdateItem', () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: key,
            UpdateExpression: 'SET tokens = :tokens, refilledAt = :at, version = :next',
            ConditionExpression: seen === undefined ? 'attribute_not_exists(version)' : 'version = :seen',
            ExpressionAttributeValues: {
              ':tokens': next.tokens,
              ':at': next.refilledAt,
              ':next': next.version,
              ...(seen === undefined ? {} : { ':seen': seen.version }),
            },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  };

  const acquire = async (label: string): Promise<void> => {
    let waited = 0;
    for (let races = 0; races <= maxRaces;) {
      const t = now();
      const seen = await read();
      const elapsed = seen === undefined ? 0 : Math.max(0, t - seen.refilledAt);
      const available = seen === undefined ? burst : Math.min(burst, seen.tokens + elapsed * refillRate);
      if (available >= 1) {
        const refilledAt = seen === undefined ? t : Math.max(t, seen.refilledAt);
        if (await write(seen, { tokens: available - 1, refilledAt, version: (seen?.version ?? 0) + 1 })) return;
        races += 1;
        continue;
      }
      // Not an error yet: the next token is due in a known time. Sleep until then (at least 1 ms).
      const dueMs = Math.max(1, Math.ceil((1 - available) / refillRate));
      if (waited + dueMs > maxWaitMs) {
        throw new RateLimitedError(
          `Powens rate budget "${bucket}" (${callsPerMinute} calls/min) had no token for ${label} within ${maxWaitMs} ms; ` +
            'too many concurrent refreshes for this Powens client',
          { retryAfterMs: dueMs, details: { bucket, callsPerMinute, waitedMs: waited } },
        );
      }
      await sleep(dueMs);
      waited += dueMs;
      waitedMs += dueMs;
      races = 0;
    }
    // Only reachable under pathological contention (every re-read lost to another writer).
    throw new RateLimitedError(
      `Powens rate budget "${bucket}": lost ${maxRaces} consecutive races for a token for ${label}`,
      { details: { bucket, callsPerMinute } },
    );
  };

  return {
    bucket,
    callsPerMinute,
    burst,
    acquire,
    get requestCount() {
      return sender.requestCount;
    },
    get waitedMs() {
      return waitedMs;
    },
  };
}
