/**
 * `npm run webhooks -- --port <n> --dynamodb-endpoint <url> --table-name <t> --tenant-id <id> --powens-secret-file <f>`:
 * the Powens webhook receiver's real handler on loopback (see ./webhook-receiver.ts). The first stdout line is
 * `listening <port>` (port 0 = any free port), so scripts and tests can read where it is. Stops on SIGINT/SIGTERM.
 */
import './node-compat';
import { parseArgs } from 'node:util';
import { ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { ENV } from '../../lambdas/core/env-names';
import { buildWebhookDeps } from '../../lambdas/powens-webhooks/app';
import { createBalancesTable, localDynamoClients } from './embedded-dynamodb';
import { startWebhookReceiver } from './webhook-receiver';
import { runAsScript } from './run-as-script';

const USAGE = `Usage: npm run webhooks -- [options]

Runs the Powens webhook receiver (POST /webhooks/powens/{event}, HMAC-verified) on 127.0.0.1.

  --port N                   port to listen on (default 0 = any free port; printed as "listening <port>")
  --dynamodb-endpoint URL    DynamoDB endpoint (dynalite, DynamoDB Local); the table is created if missing
  --table-name NAME          table (default openbanking-balances-local)
  --tenant-id ID             tenant the balances belong to (default family-office)
  --powens-secret-file FILE  Powens secret JSON; its "webhookSecret" is the HMAC key Powens signs with
  -h, --help                 this text
`;

export async function main(
  argv: readonly string[],
  out: (line: string) => void = (l) => console.log(l),
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        'dynamodb-endpoint': { type: 'string' },
        'table-name': { type: 'string' },
        'tenant-id': { type: 'string' },
        'powens-secret-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    out(`error: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const port = Number(values.port ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    out(`error: --port must be 0..65535, got ${JSON.stringify(values.port)}\n\n${USAGE}`);
    return 2;
  }
  for (const flag of ['dynamodb-endpoint', 'powens-secret-file'] as const) {
    if (values[flag] === undefined) {
      out(`error: --${flag} is required\n\n${USAGE}`);
      return 2;
    }
  }
  const tableName = values['table-name'] ?? 'openbanking-balances-local';
  const env = {
    [ENV.tableName]: tableName,
    [ENV.tenantId]: values['tenant-id'] ?? 'family-office',
    [ENV.powensSecretFile]: values['powens-secret-file'],
  };
  const { client, doc } = localDynamoClients(values['dynamodb-endpoint'] as string);
  try {
    await createBalancesTable(client, tableName).catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException)) throw error;
    });
    const receiver = await startWebhookReceiver({ deps: buildWebhookDeps(env, doc), port });
    out(`listening ${receiver.port}`);
    out(`POST ${receiver.baseUrl}/{CONNECTION_SYNCED|ACCOUNT_DISABLED|CONNECTION_DELETED|USER_DELETED}`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await receiver.close();
    return 0;
  } catch (error) {
    out(`error: the webhook receiver could not start: ${(error as Error).message}`);
    return 1;
  } finally {
    client.destroy();
  }
}

if (require.main === module) runAsScript(main);
