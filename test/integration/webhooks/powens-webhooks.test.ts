/**
 * Powens webhook receiver (domain) against real dynalite and the real adapters: signature vectors, idempotency,
 * ordering against the workflow's writes, gzip, deletions, and a seeded fuzz proving that bad deliveries write nothing.
 */
import { gzipSync } from 'node:zlib';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createBalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { createConnectionHealthStore } from '../../../lambdas/core/adapters/dynamodb/connection-health';
import { createPsd2Budget } from '../../../lambdas/core/adapters/dynamodb/psd2-budget';
import { createUserRegistry, type UserRegistry } from '../../../lambdas/core/adapters/dynamodb/user-registry';
import { createWebhookDeliveries } from '../../../lambdas/core/adapters/dynamodb/webhook-deliveries';
import {
  generateLocalKey,
  localKeyProvider,
  parseLocalKey,
} from '../../../lambdas/core/adapters/keys/token-key-provider';
import { signPowensWebhook } from '../../../lambdas/core/adapters/powens/webhook-signature';
import type { PowensSecret } from '../../../lambdas/core/adapters/secrets/powens-secret';
import {
  handlePowensWebhook,
  type WebhookDeps,
  type WebhookRequest,
} from '../../../lambdas/core/domain/powens-webhooks';
import { ServiceUnavailableError } from '../../../lambdas/core/errors';
import { toBalanceView } from '../../../lambdas/core/domain/positions';
import { WEBHOOK_TABLE_ACTIONS } from '../../../infra/stack';
import { useDynalite } from '../../support/dynalite';

const TENANT = 'martin-family';
const SECRET = 'whsec-0123456789abcdef-test-only';
const NOW = new Date('2025-06-02T06:00:00.000Z');
const PATH = (event: string) => `/v1/webhooks/powens/${event}`;

const powensSecret: PowensSecret = {
  clientId: 'c',
  clientSecret: 's',
  users: [
    { userId: 1001, token: 't1' },
    { userId: 1003, token: 't3' },
  ],
  webhookSecret: SECRET,
};

function account(id: number, balance: number, lastUpdate: string) {
  return {
    id,
    id_connection: 2001,
    id_user: 1001,
    name: `Account ${id}`,
    balance,
    coming: null,
    currency: { id: 'EUR', name: 'Euro', symbol: '€', precision: 2 },
    type: 'checking',
    last_update: lastUpdate,
    disabled: null,
    deleted: null,
  };
}

function synced(idWebhookData: number, lastUpdate: string, balances: [number, number], state: string | null = null) {
  return {
    id_webhook_data: idWebhookData,
    user: { id: 1001, signin: '2024-01-01 00:00:00' },
    connection: {
      id: 2001,
      id_user: 1001,
      state,
      last_update: lastUpdate,
      next_try: '2025-06-03 08:00:00',
      active: true,
      accounts: [account(3101, balances[0], lastUpdate), account(3102, balances[1], lastUpdate)],
    },
  };
}

function signed(
  event: string,
  body: Buffer | object,
  options: { date?: Date; secret?: string; path?: string; gzip?: boolean } = {},
): WebhookRequest {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const date = (options.date ?? NOW).toISOString();
  const signature = signPowensWebhook({
    secret: options.secret ?? SECRET,
    path: options.path ?? PATH(event),
    date,
    body: raw,
  });
  return {
    event,
    path: PATH(event),
    headers: {
      'bi-signature': signature,
      'bi-signature-date': date,
      'content-type': 'application/json',
      ...(options.gzip ? { 'content-encoding': 'gzip' } : {}),
    },
    body: options.gzip ? gzipSync(raw) : raw,
  };
}

