/**
 * ContractSpec retry policy ↔ ASL Retrier (docs/contractspec-semantics.md §2.3, docs/step-functions-notes.md A1/A2).
 *
 * Rounding rule: milliseconds are rounded UP to whole seconds, minimum 1 s. ASL only has integer seconds; rounding up
 * never retries sooner than the spec asks, which keeps us inside upstream rate limits (a Powens 429 asked for a pause,
 * so waiting 250 ms more is harmless while 250 ms less may be another 429).
 */
import { ASL_RETRYABLE_ERROR_NAMES } from '../../lambdas/core/errors';
import type { Retrier } from './asl';
import type { RetryPolicy } from './spec';

export function msToSecondsCeil(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The wait before each retry (1..maxAttempts) as ContractSpec's runner computes it, without `retryAfter`. */
export function contractSpecRetryDelaysMs(policy: RetryPolicy): number[] {
  const delays: number[] = [];
  const cap = policy.maxDelayMs ?? Infinity;
  const attempts = Math.max(0, Math.floor(policy.maxAttempts));
  for (let retries = 0; retries < attempts; retries += 1) {
    const raw = policy.backoff === 'linear' ? policy.delayMs : policy.delayMs * 2 ** retries;
    delays.push(Math.min(raw, cap));
  }
  return delays;
}

/**
 * One retrier for every retryable name: ASL keeps one counter per retrier, and ContractSpec one per step
 * (`retryCounts[step.id]`), so splitting the names over several retriers would grant extra retries.
 */
export function toAslRetrier(policy: RetryPolicy): Retrier {
  return {
    ErrorEquals: [...ASL_RETRYABLE_ERROR_NAMES],
    IntervalSeconds: msToSecondsCeil(policy.delayMs),
    MaxAttempts: policy.maxAttempts,
    // ContractSpec's exponential multiplier is fixed at 2; its "linear" is a constant delay → rate 1.
    BackoffRate: policy.backoff === 'linear' ? 1 : 2,
    ...(policy.maxDelayMs !== undefined ? { MaxDelaySeconds: msToSecondsCeil(policy.maxDelayMs) } : {}),
    // ContractSpec has no jitter.
    JitterStrategy: 'NONE',
  };
}

/** What Step Functions waits before retry k: min(I·B^(k−1), MaxDelaySeconds), in seconds. */
/**
 * Wait (s) before the k-th retry (k ≥ 1) a retrier grants: min(Interval × Backoff^(k−1), MaxDelay), with the ASL
 * defaults for absent fields (Interval 1, Backoff 2). The local runner uses it on any definition.
 */
export function aslRetryWaitSeconds(
  retrier: { IntervalSeconds?: number; BackoffRate?: number; MaxDelaySeconds?: number },
  k: number,
): number {
  const raw = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (k - 1);
  return retrier.MaxDelaySeconds === undefined ? raw : Math.min(raw, retrier.MaxDelaySeconds);
}

export function aslRetryDelaysSeconds(
  retrier: Pick<Retrier, 'IntervalSeconds' | 'MaxAttempts' | 'BackoffRate' | 'MaxDelaySeconds'>,
): number[] {
  const delays: number[] = [];
  for (let k = 1; k <= retrier.MaxAttempts; k += 1) delays.push(aslRetryWaitSeconds(retrier, k));
  return delays;
}
