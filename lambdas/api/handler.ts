/** API Gateway (REST, proxy) → the API. Wiring only: clients once per container; routes in ./app.ts. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../core/adapters/dynamodb/balance-store';
import { createConnectionHealthStore } from '../core/adapters/dynamodb/connection-health';
import { createUserRegistry } from '../core/adapters/dynamodb/user-registry';
import { keyProviderFor } from '../core/adapters/keys/key-provider-for';
import { createApiHandler } from './app';
import { parseApiConfig } from './config';
import { createCursorCodec, secretCursorKey } from './cursor';

const config = parseApiConfig(process.env);
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
const { tableName, tenantId, userRegistry } = config;
const now = () => new Date();
const health = createConnectionHealthStore({ client: dynamo, tableName });
const store = createBalanceStore({ client: dynamo, tableName });

export const handler = createApiHandler({
  refresh: {
    sfn: new SFNClient({}),
    stateMachineArn: config.stateMachineArn,
    fanOutStateMachineArn: config.fanOutStateMachineArn,
    now,
  },
  read: {
    store,
    tenantId,
    maxAgeMinutes: config.maxAgeMinutes,
    cursors: createCursorCodec(secretCursorKey(config.cursorSecretId)),
    now,
  },
  connections: async (filter) => ({ tenantId, connections: await health.list(tenantId, filter) }),
  ...(userRegistry && {
    users: {
      registry: createUserRegistry({ client: dynamo, tableName, tenantId, keys: keyProviderFor(userRegistry) }),
      balances: store,
      health,
      tenantId,
      now,
    },
  }),
});
