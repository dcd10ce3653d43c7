/**
 * API Gateway (REST proxy, no IAM auth: Powens cannot sign SigV4) → Powens webhook receiver. Adapter only: the
 * dependencies are built once per container, on the first delivery; the receiver lives in ./app.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { buildWebhookDeps, createWebhookHandler } from './app';
import type { WebhookDeps } from '../core/domain/powens-webhooks';

const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
let deps: WebhookDeps | undefined;

export const handler = createWebhookHandler(() => (deps ??= buildWebhookDeps(process.env, dynamo)));
