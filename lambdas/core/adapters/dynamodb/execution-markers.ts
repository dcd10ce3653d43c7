/**
 * Per-execution memory of forced syncs, so a retried refresh step neither re-sends a sync whose fate is unknown under
 * a PSD2 slot already spent, nor forgets (and under-reports) the syncs an earlier attempt sent.
 *
 * Item: pk `EXEC#{executionId}`, sk `CONN#{userId}#{connectionId}`, TTL `expiresAt` (7 days: far beyond any run of
 * this workflow). Lifecycle per attempt: begin() (conditional UpdateItem, refused once the marker is `done`) →
 * beforeSend() for every sync request (counts it and remembers the connection's `last_update` before it, BEFORE the
 * request leaves) → complete() once the outcome is known. A marker left with `pending` means a request was sent and
 * its answer lost (timeout, reset, 5xx): the next attempt reads the connection before deciding anything.
 * Only single-item conditional writes: works on dynalite and DynamoDB alike.
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

/** A sync request sent in an earlier attempt whose answer never arrived. */
export interface PendingSync {
  /** The connection's last successful update (ISO, or null) when the request left. */
  lastUpdateBefore: string | null;
  sentAt: string;
}

export type MarkerBegin =
  | { done: false; attempt: number; syncsSent: number; pending?: PendingSync }
  | { done: true; result: CompletedSync; syncsSent: number };

export interface ExecutionMarkers {
  begin(executionId: string, userId: number, connectionId: number): Promise<MarkerBegin>;
  /** Records one sync request about to be sent; returns the execution's count for the connection, this one included. */
  beforeSend(executionId: string, userId: number, connectionId: number, pending: PendingSync): Promise<number>;
  complete(executionId: string, userId: number, connectionId: number, result: CompletedSync): Promise<void>;
  readonly requestCount: number;
}

function count(value: unknown): number {
  return typeof value === 'number' ? value : 0;
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
        const begun: MarkerBegin = {
          done: false,
          attempt: typeof attributes.attempts === 'number' ? attributes.attempts : 1,
          syncsSent: count(attributes.syncsSent),
        };
        const pending = attributes.pending as PendingSync | undefined;
        if (pending !== undefined) begun.pending = pending;
        return begun;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        // dynalite lacks ReturnValuesOnConditionCheckFailure, so read the finished marker (rare: retries only).
        const { Item } = await send('GetItem', () =>
          client.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true })),
        );
        return { done: true, result: (Item?.result ?? {}) as CompletedSync, syncsSent: count(Item?.syncsSent) };
      }
    },

    async beforeSend(executionId, userId, connectionId, pending) {
      const response = await send('UpdateItem', () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: tableKeys.executionMarker(executionId, userId, connectionId),
            UpdateExpression:
              'SET syncsSent = if_not_exists(syncsSent, :zero) + :one, pending = :pending, expiresAt = :exp',
            ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':pending': pending, ':exp': expiresAt() },
            ReturnValues: 'UPDATED_NEW',
          }),
        ),
      );
      return count(response.Attributes?.syncsSent);
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
            UpdateExpression:
              'SET #status = :done, #result = :result, completedAt = :now, expiresAt = :exp REMOVE pending',
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
