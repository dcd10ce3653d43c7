/**
 * The API as a middy handler built from its dependencies: @middy/http-router dispatches on method and path,
 * @middy/http-error-handler renders ApiErrors. lambdas/api/handler.ts wires the real clients from the environment;
 * tests wire dynalite and a fake Step Functions client.
 */
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpRouterHandler, { type Route } from '@middy/http-router';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { accountHistory, getPositions, listBalances, type ReadDeps } from './balances';
import { ApiError, badRequest, internalError, jsonResponse, notFound, requestBody } from './http';
import { parseRefreshBody } from './refresh-request';
import { describeRefresh, startRefresh, type RefreshDeps } from './refreshes';
import { deleteUser, listUsers, putUser, type UserRoutesDeps } from './users';
import { logger } from '../core/observability';

export interface ApiDeps {
  refresh: RefreshDeps;
  /** Balances, positions and history of the configured tenant. */
  read: ReadDeps;
  /** Connection health of the tenant (GET /connections), optionally only those that need the account holder. */
  connections: (filter: { needsUser?: boolean }) => Promise<unknown>;
  /**
   * The tenant's user registry (PUT/DELETE/GET /users) and the balance store DELETE excludes the user's balances from;
   * absent when the API has no token key configured.
   */
  users?: UserRoutesDeps;
}

export type ApiRoute = Route<APIGatewayProxyEvent, APIGatewayProxyResult>;

/** The resource templates the stack declares; infra tests assert the REST API has exactly these. */
export const API_ROUTES = [
  { method: 'POST', resource: '/refreshes' },
  { method: 'GET', resource: '/refreshes/{id}' },
  { method: 'GET', resource: '/balances' },
  { method: 'GET', resource: '/positions' },
  { method: 'GET', resource: '/accounts/{accountId}/history' },
  { method: 'GET', resource: '/connections' },
  { method: 'GET', resource: '/users' },
  { method: 'PUT', resource: '/users/{userId}' },
  { method: 'DELETE', resource: '/users/{userId}' },
] as const;

