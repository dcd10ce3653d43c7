/**
 * Powens webhook deliveries by `id_webhook_data` (pk `WEBHOOK#{tenantId}`, sk `ID#{id}`, TTL 7 days): Powens retries
 * a delivery until it gets a 2xx, so the same id can arrive several times. begin() is a conditional put refused once
 * the delivery is `done`; a delivery that failed half-way stays `processing` and its redelivery runs again (every
 * write it makes is idempotent or monotonic). complete() marks it done.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditionalPut, dynamoSender } from './errors';
import { tableKeys } from './table-schema';

const DELIVERY_TTL_SECONDS = 7 * 24 * 60 * 60;

export interface WebhookDeliveries {
  begin(tenantId: string, idWebhookData: number, event: string): Promise<'new' | 'duplicate'>;
  complete(tenantId: string, idWebhookData: number, summary: Record<string, unknown>): Promise<void>;
}

export function createWebhookDeliveries(options: {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: () => Date;
}): WebhookDeliveries {
  const { client, tableName } = options;
  const clock = options.clock ?? (() => new Date());
  const dynamo = dynamoSender(tableName);
  const expiresAt = () => Math.floor(clock().getTime() / 1000) + DELIVERY_TTL_SECONDS;
  return {
    async begin(tenantId, idWebhookData, event) {
      const written = await conditionalPut(dynamo, client, {
        TableName: tableName,
        Item: {
          ...tableKeys.webhookDelivery(tenantId, idWebhookData),
          itemType: 'webhook',
          event,
          status: 'processing',
          receivedAt: clock().toISOString(),
          expiresAt: expiresAt(),
        },
        ConditionExpression: 'attribute_not_exists(pk) OR #status <> :done',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':done': 'done' },
      });
      return written ? 'new' : 'duplicate';
    },
    async complete(tenantId, idWebhookData, summary) {
      await dynamo.send('UpdateItem', () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: tableKeys.webhookDelivery(tenantId, idWebhookData),
            UpdateExpression: 'SET #status = :done, completedAt = :now, summary = :summary',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':done': 'done', ':now': clock().toISOString(), ':summary': summary },
          }),
        ),
      );
    },
  };
}
