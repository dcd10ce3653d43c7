/** Small shared pieces of the benchmarks: statistics, machine description, work directory. */
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../infra/bundling';
import { createBalancesTable, localDynamoClients, type LocalDynamoDb } from '../infra/local/embedded-dynamodb';

/**
 * Scratch space for bundles and transpiled sources. Inside the repository on purpose: the unbundled sources import every
 * dependency from the project's node_modules (the bundles are self-contained since the SDK is bundled). Ignored by git (.gitignore: bench/results/scratch/).
 */
export const BENCH_WORK_DIR = path.join(PROJECT_ROOT, 'bench', 'results', 'scratch');
export const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results');

export interface Summary {
  runs: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile (p in 0..100) of a non-empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty sample');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty sample');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  return {
    runs: values.length,
    median: round(median(values)),
    p90: round(percentile(values, 90)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
  };
}

export function round(value: number, decimals = 2): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  node: string;
  platform: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
  };
}

/** Milliseconds since `start` (performance.now() based). */
export function elapsed(start: number): number {
  return performance.now() - start;
}

const DYNAMO_SERVER_SCRIPT = path.join(PROJECT_ROOT, 'bench', 'dynamo-server.mjs');
const LATENCY_PROXY_SCRIPT = path.join(PROJECT_ROOT, 'bench', 'latency-proxy.mjs');
const SERVER_START_TIMEOUT_MS = 15_000;

interface ForkedServer {
  port: number;
  close(): Promise<void>;
}

/** Forks a plain-ESM server script that sends `{port}` over IPC once listening and stops when the channel closes. */
async function forkServer(script: string, args: string[]): Promise<ForkedServer> {
  // execArgv [] : the child is plain ESM, it needs neither tsx's nor jest's loaders of the parent.
  const child = fork(script, args, { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script} sent no port within ${SERVER_START_TIMEOUT_MS} ms`)),
        SERVER_START_TIMEOUT_MS,
      );
      child.once('message', (message: unknown) => {
        clearTimeout(timer);
        const candidate = (message as { port?: unknown } | null)?.port;
        if (typeof candidate === 'number') resolve(candidate);
        else reject(new Error(`${script} sent ${JSON.stringify(message)}, expected {"port": <number>}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${script} exited before listening (code ${code}, signal ${signal}); see its stderr above`));
      });
    });
  } catch (error) {
    child.kill();
    throw error;
  }
  return {
    port,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Closing the IPC channel tells the child to stop; it exits once its server has closed.
      child.disconnect();
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * dynalite in a separate Node process (bench/dynamo-server.mjs), so the server's request handling runs on another core
 * than the client, as a remote DynamoDB would. Same shape as startEmbeddedDynamoDb. With `latencyMs` > 0 the clients
 * go through bench/latency-proxy.mjs (its own process), which holds every request that long: DynamoDB's in-region
 * round trip, which dynalite on 127.0.0.1 does not have.
 */
export async function startDynamoDbProcess(
  options: { latencyMs?: number } = {},
): Promise<LocalDynamoDb & { latencyMs: number }> {
  const latencyMs = options.latencyMs ?? 0;
  const dynalite = await forkServer(DYNAMO_SERVER_SCRIPT, []);
  let proxy: ForkedServer | undefined;
  try {
    if (latencyMs > 0) proxy = await forkServer(LATENCY_PROXY_SCRIPT, [String(dynalite.port), String(latencyMs)]);
  } catch (error) {
    await dynalite.close();
    throw error;
  }
  const port = proxy?.port ?? dynalite.port;
  const endpoint = `http://127.0.0.1:${port}`;
  const { client, doc } = localDynamoClients(endpoint);
  return {
    endpoint,
    port,
    client,
    doc,
    createTable: (tableName) => createBalancesTable(client, tableName),
    latencyMs,
    close: async () => {
      client.destroy();
      await proxy?.close();
      await dynalite.close();
    },
  };
}
