/**
 * HTTP vocabulary of the refresh API: every non-2xx answer is JSON `{error, message}` where `error` is one of the
 * project's error names (lambdas/core/errors.ts), so API clients and step Lambdas speak the same language.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { StepErrorName } from '../core/errors';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: StepErrorName,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);
export const notFound = (message: string): ApiError => new ApiError(404, 'NotFound', message);
export const conflict = (message: string): ApiError => new ApiError(409, 'Conflict', message);

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

export function errorResponse(error: ApiError): APIGatewayProxyResult {
  return jsonResponse(error.statusCode, { error: error.error, message: error.message });
}

/** Unexpected failures: a fixed message, never the exception text (it could quote bank data or SDK internals). */
export function internalErrorResponse(requestId: string | undefined): APIGatewayProxyResult {
  const ref = requestId === undefined ? '' : ` (request id ${requestId})`;
  return jsonResponse(500, { error: 'InternalError', message: `The request failed unexpectedly${ref}; see the API Lambda logs.` });
}
