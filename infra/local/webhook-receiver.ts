/**
 * The Powens webhook Lambda's real handler behind a loopback HTTP server: what API Gateway does in AWS (request →
 * REST proxy event → handler → response), minus the stage prefix, so the signed path is the bare
 * `/webhooks/powens/{event}`. Used by `npm run webhooks`, `npm start` and the tests.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { WebhookDeps } from '../../lambdas/core/domain/powens-webhooks';
import { MAX_WEBHOOK_BODY_BYTES } from '../../lambdas/core/domain/powens-webhooks';
import { createWebhookHandler } from '../../lambdas/powens-webhooks/app';

export const WEBHOOK_ROUTE = /^\/webhooks\/powens\/([^/]+)$/;

export interface WebhookReceiver {
  port: number;
  /** e.g. http://127.0.0.1:41234/webhooks/powens — the sandbox appends `/{EVENT}`. */
  baseUrl: string;
  close(): Promise<void>;
}

/** undefined for a malformed percent-encoding: no event can have that name. */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'powens-webhooks-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:powens-webhooks-local',
    memoryLimitInMB: '512',
    awsRequestId: `local-${Date.now().toString(36)}`,
    logGroupName: '/local/powens-webhooks',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export async function startWebhookReceiver(options: {
  deps: WebhookDeps;
  port?: number;
  host?: string;
  /** No Powertools middlewares (log context, EMF metrics flush): for a receiver inside another command's output. */
  quiet?: boolean;
}): Promise<WebhookReceiver> {
  const handler = createWebhookHandler(() => options.deps, { powertools: options.quiet !== true });
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      const match = WEBHOOK_ROUTE.exec(url.pathname);
      const event = match === null ? undefined : decodePathSegment(match[1] ?? '');
      if (req.method !== 'POST' || event === undefined)
        return reply(404, { error: 'NotFound', message: 'POST /webhooks/powens/{event} only.' });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        // One byte over the limit is enough for the handler's 413: keep at most that, drain the rest of a flood.
        const room = MAX_WEBHOOK_BODY_BYTES + 1 - size;
        if (room > 0) chunks.push((chunk as Buffer).subarray(0, room));
        size += (chunk as Buffer).length;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
      const proxyEvent = {
        httpMethod: 'POST',
        resource: '/webhooks/powens/{event}',
        path: url.pathname,
        pathParameters: { event },
        headers,
        multiValueHeaders: {},
        queryStringParameters: null,
        multiValueQueryStringParameters: null,
        stageVariables: null,
        body: Buffer.concat(chunks).toString('base64'),
        isBase64Encoded: true,
        requestContext: { path: url.pathname, requestId: `local-${Date.now()}` },
      } as unknown as APIGatewayProxyEvent;
      const result = (await handler(proxyEvent, lambdaContext())) as APIGatewayProxyResult;
      res.writeHead(result.statusCode, (result.headers ?? {}) as Record<string, string>);
      res.end(result.body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"InternalError","message":"local receiver failure"}');
    });
  });
  server.keepAliveTimeout = 0;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    port,
    baseUrl: `http://${address}:${port}/webhooks/powens`,
    close: async () => {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}
