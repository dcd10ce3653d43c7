/**
 * Tests use the same embedded DynamoDB as `npm start` (infra/local/embedded-dynamodb.ts), with SDK retries off so a
 * failing write fails the test at once instead of being retried.
 */
import {
  LOCAL_AWS_CREDENTIALS,
  LOCAL_AWS_REGION,
  startEmbeddedDynamoDb,
  type EmbeddedDynamoDb,
} from '../../infra/local/embedded-dynamodb';

export type LocalDynamo = EmbeddedDynamoDb;

/** Environment for a process (or handler module) that should reach the embedded DynamoDB. */
export const DUMMY_AWS_ENV = {
  AWS_REGION: LOCAL_AWS_REGION,
  AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
} as const;

export function startDynalite(): Promise<LocalDynamo> {
  return startEmbeddedDynamoDb({ maxAttempts: 1 });
}

/** One embedded DynamoDB per test file: started before its tests, stopped after. Call inside a describe block. */
export function useDynalite(): () => LocalDynamo {
  let dynamo: LocalDynamo | undefined;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.close();
  });
  return () => {
    if (!dynamo) throw new Error('useDynalite(): the embedded DynamoDB is only available inside tests');
    return dynamo;
  };
}
