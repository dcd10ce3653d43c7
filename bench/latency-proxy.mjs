// Loopback HTTP proxy adding a fixed delay to every request, for bench/storage.ts: DynamoDB in-region answers in a
// few milliseconds per request (network + service), dynalite on 127.0.0.1 in ~0. Each request is held `delayMs` and
// then forwarded to the upstream port; requests in flight wait concurrently (timers, no queue), as on a network, so
// what batching and bounded concurrency save shows. Runs in its own Node process (forked, port sent over IPC) so its
// work does not share the benchmark's event loop (bench/forked-server.mjs). Plain ESM JavaScript.
// Usage: fork(latency-proxy.mjs, [upstreamPort, delayMs])
import { Buffer } from 'node:buffer';
import { Agent, createServer, request } from 'node:http';
import { setTimeout } from 'node:timers';
import process from 'node:process';
import { serveForParent } from './forked-server.mjs';

const upstreamPort = Number(process.argv[2]);
const delayMs = Number(process.argv[3]);
if (!Number.isInteger(upstreamPort) || !(delayMs >= 0)) {
  process.stderr.write(`latency-proxy: usage: <upstreamPort> <delayMs>, got ${process.argv.slice(2).join(' ')}\n`);
  process.exit(2);
}
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    setTimeout(() => {
      const upstream = request(
        { host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers: req.headers, agent },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`latency-proxy: upstream error ${error.message}`);
      });
      upstream.end(Buffer.concat(chunks));
    }, delayMs);
  });
});
serveForParent(server, 'latency-proxy', () => agent.destroy());
