/**
 * The local receiver (`npm run webhooks`, `npm start`) over real HTTP on loopback: what API Gateway does in front of
 * the Lambda in AWS. Deliveries that never reach the handler's logic must still get an HTTP answer.
 */
import { createUserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { createConnectionHealthStore } from '../../../lambdas/core/adapters/dynamodb/connection-health';
import { createPsd2Budget } from '../../../lambdas/core/adapters/dynamodb/psd2-budget';
import { createWebhookDeliveries } from '../../../lambdas/core/adapters/dynamodb/webhook-deliveries';
import { MAX_WEBHOOK_BODY_BYTES } from '../../../lambdas/core/domain/powens-webhooks';
import { noMetrics, silentLogger } from '../../../lambdas/core/observability';
import { startWebhookReceiver, type WebhookReceiver } from '../../../infra/local/webhook-receiver';
import { useDynalite } from '../../support/dynalite';

describe('local webhook receiver (loopback HTTP)', () => {
  const dynamo = useDynalite();
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    const tableName = 'local-receiver';
    await dynamo().createTable(tableName);
    const table = { client: dynamo().doc, tableName };
    receiver = await startWebhookReceiver({
      deps: {
        tenantId: 'martin-family',
        secrets: {
          description: 'test',
          load: async () => ({ clientId: 'c', clientSecret: 's', users: [], webhookSecret: 'whsec-0123456789abcdef' }),
        },
        store: createBalanceStore(table),
        health: createConnectionHealthStore(table),
        budget: createPsd2Budget(table),
        deliveries: createWebhookDeliveries(table),
        users: createUserRegistry({ ...table, tenantId: 'martin-family' }),
        logger: silentLogger,
        metrics: noMetrics,
      },
      quiet: true,
    });
  });
  afterAll(() => receiver.close());

  it('a body over the limit is answered 413, not a reset connection', async () => {
    const response = await fetch(`${receiver.baseUrl}/CONNECTION_SYNCED`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 64 * 1024, 0x20),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'PayloadTooLarge' });
  });

  it('a malformed percent-encoding in the event is 404 like any unknown event, not 500', async () => {
    const response = await fetch(`${receiver.baseUrl}/%E0%A4%A`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
  });
});
