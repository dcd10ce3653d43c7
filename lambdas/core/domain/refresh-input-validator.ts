/**
 * The RefreshInput validator both the API and the step Lambdas use: REFRESH_INPUT_SCHEMA compiled by ajv at build
 * time (infra/codegen/refresh-input-validator.ts), so no Lambda bundles ajv or compiles a schema during INIT
 * (measured: ajv + fast-uri were ~120 KB of a 190 KB bundle and compile took ~20 ms of a cold start).
 */
import type { ErrorObject } from 'ajv';
import type { RefreshInput } from './refresh-input';
import { validate } from './refresh-input-validator.generated';

/** ajv's ValidateFunction shape: after a failed call, `errors` holds every problem (allErrors). */
export interface RefreshInputValidator {
  (data: unknown): data is RefreshInput;
  errors?: ErrorObject[] | null;
}

export const validateRefreshInput: RefreshInputValidator = validate as unknown as RefreshInputValidator;
