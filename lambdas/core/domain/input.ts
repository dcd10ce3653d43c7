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

function describe(error: ErrorObject): string {
  const field = error.instancePath === '' ? 'input' : `input${error.instancePath.replace(/\//g, '.')}`;
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: string }).additionalProperty;
    return `${field} has unknown property ${JSON.stringify(extra)} (allowed: ${Object.keys(schema.properties).join(', ')})`;
  }
  return `${field} ${error.message ?? 'is invalid'}`;
}

/**
 * The RefreshInput fields of a larger object (the workflow data a later step receives: the execution input merged
 * with earlier steps' outputs). Anything else is left out; the fields kept are then validated as strictly as ever.
 */
export function selectRefreshInput(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  const record = data as Record<string, unknown>;
  return Object.fromEntries(Object.keys(schema.properties).filter((key) => key in record).map((key) => [key, record[key]]));
}

export function parseRefreshInput(raw: unknown): RefreshInput {
  // `null`/absent input (a console "Start execution" with no body) means "refresh everything", like `{}`.
  const value = raw === undefined || raw === null ? {} : raw;
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map(describe);
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
