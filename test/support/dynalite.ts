/**
 * In-process DynamoDB (dynalite) on 127.0.0.1 with an OS-chosen port, wired to the real AWS SDK v3 clients.
 * dynalite has no TransactWriteItems and no UpdateTimeToLive (asl-and-local-aws.md B3): the store and the PSD2
 * budget only use single-item conditional writes, so this is a faithful enough backend for their tests.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { balancesTableDefinition } from '../../lambdas/shared/balances/table-schema';

export interface LocalDynamo {
  /** `http://127.0.0.1:<port>`; give it to a Lambda as AWS_ENDPOINT_URL_DYNAMODB. */
  endpoint: string;
  port: number;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Creates a table with the balances key design (pk/sk strings, on-demand). */
  createTable(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Dummy credentials: dynalite does not check signatures, but the SDK refuses to sign without some. */
export const DUMMY_AWS_ENV = {
  AWS_REGION: 'eu-west-3',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
} as const;

export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: DUMMY_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: DUMMY_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: DUMMY_AWS_ENV.AWS_SECRET_ACCESS_KEY },
    // A local server never throttles; SDK retries would only hide bugs and slow failing tests down.
    maxAttempts: 1,
  });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint,
    port,
    client,
    doc,
    createTable: async (name) => {
      await client.send(new CreateTableCommand(balancesTableDefinition(name)));
    },
    close: async () => {
      client.destroy();
      // The SDK keeps sockets alive; without this dynalite's graceful close waits for them (up to 30 s).
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
