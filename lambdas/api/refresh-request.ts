/**
 * Parsing, validation and normalisation of a `POST /refreshes` body, which state machine it goes to, and the
 * deterministic execution name that makes double submits start one refresh. API Gateway validates the body against
 * the same schema first (request model); this is the second gate, so the handler is safe when invoked directly or
 * locally.
 */
import { createHash } from 'node:crypto';
import type { RefreshInput } from '../core/domain/refresh-input';
import { describeInputErrors, validateRefreshInput } from '../core/domain/refresh-input-validator';
import { badRequest } from './http';

/** Without a requestId, identical bodies within the same window share one execution. */
export const DEDUP_WINDOW_MS = 5 * 60 * 1000;

// Same schema as API Gateway's request model, compiled at build time (refresh-input-validator.ts) so the API Lambda
// neither bundles ajv nor compiles a schema during INIT.

/** `body` is the raw HTTP body (already base64-decoded); empty means `{}` (refresh everything). */
export function parseRefreshBody(body: string | null | undefined): RefreshInput {
  const text = body?.trim() ?? '';
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw badRequest(`Request body is not valid JSON (${(error as Error).message}). Send e.g. {} or {"userIds":[1]}.`);
  }
  if (!validateRefreshInput(value)) {
    const problems = describeInputErrors(validateRefreshInput.errors, 'body');
    throw badRequest(`Request body does not match RefreshInput: ${problems.join('; ')}.`);
  }
  if (value.psuRequested === true && value.userIds === undefined && value.connectionIds === undefined) {
    // The schema allows it (the step Lambdas accept it from the console); the API does not: "the account holder is
    // present" cannot hold for every user of the tenant, and it would lift the PSD2 unattended limit for all of them.
    // Named connections are fine: the holder of those connections can be present.
    throw badRequest(
      'body.psuRequested=true requires body.userIds or body.connectionIds: it means the account holder is present, ' +
        'which only holds for the users or connections named. Name them, or omit psuRequested for an unattended refresh.',
    );
  }
  return value;
}

/**
 * Which state machine a request starts:
 * - `seed`: the compiled refresh workflow, one execution for the users (≤ 100) or connections named in the body;
 * - `fan-out`: the fan-out machine, one seed execution per user of the tenant, for a body naming neither (the seed
 *   machine would carry every user's state in one execution, which breaks past about a hundred users).
 */
export type RefreshKind = 'seed' | 'fan-out';

export function refreshKindOf(input: RefreshInput): RefreshKind {
  return input.userIds === undefined && input.connectionIds === undefined ? 'fan-out' : 'seed';
}

/** Fan-out execution names start with this; seed names (`req-…`, `auto-…`) never do, so a name selects its machine. */
export const FAN_OUT_NAME_PREFIX = 'fanout-';

/**
 * The canonical form of an input: ids sorted, defaults dropped (`psuRequested:false` ≡ absent). Two bodies that mean
 * the same refresh normalise to the same object, hence the same execution input string and name.
 */
export function normalizeRefreshInput(input: RefreshInput): RefreshInput {
  const out: RefreshInput = {};
  if (input.userIds !== undefined) out.userIds = [...input.userIds].sort((a, b) => a - b);
  if (input.connectionIds !== undefined) out.connectionIds = [...input.connectionIds].sort((a, b) => a - b);
  if (input.psuRequested === true) out.psuRequested = true;
  if (input.requestId !== undefined) out.requestId = input.requestId;
  if (input.maxAgeMinutes !== undefined) out.maxAgeMinutes = input.maxAgeMinutes;
  return out;
}

/** JSON with keys in a fixed order (normalizeRefreshInput's), used as the seed execution's input. */
export function canonicalInputJson(input: RefreshInput): string {
  return JSON.stringify(normalizeRefreshInput(input));
}

/**
 * The fan-out machine's input: `{}` or `{"maxAgeMinutes": n}`, the contract of lambdas/core/domain/fan-out.ts
 * (NextPage passes maxAgeMinutes on to every child). The requestId is in the execution name, not the input.
 */
function fanOutInputJson(input: RefreshInput): string {
  return JSON.stringify(input.maxAgeMinutes === undefined ? {} : { maxAgeMinutes: input.maxAgeMinutes });
}

export interface PlannedExecution {
  kind: RefreshKind;
  executionName: string;
  /** The exact input string; a repeated StartExecution is only idempotent with the same bytes. */
  executionInput: string;
}

/** The execution `input` maps to on the machine of `kind` (default: the machine the routing picks). */
export function plannedExecution(
  input: RefreshInput,
  now: Date,
  kind: RefreshKind = refreshKindOf(input),
): PlannedExecution {
  const executionName = executionNameFor(input, now);
  return kind === 'seed'
    ? { kind, executionName, executionInput: canonicalInputJson(input) }
    : { kind, executionName: `${FAN_OUT_NAME_PREFIX}${executionName}`, executionInput: fanOutInputJson(input) };
}

/**
 * Execution names are unique per state machine for 90 days, so StartExecution itself is the idempotency check.
 * - With `requestId`: `req-<requestId>` (the schema limits it to [A-Za-z0-9_-]{1,64}; names allow 80 chars).
 * - Without: `auto-<window start, UTC yyyymmddThhmm>-<16 hex of sha256(canonical input)>`.
 * Fan-out executions get FAN_OUT_NAME_PREFIX in front (plannedExecution): at most 7 + 4 + 64 = 75 chars.
 */
export function executionNameFor(input: RefreshInput, now: Date, windowMs: number = DEDUP_WINDOW_MS): string {
  if (input.requestId !== undefined) return `req-${input.requestId}`;
  const windowStart = new Date(Math.floor(now.getTime() / windowMs) * windowMs);
  const stamp = windowStart.toISOString().slice(0, 16).replace(/[-:]/g, '');
  const digest = createHash('sha256').update(canonicalInputJson(input)).digest('hex').slice(0, 16);
  return `auto-${stamp}-${digest}`;
}
