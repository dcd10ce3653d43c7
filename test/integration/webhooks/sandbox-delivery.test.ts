/**
 * The webhook path end to end on loopback: the Powens sandbox signs and POSTs CONNECTION_SYNCED after every sync
 * (its own scheduled one included) to the real webhook handler behind the local receiver, which stores into dynalite.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { createConnectionHealthStore } from '../../../lambdas/core/adapters/dynamodb/connection-health';
import { createPsd2Budget } from '../../../lambdas/core/adapters/dynamodb/psd2-budget';
import { createUserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import { createWebhookDeliveries } from '../../../lambdas/core/adapters/dynamodb/webhook-deliveries';
import {
  createFamilyOfficeDataset,
  FAMILY_OFFICE_IDS,
  FAMILY_OFFICE_REFERENCE_NOW,
  startPowensSandbox,
} from '../../../infra/local/powens-sandbox';
import { startWebhookReceiver } from '../../../infra/local/webhook-receiver';
import { useDynalite } from '../../support/dynalite';

const TENANT = 'family-office';
const C = FAMILY_OFFICE_IDS.connections;

describe('sandbox → signed CONNECTION_SYNCED → local receiver (real handler) → dynalite', () => {
  const dynamo = useDynalite();

  it("Powens' own daily sync arrives as a webhook: balances stored, health recorded, the bank access counted", async () => {
    const tableName = 'sandbox-webhooks';
    await dynamo().createTable(tableName);
    const clock = () => new Date(FAMILY_OFFICE_REFERENCE_NOW);
    const table = { client: dynamo().doc, tableName };
    // The receiver starts first (the sandbox needs its URL); it reads the sandbox's secret once that exists.
    const holder: { secret?: Awaited<ReturnType<typeof startPowensSandbox>>['secret'] } = {};
    const deps = {
      tenantId: TENANT,
      secrets: {
        description: 'sandbox secret',
        load: async () => holder.secret ?? Promise.reject(new Error('not started')),
      },
      store: createBalanceStore({ ...table, clock }),
      health: createConnectionHealthStore(table),
      budget: createPsd2Budget({ ...table, clock }),
      deliveries: createWebhookDeliveries({ ...table, clock }),
      users: createUserRegistry({ ...table, tenantId: TENANT }),
      clock,
    };
    const receiver = await startWebhookReceiver({ deps });
    const sandbox = await startPowensSandbox({
      dataset: createFamilyOfficeDataset(),
      clock,
      webhooks: { baseUrl: receiver.baseUrl },
    });
    holder.secret = sandbox.secret;
    try {
      await sandbox.autoSync(C.claireBnp);
      await sandbox.flushWebhooks();
      expect(sandbox.bankSyncs()).toEqual([
        expect.objectContaining({ connectionId: C.claireBnp, trigger: 'auto', psuRequested: false }),
      ]);
      expect(sandbox.webhookDeliveries()).toEqual([
        expect.objectContaining({ event: 'CONNECTION_SYNCED', connectionId: C.claireBnp, attempt: 1, status: 200 }),
      ]);
      const latest = await deps.store.listLatest(TENANT);
      const truth = sandbox
        .accounts(C.claireBnp)
        .filter((a) => a.disabled === null && a.deleted === null && a.balance !== null);
      expect(latest.map((r) => [r.accountId, r.currentBalance]).sort()).toEqual(
        truth.map((a) => [String(a.id), a.balance]).sort(),
      );
      expect(await deps.health.list(TENANT)).toEqual([
        expect.objectContaining({ connectionId: C.claireBnp, state: null, source: 'webhook' }),
      ]);
      const { Items } = await dynamo().doc.send(new ScanCommand({ TableName: tableName }));
      expect((Items ?? []).filter((i) => String(i.sk).startsWith('SLOT#'))).toEqual([
        expect.objectContaining({
          pk: `PSD2#${FAMILY_OFFICE_IDS.users.claire}#${C.claireBnp}`,
          executionId: 'observed',
        }),
      ]);
    } finally {
      await sandbox.close();
      await receiver.close();
    }
  });
});
