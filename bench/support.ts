/** Small shared pieces of the benchmarks: statistics, machine description, work directory. */
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../infra/bundling';

/**
 * Scratch space for bundles and transpiled sources. Inside the repository on purpose: the unbundled sources import every
 * dependency from the project's node_modules (the bundles are self-contained since the SDK is bundled). Ignored by git (.gitignore: bench/results/tmp/).
 */
export const BENCH_WORK_DIR = path.join(PROJECT_ROOT, 'bench', 'results', 'tmp');
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
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
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
