/**
 * A tiny router over API Gateway REST proxy events. Routes are keyed by the API Gateway resource template
 * (`/refreshes/{id}`), which is what the stack declares; when an event has no `resource` (a direct or local
 * invocation), the concrete path is matched against the same templates.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ApiError, errorResponse, internalErrorResponse, notFound } from './http';

export type HttpMethod = 'GET' | 'POST';

export interface RouteRequest {
  event: APIGatewayProxyEvent;
  params: Record<string, string>;
  /** Query string parameters (single-valued, as API Gateway decodes them); null when there are none. */
  query: Record<string, string | undefined> | null;
  /** Decoded body text (base64 undone), or null. */
  body: string | null;
}

export interface Route {
  method: HttpMethod;
  /** API Gateway resource template, e.g. `/refreshes/{id}`. */
  resource: string;
  handle(request: RouteRequest): Promise<APIGatewayProxyResult>;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  paramNames: string[];
}

function compile(route: Route): CompiledRoute {
  const paramNames: string[] = [];
  const source = route.resource
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      paramNames.push(param[1]);
      return '([^/]+)';
    })
    .join('/');
  return { ...route, pattern: new RegExp(`^${source}/?$`), paramNames };
}

export interface RouterOptions {
  /** Called with unexpected (non-ApiError) failures; the caller only sees a generic 500. */
  onUnexpectedError?: (error: unknown, event: APIGatewayProxyEvent) => void;
}

export function createRouter(routes: readonly Route[], options: RouterOptions = {}) {
  const compiled = routes.map(compile);
  const describeRoutes = compiled.map((r) => `${r.method} ${r.resource}`).join(', ');

  return async function route(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
    try {
      const path = event.path ?? '';
      const candidates = compiled.filter((r) => (event.resource ? r.resource === event.resource : r.pattern.test(path)));
      const match = candidates.find((r) => r.method === event.httpMethod);
      if (!match) {
        throw notFound(`No route for ${event.httpMethod} ${event.resource ?? path}. Routes: ${describeRoutes}.`);
      }
      const params: Record<string, string> = {};
      const values = match.pattern.exec(path);
      match.paramNames.forEach((name, i) => {
        const fromGateway = event.pathParameters?.[name];
        const fromPath = values?.[i + 1];
        const value = fromGateway ?? (fromPath === undefined ? undefined : decodeURIComponent(fromPath));
        if (value !== undefined) params[name] = value;
      });
      const body =
        event.body === null || event.body === undefined
          ? null
          : event.isBase64Encoded
            ? Buffer.from(event.body, 'base64').toString('utf8')
            : event.body;
      return await match.handle({ event, params, query: event.queryStringParameters ?? null, body });
    } catch (error) {
      if (error instanceof ApiError) return errorResponse(error);
      options.onUnexpectedError?.(error, event);
      return internalErrorResponse(event.requestContext?.requestId);
    }
  };
}
