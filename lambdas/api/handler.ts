/**
 * API Gateway (REST, proxy integration) → refresh API. Adapter only: clients are built once per container from the
 * environment; routing and domain live in lambdas/api/.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../core/adapters/dynamodb/balance-store';
import { createUserRegistry } from '../core/adapters/dynamodb/user-registry';
import { keyProviderFor } from '../core/adapters/keys/key-provider-for';
import { readSecretString } from '../core/adapters/secrets/powens-secret';
import { ENV } from '../core/env-names';
import { logger } from '../core/observability';
import { createApiHandler } from './app';
import { parseApiConfig } from './config';
import { createCursorCodec } from './cursor';

const config = parseApiConfig(process.env);
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
const store = createBalanceStore({ client: dynamo, tableName: config.tableName });
const users =
  config.userRegistry === undefined
    ? undefined
    : createUserRegistry({
        client: dynamo,
        tableName: config.tableName,
        tenantId: config.tenantId,
        keys: keyProviderFor(config.userRegistry),
      });

// The cursor key is read on first use (most listings fit one page and never need it), then kept for the container.
let cursorKey: Promise<Buffer> | undefined;
const loadCursorKey = (): Promise<Buffer> => {
  const loading = (cursorKey ??= readSecretString(config.cursorSecretId, ENV.cursorSecretId).then((text) => Buffer.from(text, 'utf8')));
  loading.catch(() => {
    if (cursorKey === loading) cursorKey = undefined; // a failed load is retried by the next request
  });
  return loading;
};

export const handler = createApiHandler(
  {
    refresh: { sfn: new SFNClient({}), stateMachineArn: config.stateMachineArn, now: () => new Date() },
    read: {
      store,
      tenantId: config.tenantId,
      maxAgeMinutes: config.maxAgeMinutes,
      cursors: createCursorCodec(loadCursorKey),
      now: () => new Date(),
    },
    ...(users === undefined ? {} : { users }),
  },
  {
    // Only the error's name and message (never the request body): the body may name bank users.
    onUnexpectedError: (error, event) =>
      logger.error('refresh-api request failed', {
        route: `${event.httpMethod} ${event.resource}`,
        requestId: event.requestContext?.requestId,
        error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
      }),
  },
);
