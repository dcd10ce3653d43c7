/**
 * The refresh API as a middy handler built from its dependencies. lambdas/refresh-api/handler.ts wires the real
 * clients from the environment; tests wire dynalite and a fake Step Functions client.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { accountHistory, getPositions, listBalances, type ReadDeps } from './balances';
import { jsonResponse } from './http';
import { parseRefreshBody } from './refresh-request';
import { describeRefresh, startRefresh, type RefreshDeps } from './refreshes';
import { createRouter, type Route, type RouterOptions } from './router';

export interface ApiDeps {
  refresh: RefreshDeps;
  /** Balances, positions and history of the configured tenant. */
  read: ReadDeps;
}

/** The resource templates the stack declares; infra tests assert the REST API has exactly these. */
export const API_ROUTES = [
  { method: 'POST', resource: '/refreshes' },
  { method: 'GET', resource: '/refreshes/{id}' },
  { method: 'GET', resource: '/balances' },
  { method: 'GET', resource: '/positions' },
  { method: 'GET', resource: '/accounts/{accountId}/history' },
] as const;

export function createApiRoutes(deps: ApiDeps): Route[] {
  return [
    {
      method: 'POST',
      resource: '/refreshes',
      handle: async ({ body }) => {
        const started = await startRefresh(deps.refresh, parseRefreshBody(body));
        return jsonResponse(202, started, { location: `/refreshes/${started.executionName}` });
      },
    },
    {
      method: 'GET',
      resource: '/refreshes/{id}',
      handle: async ({ params }) => jsonResponse(200, await describeRefresh(deps.refresh, params.id ?? '')),
    },
    {
      method: 'GET',
      resource: '/balances',
      handle: async ({ query }) => jsonResponse(200, await listBalances(deps.read, query)),
    },
    {
      method: 'GET',
      resource: '/positions',
      handle: async ({ query }) => jsonResponse(200, await getPositions(deps.read, query)),
    },
    {
      method: 'GET',
      resource: '/accounts/{accountId}/history',
      handle: async ({ params, query }) => jsonResponse(200, await accountHistory(deps.read, params.accountId ?? '', query)),
    },
  ];
}

export function createApiHandler(deps: ApiDeps, options: RouterOptions = {}) {
  const route = createRouter(createApiRoutes(deps), options);
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>().handler((event) => route(event));
}
