/**
 * The RefreshInput validator both the API and the step Lambdas use: REFRESH_INPUT_SCHEMA compiled by ajv at build
 * time (infra/codegen/refresh-input-validator.ts), so no Lambda bundles ajv or compiles a schema during INIT
 * (measured: ajv + fast-uri were ~120 KB of a 190 KB bundle and compile took ~20 ms of a cold start).
 */
import type { ErrorObject } from 'ajv';
import { REFRESH_INPUT_SCHEMA, type RefreshInput } from './refresh-input';
import { validate } from './refresh-input-validator.generated';

/** ajv's ValidateFunction shape: after a failed call, `errors` holds every problem (allErrors). */
export interface RefreshInputValidator {
  (data: unknown): data is RefreshInput;
  errors?: ErrorObject[] | null;
}

export const validateRefreshInput: RefreshInputValidator = validate as unknown as RefreshInputValidator;

/**
 * Bounds on what a validation failure echoes back: an input can hold thousands of unknown keys (a 256 KB body once
 * became a 1.3 MB error listing each), so only the first problems are kept, each cut to a fixed length.
 */
export const VALIDATION_LIMITS = { maxProblems: 10, maxProblemLength: 200, maxQuotedLength: 40 } as const;

/** A caller-supplied name quoted in a message, cut so a huge key cannot inflate the error. */
function quote(value: unknown): string {
  const text = JSON.stringify(String(value));
  return text.length <= VALIDATION_LIMITS.maxQuotedLength
    ? text
    : `${text.slice(0, VALIDATION_LIMITS.maxQuotedLength - 2)}…"`;
}

function describeInputError(error: ErrorObject, root: string): string {
  const field = `${root}${error.instancePath.replace(/\//g, '.')}`;
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: unknown }).additionalProperty;
    return `${field} has unknown property ${quote(extra)} (allowed: ${Object.keys(REFRESH_INPUT_SCHEMA.properties).join(', ')})`;
  }
  if (error.keyword === 'maximum' && /(userIds|connectionIds)\/\d+$/.test(error.instancePath)) {
    return `${field} must be a safe integer (at most ${Number.MAX_SAFE_INTEGER}: larger ids lose digits in JSON)`;
  }
  return `${field} ${error.message ?? 'is invalid'}`;
}

/**
 * ajv's errors as one phrase each, the field named from `root` (`input.userIds.0 must be integer`); an unknown field
 * lists the allowed ones. The one formatter for both gates (API body, execution input). At most
 * VALIDATION_LIMITS.maxProblems phrases of bounded length, then "… and N more problem(s)".
 */
export function describeInputErrors(errors: readonly ErrorObject[] | null | undefined, root: string): string[] {
  const all = errors ?? [];
  const shown = all.slice(0, VALIDATION_LIMITS.maxProblems).map((error) => {
    const text = describeInputError(error, root);
    return text.length <= VALIDATION_LIMITS.maxProblemLength
      ? text
      : `${text.slice(0, VALIDATION_LIMITS.maxProblemLength - 1)}…`;
  });
  if (all.length > shown.length) shown.push(`… and ${all.length - shown.length} more problem(s)`);
  return shown;
}