export function createApiRoutes(deps: ApiDeps): ApiRoute[] {
  return [
    {
      method: 'POST',
      path: '/refreshes',
      handler: async (event: APIGatewayProxyEvent) => {
        const started = await startRefresh(deps.refresh, parseRefreshBody(requestBody(event)));
        return jsonResponse(202, started, { location: `/refreshes/${started.executionName}` });
      },
    },
    {
      method: 'GET',
      path: '/refreshes/{id}',
      handler: async (event: APIGatewayProxyEvent) =>
        jsonResponse(200, await describeRefresh(deps.refresh, event.pathParameters?.id ?? '')),
    },
    {
      method: 'GET',
      path: '/balances',
      handler: async (event: APIGatewayProxyEvent) =>
        jsonResponse(200, await listBalances(deps.read, event.queryStringParameters)),
    },
    {
      method: 'GET',
      path: '/positions',
      handler: async (event: APIGatewayProxyEvent) =>
        jsonResponse(200, await getPositions(deps.read, event.queryStringParameters)),
    },
    {
      method: 'GET',
      path: '/accounts/{accountId}/history',
      handler: async (event: APIGatewayProxyEvent) =>
        jsonResponse(
          200,
          await accountHistory(deps.read, event.pathParameters?.accountId ?? '', event.queryStringParameters),
        ),
    },
    {
      method: 'GET',
      path: '/connections',
      handler: async (event: APIGatewayProxyEvent) => {
        const raw = event.queryStringParameters?.needsUser;
        if (raw !== undefined && raw !== 'true' && raw !== 'false') {
          throw badRequest(`needsUser must be true or false, got ${JSON.stringify(String(raw).slice(0, 20))}.`);
        }
        return jsonResponse(200, await deps.connections(raw === undefined ? {} : { needsUser: raw === 'true' }));
      },
    },
    {
      method: 'GET',
      path: '/users',
      handler: async (event: APIGatewayProxyEvent) => jsonResponse(200, await listUsers(deps.users, event)),
    },
    {
      method: 'PUT',
      path: '/users/{userId}',
      handler: async (event: APIGatewayProxyEvent) => {
        const { statusCode, body } = await putUser(deps.users, event);
        return jsonResponse(statusCode, body);
      },
    },
    {
      method: 'DELETE',
      path: '/users/{userId}',
      handler: async (event: APIGatewayProxyEvent) => {
        await deleteUser(deps.users, event);
        return { statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' };
      },
    },
  ];
}

export interface ApiHandlerOptions {
  /** Called with unexpected (non-ApiError) failures; the caller only sees a generic 500. Default: logged. */
  onUnexpectedError?: (error: unknown, event: APIGatewayProxyEvent) => void;
}

// Only the error's name and message (never the request body): the body may name bank users.
const logUnexpectedError = (error: unknown, event: APIGatewayProxyEvent): void =>
  logger.error('api request failed', {
    route: `${event.httpMethod} ${event.resource}`,
    requestId: event.requestContext?.requestId,
    error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
  });

/** A refresh body is a few KB at most (500 connection ids); anything far larger is refused before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;
/** API Gateway paths are short; a direct invocation could send anything. */
const MAX_PATH_LENGTH = 2048;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What the routes rely on, checked before routing: a direct invocation (console, SDK, a test) can send any JSON, and
 * odd shapes must be a 400 naming the problem, not a TypeError deep in the router answered as a 500.
 */
export function restEventProblem(event: unknown): string | undefined {
  if (!isRecord(event))
    return `Not an API Gateway REST proxy event (got ${Array.isArray(event) ? 'an array' : event === null ? 'null' : typeof event}).`;
  if (typeof event.httpMethod !== 'string')
    return 'Not an API Gateway REST proxy event (httpMethod and path are required).';
  const path = event.path ?? event.resource;
  if (typeof path !== 'string' || path === '')
    return 'Not an API Gateway REST proxy event (httpMethod and path are required).';
  if (path.length > MAX_PATH_LENGTH) return `Path longer than ${MAX_PATH_LENGTH} characters.`;
  if (event.resource !== undefined && event.resource !== null && typeof event.resource !== 'string')
    return 'resource must be a string.';
  if (event.pathParameters !== undefined && event.pathParameters !== null) {
    if (!isRecord(event.pathParameters) || !Object.values(event.pathParameters).every((v) => typeof v === 'string')) {
      return 'pathParameters must be an object of strings.';
    }
  }
  if (event.body !== undefined && event.body !== null && typeof event.body !== 'string')
    return 'body must be a string (the raw HTTP body) or null.';
  if (
    event.isBase64Encoded !== undefined &&
    event.isBase64Encoded !== null &&
    typeof event.isBase64Encoded !== 'boolean'
  ) {
    return 'isBase64Encoded must be a boolean.';
  }
  return undefined;
}

function restEventGuard(): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    before: (request) => {
      const problem = restEventProblem(request.event as unknown);
      if (problem !== undefined) throw badRequest(problem);
      const body = request.event.body;
      if (
        typeof body === 'string' &&
        Buffer.byteLength(body) > MAX_BODY_BYTES * (request.event.isBase64Encoded ? 4 / 3 : 1) + 4
      ) {
        throw new ApiError(
          413,
          'BadRequest',
          `Request body larger than ${MAX_BODY_BYTES} bytes; a refresh request is a few KB.`,
        );
      }
    },
  };
}

/** Anything that is not an ApiError becomes the generic 500 before http-error-handler renders it. */
function unexpectedErrors(
  options: ApiHandlerOptions,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: (request) => {
      const { error, event } = request;
      if (error instanceof ApiError) return;
      if ((error?.cause as { package?: unknown } | undefined)?.package === '@middy/http-router') {
        request.error = badRequest('Not an API Gateway REST proxy event (httpMethod and path are required).');
        return;
      }
      (options.onUnexpectedError ?? logUnexpectedError)(error, event);
      request.error = internalError(event?.requestContext?.requestId);
    },
  };
}

export function createApiHandler(deps: ApiDeps, options: ApiHandlerOptions = {}) {
  const routes = createApiRoutes(deps);
  const listing = routes.map((r) => `${r.method} ${r.path}`).join(', ');
  const router = httpRouterHandler<APIGatewayProxyEvent, APIGatewayProxyResult>({
    routes,
    notFoundResponse: ({ method, path }) => {
      throw notFound(`No route for ${method} ${path}. Routes: ${listing}.`);
    },
  });
  // onError middlewares run last-registered first: classify, then render.
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>(router)
    .use(httpErrorHandler({ logger: false }))
    .use(unexpectedErrors(options))
    .use(restEventGuard());
}
