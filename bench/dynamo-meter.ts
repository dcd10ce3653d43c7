/**
 * A metering HTTP proxy in front of dynalite, for the orchestration benchmark: the Lambdas run in worker processes
 * with their own SDK clients, so request units are counted where every request passes, on the wire.
 *
 * Each request gets `ReturnConsumedCapacity: TOTAL` added (when the caller did not ask) so dynalite computes the
 * units with its DynamoDB size rules (1 WRU per started KB written, the larger of old and new item for a put/update;
 * 1 RRU per started 4 KB read, half for eventually consistent reads). DynamoDB also charges a write whose condition
 * fails; the error carries no capacity, so those are charged here from the request: the Item's size for a PutItem
 * (dynalite's own size function), 1 WRU for an UpdateItem (our updates touch small counter/marker items).
 * The extra ConsumedCapacity field in responses is ignored by the SDK callers.
 */
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// dynalite ships no types (types/dynalite.d.ts declares only the module); this is its item-size helper.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynaliteDb = require('dynalite/db') as {
  capacityUnits(item: unknown, isRead: boolean, isConsistent: boolean): number;
};

export interface DynamoUsage {
  requests: Record<string, number>;
  writeRequestUnits: number;
  readRequestUnits: number;
  /** Items written by successful write requests (batch puts counted one by one). */
  itemsWritten: number;
  conditionalCheckFailures: number;
}

export interface DynamoMeter {
  endpoint: string;
  usage(): DynamoUsage;
  reset(): void;
  close(): Promise<void>;
}

const CAPACITY_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'BatchGetItem',
  'Query',
  'Scan',
]);

function emptyUsage(): DynamoUsage {
  return { requests: {}, writeRequestUnits: 0, readRequestUnits: 0, itemsWritten: 0, conditionalCheckFailures: 0 };
}

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Capacity {
  CapacityUnits?: number;
}

export async function startDynamoMeter(targetEndpoint: string): Promise<DynamoMeter> {
  const target = new URL(targetEndpoint);
  let usage = emptyUsage();

  const server: Server = createServer((req, res) => {
    void (async () => {
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? 'unknown';
      let body = await readBody(req);
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        parsed = undefined;
      }
      if (parsed && CAPACITY_OPERATIONS.has(operation) && parsed.ReturnConsumedCapacity === undefined) {
        parsed.ReturnConsumedCapacity = 'TOTAL';
        body = Buffer.from(JSON.stringify(parsed));
      }
      // dynalite checks that a signature is present, not that it matches, so the rewritten body is accepted.
      const headers = { ...req.headers, 'content-length': String(body.length) };
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers },
        (upstreamRes) => {
          void (async () => {
            const responseBody = await readBody(upstreamRes);
            account(operation, parsed, upstreamRes.statusCode ?? 0, responseBody);
            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
            res.end(responseBody);
          })();
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`dynamo meter: upstream error ${error.message}`);
      });
      upstream.end(body);
    })();
  });

  function account(
    operation: string,
    request: Record<string, unknown> | undefined,
    status: number,
    body: Buffer,
  ): void {
    usage.requests[operation] = (usage.requests[operation] ?? 0) + 1;
    let response: Record<string, unknown> = {};
    try {
      response = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    const isWrite =
      operation === 'PutItem' ||
      operation === 'UpdateItem' ||
      operation === 'DeleteItem' ||
      operation === 'BatchWriteItem';
    if (status >= 400) {
      if (String(response.__type ?? '').endsWith('ConditionalCheckFailedException')) {
        usage.conditionalCheckFailures += 1;
        usage.writeRequestUnits +=
          operation === 'PutItem' && request?.Item ? dynaliteDb.capacityUnits(request.Item, false, true) : 1;
      }
      return;
    }
    const consumed = response.ConsumedCapacity as Capacity | Capacity[] | undefined;
    const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
      (sum, c) => sum + (c.CapacityUnits ?? 0),
      0,
    );
    if (isWrite) usage.writeRequestUnits += units;
    else usage.readRequestUnits += units;
    if (operation === 'PutItem') usage.itemsWritten += 1;
    if (operation === 'UpdateItem') usage.itemsWritten += 1;
    if (operation === 'BatchWriteItem') {
      const items = (request?.RequestItems ?? {}) as Record<string, unknown[]>;
      const unprocessed = (response.UnprocessedItems ?? {}) as Record<string, unknown[]>;
      for (const [table, list] of Object.entries(items))
        usage.itemsWritten += list.length - (unprocessed[table]?.length ?? 0);
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    usage: () => structuredClone(usage),
    reset: () => {
      usage = emptyUsage();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
