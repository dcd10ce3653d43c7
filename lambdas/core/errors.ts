/**
 * Error names are a contract between the Lambdas (which throw) and the workflow compiler (which lists them in
 * ASL `ErrorEquals`). Step Functions matches Retry/Catch on `error.name`, so a renamed class silently turns a
 * retried failure into a permanent one: every name lives here, once, and a test fails if a thrown name is not
 * classified.
 *
 * The retryable set mirrors ContractSpec's runner (§2.4 of docs/contractspec-semantics.md): a step is retried
 * only for RATE_LIMITED (429), BAD_GATEWAY (502), SERVICE_UNAVAILABLE (503), TIMEOUT (504) problems and for
 * WorkflowExecutionError kinds 'retryable' / 'timeout'. Everything else fails at once.
 */

/** Transient failures a step Lambda throws; retried when the step has a retry policy. */
export const RETRYABLE_ERROR_NAMES = [
  'RateLimited',
  'BadGateway',
  'ServiceUnavailable',
  'Timeout',
  'Retryable',
] as const;

/** Permanent failures a step Lambda throws; never retried. */
export const PERMANENT_ERROR_NAMES = [
  'ValidationFailed',
  'Unauthenticated',
  'Forbidden',
  'NotFound',
  'Conflict',
  'BadRequest',
  'ConfigurationError',
  'InternalError',
] as const;

/**
 * Errors raised by Step Functions itself or by the Lambda service (not by our code) that ContractSpec would class
 * as retryable: a step timeout (`timeoutMs` → `States.Timeout`, retryable in ContractSpec) and Lambda throttling /
 * service faults (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
 * `Lambda.Unknown` (out of memory, function crash) is deliberately absent: retrying it repeats the crash.
 */
export const PLATFORM_RETRYABLE_ERROR_NAMES = [
  'States.Timeout',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
] as const;

export type RetryableErrorName = (typeof RETRYABLE_ERROR_NAMES)[number];
export type PermanentErrorName = (typeof PERMANENT_ERROR_NAMES)[number];
export type StepErrorName = RetryableErrorName | PermanentErrorName;

/** Every name a step may fail with that the compiled Retry blocks retry, in a stable order. */
export const ASL_RETRYABLE_ERROR_NAMES: readonly string[] = [
  ...RETRYABLE_ERROR_NAMES,
  ...PLATFORM_RETRYABLE_ERROR_NAMES,
];

export function isRetryableErrorName(name: string): boolean {
  return ASL_RETRYABLE_ERROR_NAMES.includes(name);
}

/** True for the names a StepError may carry (what `npm start -- --json` and the bad-input fuzz test accept). */
export function isClassifiedErrorName(name: string): name is StepErrorName {
  return (
    (RETRYABLE_ERROR_NAMES as readonly string[]).includes(name) ||
    (PERMANENT_ERROR_NAMES as readonly string[]).includes(name)
  );
}

export interface StepErrorOptions {
  cause?: unknown;
  /** Server-provided back-off hint (e.g. HTTP Retry-After) in milliseconds. ASL cannot honour it; it is logged. */
  retryAfterMs?: number;
  /** Non-secret facts useful to an operator (HTTP status, Powens error code, request id...). */
  details?: Record<string, unknown>;
}

/** Base class: `name` is the contract; `retryable` is derived from it so the two can never disagree. */
export abstract class StepError extends Error {
  abstract override readonly name: StepErrorName;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;

  constructor(message: string, options: StepErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.details !== undefined) this.details = options.details;
  }

  get retryable(): boolean {
    return isRetryableErrorName(this.name);
  }
}

export class RateLimitedError extends StepError {
  override readonly name = 'RateLimited' as const;
}
export class BadGatewayError extends StepError {
  override readonly name = 'BadGateway' as const;
}
export class ServiceUnavailableError extends StepError {
  override readonly name = 'ServiceUnavailable' as const;
}
export class TimeoutError extends StepError {
  override readonly name = 'Timeout' as const;
}
export class ValidationFailedError extends StepError {
  override readonly name = 'ValidationFailed' as const;
}
export class UnauthenticatedError extends StepError {
  override readonly name = 'Unauthenticated' as const;
}
export class ForbiddenError extends StepError {
  override readonly name = 'Forbidden' as const;
}
export class NotFoundError extends StepError {
  override readonly name = 'NotFound' as const;
}
export class ConflictError extends StepError {
  override readonly name = 'Conflict' as const;
}
export class BadRequestError extends StepError {
  override readonly name = 'BadRequest' as const;
}
export class ConfigurationError extends StepError {
  override readonly name = 'ConfigurationError' as const;
}
export class InternalError extends StepError {
  override readonly name = 'InternalError' as const;
}

/**
 * Anything that escapes domain code unnamed (a TypeError, an SDK error) becomes InternalError so Step Functions
 * sees a classified, permanent name instead of a random one.
 */
export function toStepError(error: unknown): StepError {
  if (error instanceof StepError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InternalError(message, { cause: error });
}
