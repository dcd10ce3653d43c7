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

export interface ApiDeps {
  refresh: RefreshDeps;
  /** Balances, positions and history of the configured tenant. */
  read: ReadDeps;
}

export type ApiRoute = Route<APIGatewayProxyEvent, APIGatewayProxyResult>;

/** The resource templates the stack declares; infra tests assert the REST API has exactly these. */
export const API_ROUTES = [
  { method: 'POST', resource: '/refreshes' },
  { method: 'GET', resource: '/refreshes/{id}' },
  { method: 'GET', resource: '/balances' },
  { method: 'GET', resource: '/positions' },
  { method: 'GET', resource: '/accounts/{accountId}/history' },
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
      handler: async (event: APIGatewayProxyEvent) => jsonResponse(200, await describeRefresh(deps.refresh, event.pathParameters?.id ?? '')),
    },
    {
      method: 'GET',
      path: '/balances',
      handler: async (event: APIGatewayProxyEvent) => jsonResponse(200, await listBalances(deps.read, event.queryStringParameters)),
    },
    {
      method: 'GET',
      path: '/positions',
      handler: async (event: APIGatewayProxyEvent) => jsonResponse(200, await getPositions(deps.read, event.queryStringParameters)),
    },
    {
      method: 'GET',
      path: '/accounts/{accountId}/history',
      handler: async (event: APIGatewayProxyEvent) =>
        jsonResponse(200, await accountHistory(deps.read, event.pathParameters?.accountId ?? '', event.queryStringParameters)),
    },
  ];
}

export interface ApiHandlerOptions {
  /** Called with unexpected (non-ApiError) failures; the caller only sees a generic 500. */
  onUnexpectedError?: (error: unknown, event: APIGatewayProxyEvent) => void;
}

/** Anything that is not an ApiError becomes the generic 500 before http-error-handler renders it. */
function unexpectedErrors(options: ApiHandlerOptions): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: (request) => {
      const { error, event } = request;
      if (error instanceof ApiError) return;
      if ((error?.cause as { package?: unknown } | undefined)?.package === '@middy/http-router') {
        request.error = badRequest('Not an API Gateway REST proxy event (httpMethod and path are required).');
        return;
      }
      options.onUnexpectedError?.(error, event);
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
    .use(unexpectedErrors(options));
}
