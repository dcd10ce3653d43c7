/**
 * DynamoDB SDK failures → the workflow's error names. Throttling, 5xx and network failures are transient
 * (ServiceUnavailable: the step's Retry handles them, after the SDK's own retries gave up); a missing table is a
 * deployment mistake (ConfigurationError); anything else is a bug on our side (InternalError). A conditional-check
 * failure is never passed here: callers treat it as an expected outcome.
 */
import {
  type DynamoDBDocumentClient,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConfigurationError, InternalError, ServiceUnavailableError, type StepError } from '../../errors';

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
]);
const SERVER_SIDE = new Set(['InternalServerError', 'ServiceUnavailable', 'InternalFailure']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

export function dynamoErrorToStepError(error: unknown, operation: string, tableName: string): StepError {
  const name = error instanceof Error ? error.name : 'UnknownError';
  const meta = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  const status = meta?.httpStatusCode;
  const code = (error as { code?: unknown } | undefined)?.code;
  const details = { operation, tableName, sdkError: name, ...(status === undefined ? {} : { httpStatus: status }) };
  const where = `DynamoDB ${operation} on ${tableName}`;
  if (name === 'ResourceNotFoundException') {
    return new ConfigurationError(`${where}: table not found; check TABLE_NAME and that the table exists.`, {
      cause: error,
      details,
    });
  }
  if (
    THROTTLING.has(name) ||
    SERVER_SIDE.has(name) ||
    (status !== undefined && status >= 500) ||
    name === 'TimeoutError' ||
    (typeof code === 'string' && NETWORK_CODES.has(code))
  ) {
    return new ServiceUnavailableError(`${where} failed transiently (${name}).`, { cause: error, details });
  }
  return new InternalError(`${where} failed (${name}): ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
    details,
  });
}

/**
 * Wraps every DynamoDB call of a component: counts requests (benchmarks compare them to the batch floor) and turns
 * SDK failures into named step errors, letting ConditionalCheckFailed through as the expected outcome callers handle.
 */
export function dynamoSender(tableName: string): {
  send<T>(operation: string, call: () => Promise<T>): Promise<T>;
  readonly requestCount: number;
} {
  let requestCount = 0;
  return {
    async send<T>(operation: string, call: () => Promise<T>): Promise<T> {
      requestCount += 1;
      try {
        return await call();
      } catch (error) {
        if (isConditionalCheckFailed(error)) throw error;
        throw dynamoErrorToStepError(error, operation, tableName);
      }
    },
    get requestCount() {
      return requestCount;
    },
  };
}

/**
 * A conditional write through the component's sender: its output when written, undefined when its condition refused
 * it (the expected outcome); any other failure is the sender's named step error.
 */
export async function conditionalWrite<T>(
  dynamo: ReturnType<typeof dynamoSender>,
  operation: string,
  call: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await dynamo.send(operation, call);
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}

/** A conditional PutItem through the component's sender: true when written, false when its condition refused it. */
export async function conditionalPut(
  dynamo: ReturnType<typeof dynamoSender>,
  client: DynamoDBDocumentClient,
  input: PutCommandInput,
): Promise<boolean> {
  return (await conditionalWrite(dynamo, 'PutItem', () => client.send(new PutCommand(input)))) !== undefined;
}

/** Every item a Query returns, all pages, through the component's sender (one counted request per page). */
export async function queryAllPages(
  dynamo: ReturnType<typeof dynamoSender>,
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send('Query', () =>
      client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey })),
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}
