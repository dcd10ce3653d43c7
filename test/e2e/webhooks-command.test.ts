/**
 * `npm run webhooks` as a user runs it: a separate process on loopback, first stdout line `listening <port>`, the real
 * handler behind it writing to the DynamoDB endpoint it was given. The request is signed as Powens signs it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { signPowensWebhook } from '../../lambdas/core/adapters/powens/webhook-signature';
import { startDynalite } from '../support/dynalite';

const ROOT = path.resolve(__dirname, '../..');
const SECRET = {
  clientId: 'c',
  clientSecret: 's',
  users: [{ userId: 1001, token: 't' }],
  webhookSecret: 'whsec-local-e2e-0123456789',
};

describe('npm run webhooks', () => {
  jest.setTimeout(120_000);

  it('prints "listening <port>" first and stores a signed CONNECTION_SYNCED; an unsigned one is 401', async () => {
    const dynamo = await startDynalite();
    const dir = await mkdtemp(path.join(tmpdir(), 'webhooks-e2e-'));
    const secretFile = path.join(dir, 'powens.json');
    await writeFile(secretFile, JSON.stringify(SECRET), { mode: 0o600 });
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
        'infra/local/webhooks.ts',
        '--port',
        '0',
        '--dynamodb-endpoint',
        dynamo.endpoint,
        '--table-name',
        'webhooks-e2e',
        '--tenant-id',
        'family-office',
        '--powens-secret-file',
        secretFile,
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          POWERTOOLS_LOG_LEVEL: 'SILENT',
          POWERTOOLS_METRICS_DISABLED: 'true',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const first = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const port = /^listening (\d+)$/.exec(first)?.[1];
      expect(port).toBeDefined();
      const url = `http://127.0.0.1:${port}/webhooks/powens/CONNECTION_SYNCED`;
      const body = Buffer.from(
        JSON.stringify({
          id_webhook_data: 1,
          user: { id: 1001 },
          connection: {
            id: 2001,
            state: null,
            last_update: '2025-06-02 07:00:00',
            accounts: [
              {
                id: 3101,
                id_connection: 2001,
                balance: 12.5,
                currency: { id: 'EUR' },
                last_update: '2025-06-02 07:00:00',
                disabled: null,
                deleted: null,
                type: 'checking',
              },
            ],
          },
        }),
      );
      const date = new Date().toISOString();
      const signature = signPowensWebhook({
        secret: SECRET.webhookSecret,
        path: '/webhooks/powens/CONNECTION_SYNCED',
        date,
        body,
      });
      const unsigned = await fetch(url, { method: 'POST', body });
      expect(unsigned.status).toBe(401);
      const ok = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'bi-signature': signature, 'bi-signature-date': date },
      });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ status: 'processed', balances: 1 });
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await dynamo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
