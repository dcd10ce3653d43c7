// The child side of bench/support.ts forkServer, shared by bench/dynamo-server.mjs and bench/latency-proxy.mjs:
// listen on 127.0.0.1 and a free port, send `{port}` to the parent over the fork IPC channel, and stop when the
// parent closes the channel (or dies), never outliving the benchmark. Plain ESM JavaScript: no TypeScript runner in
// the child.
import process from 'node:process';

/**
 * @param {import('node:http').Server} server
 * @param {string} name prefix of the child's error messages
 * @param {() => void} [onStop] extra cleanup once the parent has gone (before the server closes)
 */
export function serveForParent(server, name, onStop = () => {}) {
  server.keepAliveTimeout = 0; // as infra/local/embedded-dynamodb.ts: no idle-socket race with the SDK's agent
  server.once('error', (error) => {
    process.stderr.write(`${name}: failed to listen: ${error.message}\n`);
    process.exit(1);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (process.send === undefined || address === null || typeof address === 'string') {
      process.stderr.write(`${name}: must be started with child_process.fork (IPC channel) and listen on TCP\n`);
      process.exit(2);
    }
    process.send({ port: address.port });
  });
  process.on('disconnect', () => {
    server.closeAllConnections();
    onStop();
    server.close(() => process.exit(0));
  });
}
