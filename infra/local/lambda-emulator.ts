import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';

/** A step function as the local run sees it: one bundled handler invoked the way the Lambda service would. */
export interface LocalFunction {
  readonly name: string;
  invoke(payload: unknown): Promise<unknown>;
  /** Stops the execution environment (the worker process). */
  close(): Promise<void>;
}

/** One invocation as the worker measured it (benchmarks turn these into billed Lambda duration). */
export interface InvocationRecord {
  /** Handler run time in the worker (Lambda's Duration); absent when the environment crashed or timed out. */
  durationMs?: number;
  /** Module import time of a fresh environment (≈ Lambda INIT), on the environment's first invocation only. */
  initMs?: number;
  ok: boolean;
}

/** What startBundledFunction returns: a LocalFunction that also reports what each invocation cost. */
export interface BundledFunction extends LocalFunction {
  /** Every invocation so far, in completion order (a copy). */
  invocations(): InvocationRecord[];
}

export interface LocalFunctionOptions {
  name: string;
  /** Lambda timeout: an invocation still running after it fails like AWS's (Lambda.Unknown through lambda:invoke). */
  timeoutSeconds: number;
  memoryMb: number;
  region: string;
  /** The function's environment variables, as CDK would set them. Nothing else of this process leaks in but PATH. */
  environment: Readonly<Record<string, string>>;
}

/**
 * Error thrown the way Step Functions sees a failed Lambda: `name` is the handler's error name (what Retry/Catch
 * match) and the message is the JSON `Cause` AWS records ({errorType, errorMessage}).
 */
export class LambdaInvocationError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

const WORKER = path.join(__dirname, 'lambda-worker.mjs');

type WorkerReply =
  | { ready: true }
  | { id: string; ok: true; result: unknown; durationMs?: number; initMs?: number }
  | { id: string; ok: false; errorType: string; errorMessage: string; durationMs?: number; initMs?: number };

/**
 * Runs a bundle built by infra/bundling.ts (the artefact CDK deploys) in its own Node process, like a Lambda
 * execution environment: module-scope code runs once per environment (cold start), the environment variables are the
 * function's own, payloads cross a JSON boundary, and a timed-out environment is discarded and recreated.
 */
export function startBundledFunction(bundlePath: string, options: LocalFunctionOptions): BundledFunction {
  let worker: { child: ChildProcess; ready: Promise<void> } | undefined;
  const invocations: InvocationRecord[] = [];
  const pending = new Map<string, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  const spawn = (): { child: ChildProcess; ready: Promise<void> } => {
    const child = fork(WORKER, [bundlePath, options.name, String(options.memoryMb), options.region], {
      env: { PATH: process.env.PATH ?? '', ...options.environment },
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.on('message', (reply: WorkerReply) => {
        if ('ready' in reply) return resolve();
        const waiter = pending.get(reply.id);
        if (!waiter) return;
        pending.delete(reply.id);
        invocations.push({
          ok: reply.ok,
          ...(reply.durationMs === undefined ? {} : { durationMs: reply.durationMs }),
          ...(reply.initMs === undefined ? {} : { initMs: reply.initMs }),
        });
        if (reply.ok) waiter.resolve(reply.result);
        else waiter.reject(new LambdaInvocationError(reply.errorType, reply.errorMessage));
      });
      child.once('exit', (code, signal) => {
        worker = undefined;
        const crash = new LambdaInvocationError('Lambda.Unknown', `Runtime exited (code ${code}, signal ${signal})`);
        reject(crash);
        for (const waiter of pending.values()) {
          invocations.push({ ok: false });
          waiter.reject(crash);
        }
        pending.clear();
      });
    });
    return { child, ready };
  };

  return {
    name: options.name,
    async invoke(payload: unknown): Promise<unknown> {
      worker ??= spawn();
      const current = worker;
      await current.ready;
      const id = randomUUID();
      const deadline = Date.now() + options.timeoutSeconds * 1000;
      return new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          invocations.push({ ok: false });
          // Lambda discards an environment whose invocation timed out; the next call cold-starts a new one.
          current.child.kill('SIGKILL');
          reject(new LambdaInvocationError('Lambda.Unknown', `Task timed out after ${options.timeoutSeconds} seconds`));
        }, options.timeoutSeconds * 1000);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        // JSON round trip, as Lambda's: Dates become strings, undefined disappears.
        current.child.send({ id, event: payload ?? null, requestId: randomUUID(), deadline });
      });
    },
    invocations: () => invocations.map((record) => ({ ...record })),
    async close(): Promise<void> {
      const current = worker;
      worker = undefined;
      if (!current) return;
      const exited = new Promise<void>((resolve) => current.child.once('exit', () => resolve()));
      current.child.kill();
      await exited;
    },
  };
}
