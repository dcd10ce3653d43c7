import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { balancesTableDefinition } from '../../lambdas/core/adapters/dynamodb/table-schema';

/** Dummy credentials: dynalite ignores them, but the SDK refuses to sign without some. */
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_AWS_REGION = 'eu-west-3';

/** A DynamoDB-compatible server on loopback with clients for it (in this process or another one). */
export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>`; give it to a Lambda as AWS_ENDPOINT_URL_DYNAMODB. */
  endpoint: string;
  port: number;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Creates a table with the balances key design (TABLE_KEYS, on demand), as the CDK table. */
  createTable(tableName: string): Promise<void>;
  close(): Promise<void>;
}

export interface EmbeddedDynamoDb extends LocalDynamoDb {
  /**
   * Every DynamoDB operation the server received, in order (`PutItem`, `Query`...): what a role must allow, and proof
   * that a rejected input wrote nothing. Tests may clear it (`operations.length = 0`).
   */
  operations: string[];
}

export interface EmbeddedDynamoDbOptions {
  /** SDK attempts of the returned clients (tests use 1: a local server never throttles, retries would hide bugs). */
  maxAttempts?: number;
  /** Directory where dynalite keeps its data (LevelDB) across runs; in memory when absent. */
  path?: string;
}

/**
 * dynalite in-process on 127.0.0.1 and a random free port: a real DynamoDB wire protocol for the real SDK, started in
 * milliseconds, nothing to install. It has no transactions and no TTL API, which this project's table design avoids
 * (single-item conditional writes only; TTL is an AWS-side table setting).
 */
export async function startEmbeddedDynamoDb(options: EmbeddedDynamoDbOptions = {}): Promise<EmbeddedDynamoDb> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path === undefined ? {} : { path: options.path }),
  });
  // Node closes idle keep-alive sockets after 5 s; the SDK's agent may reuse one at that very moment and get
  // ECONNRESET (seen in tests on a loaded machine, where gaps between requests exceed 5 s). close() ends them instead.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const operations: string[] = [];
  // A second listener beside dynalite's own: `X-Amz-Target: DynamoDB_20120810.PutItem` names the operation.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const target = request.headers['x-amz-target'];
    if (typeof target === 'string') operations.push(target.slice(target.indexOf('.') + 1));
    inFlight += 1;
    response.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const { client, doc } = localDynamoClients(endpoint, options);
  return {
    endpoint,
    port,
    client,
    doc,
    operations,
    createTable: (tableName) => createBalancesTable(client, tableName),
    close: async () => {
      client.destroy();
      // dynalite throws (uncaught) when a request it is still serving writes to its closed store: let those finish.
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      // The SDK keeps sockets alive; without this dynalite's graceful close waits for them (up to 30 s).
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err?: Error) => (err ? reject(err) : resolve())));
    },
  };
}

/** SDK clients for a local DynamoDB endpoint (dummy credentials, the document client as the Lambdas configure it). */
export function localDynamoClients(
  endpoint: string,
  options: EmbeddedDynamoDbOptions = {},
): { client: DynamoDBClient; doc: DynamoDBDocumentClient } {
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS_REGION,
    credentials: LOCAL_AWS_CREDENTIALS,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
  });
  return { client, doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }) };
}

export async function createBalancesTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand(balancesTableDefinition(tableName)));
}
