/**
 * Strict validation of the execution input (RefreshInput), shared by both steps. The schema is the one API Gateway
 * uses; it is compiled at build time (lambdas/core/domain/refresh-input-validator.ts), not at import, for cold start.
 */
import { ValidationFailedError } from '../errors';
import { REFRESH_INPUT_SCHEMA, type RefreshInput } from './refresh-input';
import { describeInputErrors, validateRefreshInput as validate } from './refresh-input-validator';
import type { PowensSecret, PowensSecretUser } from '../adapters/secrets/powens-secret';

/**
 * The RefreshInput fields of a larger object (the workflow data a later step receives: the execution input merged
 * with earlier steps' outputs). Anything else is left out; the fields kept are then validated as strictly as ever.
 */
export function selectRefreshInput(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  const record = data as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(REFRESH_INPUT_SCHEMA.properties)
      .filter((key) => key in record)
      .map((key) => [key, record[key]]),
  );
}

export function parseRefreshInput(raw: unknown): RefreshInput {
  // `null`/absent input (a console "Start execution" with no body) means "refresh everything", like `{}`.
  const value = raw === undefined || raw === null ? {} : raw;
  if (!validate(value)) {
    const problems = describeInputErrors(validate.errors, 'input');
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
