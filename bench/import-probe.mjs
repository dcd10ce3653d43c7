// Fresh-process import probe for bench/cold-start.ts. Plain ESM JavaScript so Node loads it with no TypeScript
// runner in between (as the Lambda runtime loads index.mjs). Without an argument it only starts and exits: that run
// is the baseline subtracted from the process wall times.
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const target = process.argv[2];
if (target === undefined) {
  process.stdout.write(JSON.stringify({ importMs: 0 }));
} else {
  const started = performance.now();
  const mod = await import(pathToFileURL(target).href);
  const importMs = performance.now() - started;
  // CommonJS (the unbundled variant) may expose the export only on `default`.
  const handler = mod.handler ?? mod.default?.handler;
  if (typeof handler !== 'function') {
    process.stderr.write(`${target} exports no "handler" function (exports: ${Object.keys(mod).join(', ')})\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify({ importMs }));
}
