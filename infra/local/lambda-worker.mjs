// A one-function Lambda execution environment for the local run: a separate Node process (like a Lambda sandbox)
// that imports the esbuild bundle CDK deploys, keeps it warm between invocations and answers over IPC.
// Plain ESM JavaScript on purpose: it must load `index.mjs` with Node's own loader, with no TypeScript runner.
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [bundlePath, functionName, memoryMb, region] = process.argv.slice(2);
// Module import time ≈ Lambda's INIT phase; reported once, with the environment's first invocation (benchmarks).
const importStarted = performance.now();
let initMs;
const handlerPromise = import(pathToFileURL(bundlePath).href).then((mod) => {
  initMs = performance.now() - importStarted;
  if (typeof mod.handler !== 'function') throw new Error(`Bundle ${bundlePath} exports no "handler" function`);
  return mod.handler;
});
let firstInvocation = true;

process.on('message', async (message) => {
  const { id, event, requestId, deadline } = message;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    memoryLimitInMB: memoryMb,
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  // Handler time only (what Lambda bills as Duration), not the IPC hop nor the wait for the import.
  let started;
  const timing = () => {
    const reported = { durationMs: performance.now() - started };
    if (firstInvocation && initMs !== undefined) reported.initMs = initMs;
    firstInvocation = false;
    return reported;
  };
  try {
    const handler = await handlerPromise;
    started = performance.now();
    const result = await handler(event, context);
    process.send({ id, ok: true, result: result === undefined ? null : result, ...timing() });
  } catch (error) {
    const errorType = error instanceof Error ? error.name : 'Error';
    const errorMessage = error instanceof Error ? error.message : String(error);
    process.send({ id, ok: false, errorType, errorMessage, ...(started === undefined ? {} : timing()) });
  }
});
process.send({ ready: true });
