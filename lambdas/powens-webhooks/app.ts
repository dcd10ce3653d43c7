/**
 * The Powens webhook receiver as a middy handler built from its dependencies: the API Gateway event becomes the raw
 * request Powens signed, handed to ../core/domain/powens-webhooks.ts (which verifies the HMAC signature before
 * anything is read or written). ./handler.ts wires the real clients.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createBalanceStore } from '../core/adapters/dynamodb/balance-store';
import { createConnectionHealthStore } from '../core/adapters/dynamodb/connection-health';
import { createPsd2Budget } from '../core/adapters/dynamodb/psd2-budget';
import { createUserRegistry } from '../core/adapters/dynamodb/user-registry';
import { createWebhookDeliveries } from '../core/adapters/dynamodb/webhook-deliveries';
import { secretSourceFor } from '../core/adapters/secrets/powens-secret';
import { type WebhookDeps, type WebhookRequest, handlePowensWebhook } from '../core/domain/powens-webhooks';
import { toStepError } from '../core/errors';
import { domainMetrics, logger, metrics } from '../core/observability';
import { parseWebhookConfig } from './config';

export function buildWebhookDeps(env: NodeJS.ProcessEnv, dynamo: DynamoDBDocumentClient): WebhookDeps {
  const config = parseWebhookConfig(env);
  const table = { client: dynamo, tableName: config.tableName };
  return {
    tenantId: config.tenantId,
    // Users may live in the user registry rather than the secret: only the client credentials and webhookSecret are required.
    secrets: secretSourceFor(config.secret, { usersOptional: true }),
    store: createBalanceStore(table),
    health: createConnectionHealthStore(table),
    budget: createPsd2Budget({ ...table, limit: config.psd2DailySyncLimit }),
    deliveries: createWebhookDeliveries(table),
    users: createUserRegistry({ ...table, tenantId: config.tenantId }),
    logger,
    metrics: domainMetrics,
  };
}

/** The request Powens signed: stage-prefixed path as API Gateway saw it, lower-case headers, body bytes. */
export function toWebhookRequest(event: APIGatewayProxyEvent): WebhookRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {}))
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
  const body = event.body ?? '';
  return {
    event: event.pathParameters?.event ?? '',
    path: event.requestContext?.path ?? event.path,
    headers,
    body: event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
  };
}

/** `powertools: false` (the quiet local receiver of `npm start`): no Lambda-context logging, no EMF metrics flush. */
export function createWebhookHandler(resolveDeps: () => WebhookDeps, options: { powertools?: boolean } = {}) {
  const reply = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  });
  const base = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    let deps: WebhookDeps;
    try {
      deps = resolveDeps();
    } catch (error) {
      const named = toStepError(error);
      logger.error('webhook receiver misconfigured', { errorName: named.name, errorMessage: named.message });
      return reply(500, { error: named.name, message: 'The webhook receiver is misconfigured; see its logs.' });
    }
    const response = await handlePowensWebhook(toWebhookRequest(event), deps);
    return reply(response.status, response.body);
  };
  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>(base);
  return options.powertools === false
    ? handler
    : handler.use(injectLambdaContext(logger, { resetKeys: true })).use(logMetrics(metrics));
}
