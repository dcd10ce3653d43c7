import type { APIGatewayProxyEvent } from 'aws-lambda';

/** A REST proxy event as API Gateway sends it for the declared resources. */
export function apiEvent(
  method: string,
  resource: string,
  options: {
    path?: string;
    body?: string | null;
    pathParameters?: Record<string, string>;
    query?: Record<string, string>;
    base64?: boolean;
  } = {},
): APIGatewayProxyEvent {
  const body = options.body ?? null;
  return {
    httpMethod: method,
    resource,
    path: options.path ?? resource,
    body: body !== null && options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: options.query
      ? Object.fromEntries(Object.entries(options.query).map(([k, v]) => [k, [v]]))
      : null,
    pathParameters: options.pathParameters ?? null,
    stageVariables: null,
    requestContext: { requestId: 'req-test-1' } as APIGatewayProxyEvent['requestContext'],
  };
}
