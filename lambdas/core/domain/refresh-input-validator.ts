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
 * ajv's errors as one phrase each, the field named from `root` (`input.userIds.0 must be integer`); an unknown field
 * lists the allowed ones. The one formatter for both gates (API body, execution input).
 */
export function describeInputErrors(errors: readonly ErrorObject[] | null | undefined, root: string): string[] {
  return (errors ?? []).map((error) => {
    const field = `${root}${error.instancePath.replace(/\//g, '.')}`;
    if (error.keyword === 'additionalProperties') {
      const extra = (error.params as { additionalProperty?: string }).additionalProperty;
      return `${field} has unknown property ${JSON.stringify(extra)} (allowed: ${Object.keys(REFRESH_INPUT_SCHEMA.properties).join(', ')})`;
    }
    return `${field} ${error.message ?? 'is invalid'}`;
  });
}
