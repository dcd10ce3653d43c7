/**
 * Strict validation of the execution input (RefreshInput), shared by both steps. The schema is the one API Gateway
 * uses; it is compiled at build time (lambdas/core/domain/refresh-input-validator.ts), not at import, for cold start.
 */
import type { ErrorObject } from 'ajv';
import { ValidationFailedError } from '../errors';
import { REFRESH_INPUT_SCHEMA, type RefreshInput } from './refresh-input';
import { validateRefreshInput as validate } from './refresh-input-validator';
import type { PowensSecret, PowensSecretUser } from '../adapters/secrets/powens-secret';

const schema = REFRESH_INPUT_SCHEMA;

/**
 * Bounds on what a validation failure echoes back: an input can hold thousands of unknown keys (a 256 KB body once
 * became a 1.3 MB error listing each), so only the first problems are kept, each cut to a fixed length.
 */
export const VALIDATION_LIMITS = { maxProblems: 10, maxProblemLength: 200, maxQuotedLength: 40 } as const;

/** A caller-supplied name quoted in a message, cut so a huge key cannot inflate the error. */
function quote(value: unknown): string {
  const text = JSON.stringify(String(value));
  return text.length <= VALIDATION_LIMITS.maxQuotedLength ? text : `${text.slice(0, VALIDATION_LIMITS.maxQuotedLength - 2)}…"`;
}

function describe(error: ErrorObject, root: string): string {
  const field = error.instancePath === '' ? root : `${root}${error.instancePath.replace(/\//g, '.')}`;
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: unknown }).additionalProperty;
    return `${field} has unknown property ${quote(extra)} (allowed: ${Object.keys(schema.properties).join(', ')})`;
  }
  if (error.keyword === 'maximum' && error.instancePath !== '') {
    return `${field} must be a safe integer (at most ${Number.MAX_SAFE_INTEGER}: larger ids lose digits in JSON)`;
  }
  return `${field} ${error.message ?? 'is invalid'}`;
}

/**
 * The validator's errors as at most VALIDATION_LIMITS.maxProblems messages of bounded length (`root` names the
 * document: `input` for a step, `body` for the API), plus "… and N more" when some were left out.
 */
export function refreshInputProblems(errors: readonly ErrorObject[] | null | undefined, root: string): string[] {
  const all = errors ?? [];
  const shown = all.slice(0, VALIDATION_LIMITS.maxProblems).map((error) => {
    const text = describe(error, root);
    return text.length <= VALIDATION_LIMITS.maxProblemLength ? text : `${text.slice(0, VALIDATION_LIMITS.maxProblemLength - 1)}…`;
  });
  if (all.length > shown.length) shown.push(`… and ${all.length - shown.length} more problem(s)`);
  return shown;
}

export function parseRefreshInput(raw: unknown): RefreshInput {
  // `null`/absent input (a console "Start execution" with no body) means "refresh everything", like `{}`.
  const value = raw === undefined || raw === null ? {} : raw;
  if (!validate(value)) {
    const problems = refreshInputProblems(validate.errors, 'input');
    throw new ValidationFailedError(`Invalid refresh input: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  return value;
}

/** The configured users the input selects; unknown ids are a ValidationFailed naming them. */
export function selectUsers(secret: PowensSecret, userIds: readonly number[] | undefined): PowensSecretUser[] {
  if (userIds === undefined) return secret.users;
  const known = new Map(secret.users.map((user) => [user.userId, user]));
  const unknown = userIds.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ValidationFailedError(
      `input.userIds contains user id(s) not configured in the Powens secret: ${unknown.join(', ')} ` +
        `(configured: ${[...known.keys()].join(', ')}).`,
      { details: { unknownUserIds: unknown } },
    );
  }
  return userIds.map((id) => known.get(id) as PowensSecretUser);
}
