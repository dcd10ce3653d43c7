/**
 * Per-execution memory of forced syncs, so a retried refresh step never re-syncs (and never re-spends PSD2 budget
 * on) a connection it already handled in the same Step Functions execution.
 *
 * Item: pk `EXEC#{executionId}`, sk `CONN#{userId}#{connectionId}`, TTL `expiresAt` (7 days: far beyond any run of
 * this workflow). Lifecycle: begin() (conditional UpdateItem: refused once the marker is `done`) → optionally
 * recordReservation() (the PSD2 slot this execution holds for the connection) → complete() after Powens answered the
 * PUT. Only single-item conditional writes: works on dynalite and DynamoDB alike.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoSender, isConditionalCheckFailed } from './errors';
import { tableKeys } from './table-schema';

const MARKER_TTL_SECONDS = 7 * 24 * 60 * 60;

export interface CompletedSync {
  outcome: string;
  reason?: string;
  state?: string | null;
  lastUpdate?: string | null;
}

export type MarkerBegin =
  | { done: false; attempt: number; reservedSlot?: number }
  | { done: true; result: CompletedSync };

export interface ExecutionMarkers {
  begin(executionId: string, userId: number, connectionId: number): Promise<MarkerBegin>;
  recordReservation(executionId: string, userId: number, connectionId: number, slot: number): Promise<void>;
  complete(executionId: string, userId: number, connectionId: number, result: CompletedSync): Promise<void>;
  readonly requestCount: number;
}

export function createExecutionMarkers(options: {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: () => Date;
}): ExecutionMarkers {
  const { client, tableName } = options;
  const clock = options.clock ?? (() => new Date());
  const dynamo = dynamoSender(tableName);
  const send = dynamo.send;
  const expiresAt = () => Math.floor(clock().getTime() / 1000) + MARKER_TTL_SECONDS;


  return {
    async begin(executionId, userId, connectionId) {
      const Key = tableKeys.executionMarker(executionId, userId, connectionId);
      try {
        const response = await send('UpdateItem', () =>
          client.send(
            new UpdateCommand({
              TableName: tableName,
              Key,
              UpdateExpression:
                'SET attempts = if_not_exists(attempts, :zero) + :one, startedAt = if_not_exists(startedAt, :now), ' +
                '#status = :started, expiresAt = :exp',
              ConditionExpression: 'attribute_not_exists(#status) OR #status <> :done',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':zero': 0,
                ':one': 1,
                ':now': clock().toISOString(),
                ':started': 'started',
                ':done': 'done',
                ':exp': expiresAt(),
              },
              ReturnValues: 'ALL_NEW',
            }),
          ),
        );
        const attributes = response.Attributes ?? {};
        const attempt = typeof attributes.attempts === 'number' ? attributes.attempts : 1;
        return typeof attributes.slot === 'number'
          ? { done: false, attempt, reservedSlot: attributes.slot }
          : { done: false, attempt };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        // dynalite lacks ReturnValuesOnConditionCheckFailure, so read the finished marker (rare: retries only).
        const { Item } = await send('GetItem', () =>
          client.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true })),
        );
        const stored = (Item?.result ?? {}) as CompletedSync;
        return { done: true, result: stored };
      }
    },

    async recordReservation(executionId, userId, connectionId, slot) {
      await send('UpdateItem', () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: tableKeys.executionMarker(executionId, userId, connectionId),
            UpdateExpression: 'SET slot = :slot',
            ExpressionAttributeValues: { ':slot': slot },
          }),
        ),
      );
    },

    async complete(executionId, userId, connectionId, result) {
      const stored: Record<string, unknown> = { outcome: result.outcome };
      if (result.reason !== undefined) stored.reason = result.reason;
      if (result.state !== undefined) stored.state = result.state;
      if (result.lastUpdate !== undefined) stored.lastUpdate = result.lastUpdate;
      await send('UpdateItem', () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: tableKeys.executionMarker(executionId, userId, connectionId),
            UpdateExpression: 'SET #status = :done, #result = :result, completedAt = :now, expiresAt = :exp',
            ExpressionAttributeNames: { '#status': 'status', '#result': 'result' },
            ExpressionAttributeValues: {
              ':done': 'done',
              ':result': stored,
              ':now': clock().toISOString(),
              ':exp': expiresAt(),
            },
          }),
        ),
      );
    },

    get requestCount() {
      return dynamo.requestCount;
    },
  };
}
