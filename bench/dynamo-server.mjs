// DynamoDB stand-in for bench/storage.ts in its OWN Node process: dynalite on 127.0.0.1 and a free port, the port sent
// to the parent over the fork IPC channel. Out of the benchmark's process so that, like the real (remote) service, the
// server's request handling does not share the client's event loop and core. Plain ESM JavaScript: no TypeScript
// runner to start in the child. dynalite adds no network latency; only the process boundary is remote-like.
import dynalite from 'dynalite';
import { serveForParent } from './forked-server.mjs';

// Same settings as infra/local/embedded-dynamodb.ts: tables ACTIVE at once.
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
serveForParent(server, 'dynamo-server');
