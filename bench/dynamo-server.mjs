// DynamoDB stand-in for bench/storage.ts in its OWN Node process: dynalite on 127.0.0.1 and a free port, the port sent
// to the parent over the fork IPC channel. Out of the benchmark's process so that, like the real (remote) service, the
// server's request handling does not share the client's event loop and core. Plain ESM JavaScript: no TypeScript
// runner to start in the child. dynalite adds no network latency; only the process boundary is remote-like.
import process from 'node:process';
import dynalite from 'dynalite';

// Same settings as infra/local/embedded-dynamodb.ts: tables ACTIVE at once.
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.keepAliveTimeout = 0; // as infra/local/embedded-dynamodb.ts: no idle-socket race with the SDK's agent
server.once('error', (error) => {
  process.stderr.write(`dynamo-server: dynalite failed to listen: ${error.message}\n`);
  process.exit(1);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (process.send === undefined || address === null || typeof address === 'string') {
    process.stderr.write('dynamo-server: must be started with child_process.fork (IPC channel) and listen on TCP\n');
    process.exit(2);
  }
  process.send({ port: address.port });
});
// The parent closes the channel (or dies): stop, never outlive the benchmark.
process.on('disconnect', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