describe('Powens webhook receiver (dynalite + real adapters)', () => {
  const dynamo = useDynalite();
  let tableName: string;
  let deps: WebhookDeps;
  let n = 0;
  beforeEach(async () => {
    tableName = `webhooks-${++n}`;
    await dynamo().createTable(tableName);
    const table = { client: dynamo().doc, tableName };
    const clock = () => new Date(NOW);
    deps = {
      tenantId: TENANT,
      secrets: { description: 'test secret', load: async () => powensSecret },
      store: createBalanceStore({ ...table, clock }),
      health: createConnectionHealthStore(table),
      budget: createPsd2Budget({ ...table, clock }),
      deliveries: createWebhookDeliveries({ ...table, clock }),
      // The receiver reads the registry without a token key: statuses only.
      users: createUserRegistry({ ...table, tenantId: TENANT, clock }),
      clock,
    };
  });

  async function scan(): Promise<Record<string, unknown>[]> {
    const { Items } = await dynamo().doc.send(new ScanCommand({ TableName: tableName }));
    return (Items ?? []) as Record<string, unknown>[];
  }

  describe('signature vectors: only a valid one is processed; every other one is 401 with nothing written', () => {
    const body = synced(1, '2025-06-02 07:55:00', [100, 200]);
    const valid = () => signed('CONNECTION_SYNCED', body);
    it.each<[string, () => WebhookRequest]>([
      ['wrong secret', () => signed('CONNECTION_SYNCED', body, { secret: 'another-secret-of-16+chars' })],
      [
        'one body byte changed',
        () => {
          const request = valid();
          const bytes = Buffer.from(request.body);
          bytes[bytes.indexOf('100')] = '9'.charCodeAt(0);
          return { ...request, body: bytes };
        },
      ],
      ['path changed (stage prefix missing)', () => ({ ...valid(), path: '/webhooks/powens/CONNECTION_SYNCED' })],
      ['date 6 minutes old', () => signed('CONNECTION_SYNCED', body, { date: new Date(NOW.getTime() - 6 * 60_000) })],
      ['date 6 minutes ahead', () => signed('CONNECTION_SYNCED', body, { date: new Date(NOW.getTime() + 6 * 60_000) })],
      [
        'signature header missing',
        () => {
          const { 'bi-signature': _dropped, ...headers } = valid().headers;
          return { ...valid(), headers };
        },
      ],
      [
        'date header missing',
        () => {
          const { 'bi-signature-date': _dropped, ...headers } = valid().headers;
          return { ...valid(), headers };
        },
      ],
      ['signature not base64', () => ({ ...valid(), headers: { ...valid().headers, 'bi-signature': '%%%' } })],
    ])('%s → 401', async (_name, request) => {
      const response = await handlePowensWebhook(request(), deps);
      expect(response).toMatchObject({ status: 401, body: { error: 'Unauthenticated' } });
      expect(await scan()).toEqual([]);
    });

    it('valid → 200, balances stored, health recorded', async () => {
      const response = await handlePowensWebhook(valid(), deps);
      expect(response).toMatchObject({ status: 200, body: { status: 'processed', balances: 2, latestAdvanced: 2 } });
      const latest = await deps.store.listLatest(TENANT);
      expect(latest.map((r) => [r.accountId, r.currentBalance])).toEqual([
        ['3101', 100],
        ['3102', 200],
      ]);
      expect(await deps.health.list(TENANT)).toEqual([
        expect.objectContaining({ userId: 1001, connectionId: 2001, state: null, needsUser: false, source: 'webhook' }),
      ]);
    });

    it('a date 4 minutes old is still inside the window', async () => {
      const response = await handlePowensWebhook(
        signed('CONNECTION_SYNCED', body, { date: new Date(NOW.getTime() - 4 * 60_000) }),
        deps,
      );
      expect(response.status).toBe(200);
    });

    it('BI-Signature-Date is UTC whatever the machine time zone; a date that is not ISO 8601 is 401', async () => {
      const savedTz = process.env.TZ;
      process.env.TZ = 'Pacific/Kiritimati'; // UTC+14: a zone-less date read as local time is 14 h off
      try {
        const zoneless = (date: string) => {
          const raw = Buffer.from(JSON.stringify(body));
          const signature = signPowensWebhook({ secret: SECRET, path: PATH('CONNECTION_SYNCED'), date, body: raw });
          return {
            ...valid(),
            headers: { 'bi-signature': signature, 'bi-signature-date': date },
            body: raw,
          };
        };
        expect((await handlePowensWebhook(zoneless('2025-06-02T06:00:00.577831'), deps)).status).toBe(200);
        for (const date of ['1', 'Mon, 02 Jun 2025 06:00:00 GMT', '2025-06-02']) {
          expect(await handlePowensWebhook(zoneless(date), deps)).toMatchObject({
            status: 401,
            body: { message: 'BI-Signature-Date is not an ISO 8601 date.' },
          });
        }
      } finally {
        if (savedTz === undefined) delete process.env.TZ;
        else process.env.TZ = savedTz;
      }
    });

    it('no webhookSecret configured → 401 for everything', async () => {
      const { webhookSecret: _none, ...withoutWebhookSecret } = powensSecret;
      const response = await handlePowensWebhook(valid(), {
        ...deps,
        secrets: { description: 'x', load: async () => withoutWebhookSecret },
      });
      expect(response.status).toBe(401);
      expect(await scan()).toEqual([]);
    });
  });

  it('a duplicate delivery (same id_webhook_data) is stored once', async () => {
    const request = signed('CONNECTION_SYNCED', synced(7, '2025-06-02 07:55:00', [100, 200]));
    expect((await handlePowensWebhook(request, deps)).body.status).toBe('processed');
    const before = await scan();
    const again = await handlePowensWebhook(request, deps);
    expect(again).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await scan()).toEqual(before);
    expect(before.filter((i) => String(i.pk).startsWith('ACCOUNT#'))).toHaveLength(2);
    expect(before.filter((i) => String(i.pk).startsWith('WEBHOOK#'))).toEqual([
      expect.objectContaining({ status: 'done', sk: 'ID#7' }),
    ]);
  });

  it('a delivery that fails half-way answers 503 and its redelivery runs again (not a duplicate): nothing lost', async () => {
    // dynalite cannot throttle on demand: the real health store, failing its first write (declared fault injection).
    let failures = 1;
    const flaky = {
      ...deps.health,
      record: async (...args: Parameters<WebhookDeps['health']['record']>) => {
        if (failures-- > 0) throw new ServiceUnavailableError('DynamoDB PutItem failed transiently (injected).');
        return deps.health.record(...args);
      },
    };
    const request = signed('CONNECTION_SYNCED', synced(8, '2025-06-02 07:55:00', [100, 200]));
    const first = await handlePowensWebhook(request, { ...deps, health: flaky });
    expect(first).toMatchObject({ status: 503, body: { error: 'ServiceUnavailable' } });
    expect(await deps.health.list(TENANT)).toEqual([]);
    const again = await handlePowensWebhook(request, { ...deps, health: flaky });
    expect(again).toMatchObject({ status: 200, body: { status: 'processed', balances: 2 } });
    expect(await deps.health.list(TENANT)).toEqual([expect.objectContaining({ connectionId: 2001 })]);
    expect((await handlePowensWebhook(request, deps)).body.status).toBe('duplicate');
  });

  it('an older webhook arriving after a newer snapshot never regresses latest (history keeps both)', async () => {
    await handlePowensWebhook(signed('CONNECTION_SYNCED', synced(11, '2025-06-02 07:55:00', [150, 250])), deps);
    const late = await handlePowensWebhook(
      signed('CONNECTION_SYNCED', synced(10, '2025-06-01 07:55:00', [100, 200])),
      deps,
    );
    expect(late).toMatchObject({ status: 200, body: { latestAdvanced: 0, latestStale: 2 } });
    expect((await deps.store.listLatest(TENANT)).map((r) => r.currentBalance)).toEqual([150, 250]);
    expect(await deps.store.queryHistory(TENANT, '3101')).toHaveLength(2);
  });

  it('a late redelivery of an older sync (signed later, older last_update) does not regress connection health', async () => {
    // 07:00 sync failed (SCARequired, last success 06:00); its delivery is retried only after the holder reconnected
    // and the workflow saw the 07:50 success. Powens signs each attempt anew, so the signing date says nothing.
    await deps.health.record(TENANT, {
      userId: 1001,
      connectionId: 2001,
      state: null,
      lastUpdate: '2025-06-02T05:50:00.000Z',
      nextTry: null,
      needsUser: false,
      observedAt: new Date(NOW.getTime() - 60_000).toISOString(),
      source: 'workflow',
    });
    const late = await handlePowensWebhook(
      signed('CONNECTION_SYNCED', synced(12, '2025-06-02 06:00:00', [100, 200], 'SCARequired')),
      deps,
    );
    expect(late.status).toBe(200);
    expect(await deps.health.list(TENANT)).toEqual([
      expect.objectContaining({ state: null, needsUser: false, lastUpdate: '2025-06-02T05:50:00.000Z' }),
    ]);
  });

  it('a deleted connection stays deleted: a late redelivery of an earlier sync brings back neither health nor balances', async () => {
    await handlePowensWebhook(signed('CONNECTION_SYNCED', synced(13, '2025-06-02 07:00:00', [100, 200])), deps);
    await handlePowensWebhook(signed('CONNECTION_DELETED', { id_webhook_data: 14, id: 2001, id_user: 1001 }), deps);
    // The same sync state as before, but a different delivery (another attempt of an earlier one, signed later).
    const late = signed('CONNECTION_SYNCED', synced(15, '2025-06-02 07:00:00', [100, 200], 'SCARequired'), {
      date: new Date(NOW.getTime() + 60_000),
    });
    expect((await handlePowensWebhook(late, deps)).status).toBe(200);
    expect(await deps.health.list(TENANT)).toEqual([expect.objectContaining({ connectionId: 2001, deleted: true })]);
    expect(await deps.store.listLatest(TENANT)).toEqual([]);
  });

  it('a 5 MB gzip body is accepted (signature over the inflated JSON, or over the compressed bytes)', async () => {
    const body = synced(20, '2025-06-02 07:55:00', [100, 200]);
    // Powens attaches every new transaction: pad with a large transactions list, as a first sync would.
    (body.connection.accounts[0] as Record<string, unknown>).transactions = Array.from({ length: 53_000 }, (_, i) => ({
      id: i + 1,
      wording: `CARTE X${String(i).padStart(6, '0')} ACHAT SUPERMARCHE PARIS 15E`,
      value: -12.5,
      date: '2025-06-01',
    }));
    const json = Buffer.from(JSON.stringify(body));
    expect(json.length).toBeGreaterThan(5 * 1024 * 1024);
    const overInflated = signed('CONNECTION_SYNCED', json, { gzip: true });
    expect((await handlePowensWebhook(overInflated, deps)).status).toBe(200);

    const compressed = gzipSync(Buffer.from(JSON.stringify({ ...body, id_webhook_data: 21 })));
    const date = NOW.toISOString();
    const overCompressed: WebhookRequest = {
      event: 'CONNECTION_SYNCED',
      path: PATH('CONNECTION_SYNCED'),
      headers: {
        'content-encoding': 'gzip',
        'bi-signature-date': date,
        'bi-signature': signPowensWebhook({ secret: SECRET, path: PATH('CONNECTION_SYNCED'), date, body: compressed }),
      },
      body: compressed,
    };
    expect((await handlePowensWebhook(overCompressed, deps)).status).toBe(200);
  });

  it('a body over 5 MB is refused with 413 before anything else', async () => {
    const request = signed('CONNECTION_SYNCED', Buffer.alloc(5 * 1024 * 1024 + 1, 0x20));
    expect((await handlePowensWebhook(request, deps)).status).toBe(413);
    expect(await scan()).toEqual([]);
  });

  it('a connection needing the user: health says so, its balances are served stale until a healthy sync', async () => {
    await handlePowensWebhook(signed('CONNECTION_SYNCED', synced(30, '2025-06-02 07:00:00', [100, 200])), deps);
    const blocked = signed('CONNECTION_SYNCED', synced(31, '2025-06-02 07:00:00', [100, 200], 'SCARequired'), {
      date: new Date(NOW.getTime() + 60_000),
    });
    expect((await handlePowensWebhook(blocked, deps)).body).toMatchObject({
      needsUser: true,
      latestConnectionStateChanged: 2,
    });
    expect(await deps.health.list(TENANT, { needsUser: true })).toEqual([
      expect.objectContaining({ connectionId: 2001, needsUser: true, needsUserReason: 'SCARequired' }),
    ]);
    const policy = { maxAgeMinutes: 360, now: NOW };
    expect((await deps.store.listLatest(TENANT)).map((r) => toBalanceView(r, policy))).toEqual([
      expect.objectContaining({ stale: true, staleReasons: ['needs_user'] }),
      expect.objectContaining({ stale: true, staleReasons: ['needs_user'] }),
    ]);

    const healthy = signed('CONNECTION_SYNCED', synced(32, '2025-06-02 07:59:00', [110, 210]), {
      date: new Date(NOW.getTime() + 120_000),
    });
    await handlePowensWebhook(healthy, deps);
    expect(await deps.health.list(TENANT, { needsUser: true })).toEqual([]);
    expect((await deps.store.listLatest(TENANT)).map((r) => toBalanceView(r, policy).stale)).toEqual([false, false]);
  });

  it("counts Powens' own sync against the PSD2 budget", async () => {
    const response = await handlePowensWebhook(
      signed('CONNECTION_SYNCED', synced(40, '2025-06-02 07:00:00', [1, 2])),
      deps,
    );
    expect(response.body.psd2).toBe('counted');
    const slots = (await scan()).filter((i) => String(i.sk).startsWith('SLOT#'));
    expect(slots).toEqual([expect.objectContaining({ pk: 'PSD2#1001#2001', executionId: 'observed' })]);
  });

  it('ACCOUNT_DISABLED, CONNECTION_DELETED and USER_DELETED take accounts out of positions; history stays', async () => {
    await handlePowensWebhook(signed('CONNECTION_SYNCED', synced(50, '2025-06-02 07:00:00', [100, 200])), deps);
    const disabled = signed('ACCOUNT_DISABLED', {
      id_webhook_data: 51,
      id: 3101,
      id_connection: 2001,
      id_user: 1001,
      disabled: '2025-06-02 07:30:00',
    });
    expect((await handlePowensWebhook(disabled, deps)).body).toMatchObject({ accountsExcluded: 1 });
    expect((await deps.store.listLatest(TENANT)).map((r) => r.accountId)).toEqual(['3102']);

    const deleted = signed('CONNECTION_DELETED', { id_webhook_data: 52, id: 2001, id_user: 1001 });
    expect((await handlePowensWebhook(deleted, deps)).body).toMatchObject({
      accountsExcluded: 1,
      connectionsDeleted: 1,
    });
    expect(await deps.store.listLatest(TENANT)).toEqual([]);
    expect(await deps.store.listLatest(TENANT, { includeExcluded: true })).toHaveLength(2);
    expect(await deps.store.queryHistory(TENANT, '3101')).toHaveLength(1);
    expect(await deps.health.list(TENANT)).toEqual([
      expect.objectContaining({ connectionId: 2001, deleted: true, needsUser: false }),
    ]);

    const userDeleted = signed('USER_DELETED', { id_webhook_data: 53, id: 1001, signin: '2024-01-01 00:00:00' });
    expect((await handlePowensWebhook(userDeleted, deps)).status).toBe(200);
  });

  it('USER_DELETED for a user only the Powens secret lists warns the operator to remove it from the secret', async () => {
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (m: string) => void warnings.push(m) };
    const response = await handlePowensWebhook(signed('USER_DELETED', { id_webhook_data: 54, id: 1001 }), {
      ...deps,
      logger,
    });
    expect(response.body).toMatchObject({ status: 'processed', userDisabled: false });
    expect(warnings).toEqual([expect.stringContaining('remove it from the Powens secret')]);
  });

  it('calls exactly the DynamoDB actions its role allows (infra/stack.ts WEBHOOK_TABLE_ACTIONS)', async () => {
    dynamo().operations.length = 0;
    await handlePowensWebhook(signed('CONNECTION_SYNCED', synced(70, '2025-06-02 07:00:00', [1, 2])), deps);
    await handlePowensWebhook(
      signed('ACCOUNT_DISABLED', { id_webhook_data: 71, id: 3101, id_user: 1001, disabled: null }),
      deps,
    );
    await handlePowensWebhook(signed('USER_DELETED', { id_webhook_data: 72, id: 1001 }), deps);
    expect([...new Set(dynamo().operations.map((o) => `dynamodb:${o}`))].sort()).toEqual(
      [...WEBHOOK_TABLE_ACTIONS].sort(),
    );
  });

  it('a user not configured for this tenant → 202 ignored, nothing written', async () => {
    const body = synced(60, '2025-06-02 07:00:00', [1, 2]);
    body.user.id = 4242;
    expect(await handlePowensWebhook(signed('CONNECTION_SYNCED', body), deps)).toMatchObject({
      status: 202,
      body: { status: 'ignored' },
    });
    expect(await scan()).toEqual([]);
  });

  describe("only users of this tenant are written: the secret's list and the user registry, one rule", () => {
    const registryOnly: PowensSecret = { clientId: 'c', clientSecret: 's', users: [], webhookSecret: SECRET };
    let registry: UserRegistry;
    let ignored: number;
    let logged: string;
    beforeEach(() => {
      ignored = 0;
      logged = '';
      const capture = (message: string, ...attributes: Record<string, unknown>[]) => {
        logged += `${message} ${JSON.stringify(attributes)}\n`;
      };
      deps = {
        ...deps,
        secrets: { description: 'registry-only secret', load: async () => registryOnly },
        logger: { debug: capture, info: capture, warn: capture, error: capture },
        metrics: { count: (name, value) => (ignored += name === 'WebhookIgnored' ? value : 0) },
      };
      registry = createUserRegistry({
        client: dynamo().doc,
        tableName,
        tenantId: TENANT,
        keys: localKeyProvider(parseLocalKey(generateLocalKey(), 'test')),
        clock: () => new Date(NOW),
      });
    });
    const written = async () => (await scan()).filter((item) => !String(item.pk).startsWith('USERS#'));

    it('a registry-only tenant ignores (202) a user it never registered: nothing written, counted, logged', async () => {
      await registry.put({ userId: 1003, token: 'token-of-another-user-0123' });
      const response = await handlePowensWebhook(
        signed('CONNECTION_SYNCED', synced(80, '2025-06-02 07:00:00', [1, 2])),
        deps,
      );
      expect(response).toMatchObject({ status: 202, body: { status: 'ignored' } });
      expect(await written()).toEqual([]);
      expect(ignored).toBe(1);
      expect(logged).toContain('1001');
      expect(logged).not.toContain(SECRET);
    });

    it('an active registered user is processed; a disabled or deleted one is ignored', async () => {
      await registry.put({ userId: 1001, token: 'token-claire-0123456789' });
      const first = signed('CONNECTION_SYNCED', synced(81, '2025-06-02 07:00:00', [1, 2]));
      expect(await handlePowensWebhook(first, deps)).toMatchObject({ status: 200, body: { status: 'processed' } });
      const before = await written();

      await registry.put({ userId: 1001, token: 'token-claire-0123456789', status: 'disabled' });
      const second = signed('CONNECTION_SYNCED', synced(82, '2025-06-02 07:30:00', [5, 6]));
      expect(await handlePowensWebhook(second, deps)).toMatchObject({ status: 202, body: { status: 'ignored' } });
      await registry.delete(1001);
      const third = signed('CONNECTION_SYNCED', synced(83, '2025-06-02 07:40:00', [7, 8]));
      expect(await handlePowensWebhook(third, deps)).toMatchObject({ status: 202, body: { status: 'ignored' } });
      expect(await written()).toEqual(before);
      expect(ignored).toBe(2);
    });

    it('a registry item wins over the secret: a user the secret lists but the registry disabled is ignored', async () => {
      deps = { ...deps, secrets: { description: 'secret with users', load: async () => powensSecret } };
      await registry.put({ userId: 1001, token: 'token-claire-0123456789', status: 'disabled' });
      const response = await handlePowensWebhook(
        signed('CONNECTION_SYNCED', synced(84, '2025-06-02 07:00:00', [1, 2])),
        deps,
      );
      expect(response).toMatchObject({ status: 202, body: { status: 'ignored' } });
      expect(await written()).toEqual([]);
    });

    it('USER_DELETED disables the user in the registry and drops its dead token: nothing refreshes it again', async () => {
      await registry.put({ userId: 1001, token: 'token-claire-0123456789', label: 'Claire' });
      const response = await handlePowensWebhook(signed('USER_DELETED', { id_webhook_data: 95, id: 1001 }), deps);
      expect(response).toMatchObject({ status: 200, body: { status: 'processed', userDisabled: true } });
      expect(await registry.get(1001)).toMatchObject({
        status: 'disabled',
        label: 'Claire',
        powensDeletedAt: NOW.toISOString(),
      });
      const [item] = (await scan()).filter((i) => String(i.pk).startsWith('USERS#'));
      expect(item).not.toHaveProperty('tokenCiphertext');
      await expect(registry.credentials()).resolves.toEqual([]);
      const late = signed('CONNECTION_SYNCED', synced(96, '2025-06-02 07:00:00', [1, 2]));
      expect((await handlePowensWebhook(late, deps)).status).toBe(202);
      // An operator may register the id again (with a token): the mark goes.
      await registry.put({ userId: 1001, token: 'token-claire-new-0123456' });
      expect(await registry.get(1001)).not.toHaveProperty('powensDeletedAt');
    });

    it('deletions for a user not active here touch only what is stored: its balances leave positions, nothing is created', async () => {
      await registry.put({ userId: 1001, token: 'token-claire-0123456789' });
      await handlePowensWebhook(signed('CONNECTION_SYNCED', synced(85, '2025-06-02 07:00:00', [1, 2])), deps);
      // The operator removes the family, then Powens deletes its connection: its balances must not stay in positions.
      await registry.delete(1001);
      const deleted = signed('CONNECTION_DELETED', { id_webhook_data: 86, id: 2001, id_user: 1001 });
      expect(await handlePowensWebhook(deleted, deps)).toMatchObject({
        status: 200,
        body: { accountsExcluded: 2, connectionsDeleted: 1 },
      });
      expect(await deps.store.listLatest(TENANT)).toEqual([]);
      const before = await written();
      // A connection and a user this tenant never stored: no health item, no exclusion, only the dedup record.
      const strangers = [
        signed('CONNECTION_DELETED', { id_webhook_data: 87, id: 9001, id_user: 4242 }),
        signed('USER_DELETED', { id_webhook_data: 88, id: 4242 }),
        signed('ACCOUNT_DISABLED', { id_webhook_data: 89, id: 9101, id_user: 4242, disabled: null }),
      ];
      for (const request of strangers) {
        expect(await handlePowensWebhook(request, deps)).toMatchObject({
          status: 200,
          body: { accountsExcluded: 0 },
        });
      }
      expect((await written()).filter((item) => !String(item.pk).startsWith('WEBHOOK#'))).toEqual(
        before.filter((item) => !String(item.pk).startsWith('WEBHOOK#')),
      );
      expect(await deps.health.list(TENANT)).toEqual([expect.objectContaining({ connectionId: 2001, deleted: true })]);
    });
  });

  it('an unsupported event → 404', async () => {
    expect((await handlePowensWebhook(signed('ACCOUNT_SYNCED', { id_webhook_data: 1 }), deps)).status).toBe(404);
  });

  it('1,200 seeded fuzzed deliveries (bodies and headers) → every one 4xx, nothing written', async () => {
    let seed = 0x9e3779b9;
    const random = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const junk = [null, -1, 0, 1.5, '', 'x'.repeat(300), [], {}, true, '2001', { id: 'x' }, 1e308, 'NaN'];
    const events = ['CONNECTION_SYNCED', 'ACCOUNT_DISABLED', 'CONNECTION_DELETED', 'USER_DELETED'] as const;
    const valid = (event: (typeof events)[number]): Record<string, unknown> =>
      event === 'CONNECTION_SYNCED'
        ? synced(1, '2025-06-02 07:00:00', [1, 2])
        : event === 'ACCOUNT_DISABLED'
          ? { id_webhook_data: 1, id: 3101, id_connection: 2001, id_user: 1001, disabled: '2025-06-02 07:00:00' }
          : event === 'CONNECTION_DELETED'
            ? { id_webhook_data: 1, id: 2001, id_user: 1001 }
            : { id_webhook_data: 1, id: 1001 };
    /** Every mutation makes the delivery invalid by construction (bad auth, framing, JSON or a required field). */
    const mutations: ((event: (typeof events)[number]) => WebhookRequest)[] = [
      (event) => ({
        ...signed(event, valid(event)),
        headers: { 'bi-signature': String(pick(junk)), 'bi-signature-date': NOW.toISOString() },
      }),
      (event) => ({
        ...signed(event, valid(event)),
        headers: { ...signed(event, valid(event)).headers, 'bi-signature-date': String(pick(junk)) },
      }),
      (event) => {
        const request = signed(event, valid(event));
        const bytes = Buffer.from(request.body);
        const at = Math.floor(random() * bytes.length);
        bytes[at] = (bytes[at] as number) ^ (1 + Math.floor(random() * 255));
        return { ...request, body: bytes };
      },
      (event) =>
        signed(
          event,
          Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256))),
        ),
      (event) => {
        const text = JSON.stringify(valid(event));
        return signed(event, Buffer.from(text.slice(0, Math.floor(random() * (text.length - 1)))));
      },
      (event) => signed(event, Buffer.from(JSON.stringify(pick([[], 'text', 42, null, true])))),
      (event) => {
        const body = valid(event);
        body.id_webhook_data = pick(junk);
        return signed(event, body);
      },
      (event) => {
        const body = valid(event);
        if (event === 'CONNECTION_SYNCED') {
          const connection = body.connection as Record<string, unknown>;
          const bad: Record<string, readonly unknown[]> = {
            id: ['x', -1, 0, 1.5, [], null],
            state: [[], { a: 1 }, 'x'.repeat(100), -7, true],
            last_update: ['not-a-date-at-all', -7, [], { a: 1 }],
            active: ['yes', 1, [], null],
            accounts: ['x', 5, { a: 1 }],
          };
          const target = pick([...Object.keys(bad), 'user', 'account']);
          if (target === 'user') body.user = pick([null, 'x', 5, [], { id: 'x' }, { id: -1 }]);
          else if (target === 'account') {
            const badAccount: Record<string, readonly unknown[]> = {
              id: ['x', -1, [], null],
              balance: ['x', [], { id: 5 }, true],
              currency: [-3, 'EUR', { id: 5 }, []],
              last_update: [-3, 'soon', []],
              id_connection: [-3, 'soon', { id: 5 }],
            };
            const field = pick(Object.keys(badAccount));
            connection.accounts = [
              { ...account(3101, 1, '2025-06-02 07:00:00'), [field]: pick(badAccount[field] ?? []) },
            ];
          } else connection[target] = pick(bad[target] ?? []);
        } else {
          body.id = pick(['x', -1, 0, 1.5, [], null]);
        }
        return signed(event, body);
      },
      (event) => ({
        ...signed(event, valid(event)),
        headers: { ...signed(event, valid(event)).headers, 'content-encoding': pick(['br', 'deflate', 'compress']) },
      }),
      (event) => ({
        ...signed(event, valid(event)),
        event: pick(['', 'connection_synced', 'USER_CREATED', '../admin', 'X'.repeat(500)]),
      }),
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1_200; i++) {
      const event = pick(events);
      const request = pick(mutations)(event);
      const response = await handlePowensWebhook(request, deps);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status < 400 || response.status >= 500) {
        throw new Error(
          `fuzz case ${i} answered ${response.status}: ${JSON.stringify(response.body)} for ${request.body.toString('utf8').slice(0, 200)}`,
        );
      }
    }
    expect(await scan()).toEqual([]);
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
  });
});
