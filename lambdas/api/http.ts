/**
 * HTTP vocabulary of the API: every non-2xx answer is JSON `{error, message}` where `error` is one of the project's
 * error names (lambdas/core/errors.ts), so API clients and step Lambdas speak the same language. ApiError has the
 * shape @middy/http-error-handler renders (statusCode, expose, headers, body = message), with the JSON as message.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { StepErrorName } from '../core/errors';

const NO_STORE = { 'cache-control': 'no-store' };

export class ApiError extends Error {
  readonly expose = true;
  readonly headers = NO_STORE;

  constructor(
    readonly statusCode: number,
    readonly error: StepErrorName,
    readonly detail: string,
  ) {
    super(JSON.stringify({ error, message: detail }));
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);
export const notFound = (message: string): ApiError => new ApiError(404, 'NotFound', message);
export const conflict = (message: string): ApiError => new ApiError(409, 'Conflict', message);

/** Unexpected failures: a fixed message, never the exception text (it could quote bank data or SDK internals). */
export function internalError(requestId: string | undefined): ApiError {
  const ref = requestId === undefined ? '' : ` (request id ${requestId})`;
  return new ApiError(500, 'InternalError', `The request failed unexpectedly${ref}; see the API Lambda logs.`);
}

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...NO_STORE, ...headers },
    body: JSON.stringify(body),
  };
}

/** The body text API Gateway received (base64 undone), or null. */
export function requestBody(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): string | null {
  if (event.body === null || event.body === undefined) return null;
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}
