/**
 * Integration harness: real dynalite + real AWS SDK, real Powens HTTP client + Powens sandbox over loopback, the
 * family-office dataset, and the domain dependencies wired exactly as the handlers wire them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createPowensClient, type PowensClient } from '../../../lambdas/core/adapters/powens/client';
import { createBalanceStore, type BalanceStore } from '../../../lambdas/core/adapters/dynamodb/balance-store';
import { createPsd2Budget, type Psd2Budget } from '../../../lambdas/core/adapters/dynamodb/psd2-budget';
import {
  createExecutionMarkers,
  type ExecutionMarkers,
} from '../../../lambdas/core/adapters/dynamodb/execution-markers';
import type { SecretSource } from '../../../lambdas/core/adapters/secrets/powens-secret';
import type { RefreshBalancesDeps } from '../../../lambdas/core/domain/refresh-balances';
import type { FetchBalancesDeps } from '../../../lambdas/core/domain/fetch-balances';
import {
  createFamilyOfficeDataset,
  FAMILY_OFFICE_REFERENCE_NOW,
  startPowensSandbox,
  type PowensSandbox,
} from '../../../infra/local/powens-sandbox';
import { resetConfigForTests } from '../../../lambdas/core/config';
import { resetStepDependenciesForTests } from '../../../lambdas/core/step-runtime';
import { DUMMY_AWS_ENV, startDynalite, type LocalDynamo } from '../../support/dynalite';

export const TENANT = 'martin-family';

export interface Harness {
  dynamo: LocalDynamo;
  sandbox: PowensSandbox;
  tableName: string;
  powens: PowensClient;
  secrets: SecretSource;
  store: BalanceStore;
  budget: Psd2Budget;
  markers: ExecutionMarkers;
  /** Mutable clock shared by the domain and the sandbox. */
  clock: { now: Date };
  refreshDeps(overrides?: Partial<RefreshBalancesDeps>): RefreshBalancesDeps;
  fetchDeps(overrides?: Partial<FetchBalancesDeps>): FetchBalancesDeps;
  scan(): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

let tableCounter = 0;

export async function startHarness(options: { dynamo?: LocalDynamo } = {}): Promise<Harness> {
  const clock = { now: new Date(FAMILY_OFFICE_REFERENCE_NOW) };
  const now = () => new Date(clock.now);
  const dynamo = options.dynamo ?? (await startDynalite());
  const tableName = `balances-${process.pid}-${++tableCounter}`;
  await dynamo.createTable(tableName);
  const sandbox = await startPowensSandbox({ dataset: createFamilyOfficeDataset(), clock: now });
  const powens = createPowensClient({ baseUrl: sandbox.baseUrl, timeoutMs: 30_000, syncTimeoutMs: 60_000 });
  const secrets: SecretSource = { description: 'sandbox secret', load: async () => sandbox.secret };
  const store = createBalanceStore({ client: dynamo.doc, tableName, clock: now });
  const budget = createPsd2Budget({ client: dynamo.doc, tableName, clock: now });
  const markers = createExecutionMarkers({ client: dynamo.doc, tableName, clock: now });
  return {
    dynamo,
    sandbox,
    tableName,
    powens,
    secrets,
    store,
    budget,
    markers,
    clock,
    refreshDeps: (overrides = {}) => ({ powens, secrets, budget, markers, clock: now, ...overrides }),
    fetchDeps: (overrides = {}) => ({ powens, secrets, store, tenantId: TENANT, clock: now, ...overrides }),
    scan: async () => {
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await dynamo.doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
        items.push(...((page.Items ?? []) as Record<string, unknown>[]));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
      return items.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
    },
    close: async () => {
      await sandbox.close();
      if (!options.dynamo) await dynamo.close();
    },
  };
}

/** The parts of a Lambda context Powertools' injectLambdaContext reads. */
export function lambdaContext(functionName = 'test-function'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-3:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: 'c0ffee00-0000-4000-8000-000000000000',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Runs `fn` and returns what it wrote to stdout and stderr (Powertools writes through process.stdout). */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; output: string }> {
  const chunks: string[] = [];
  const capture = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture as typeof process.stderr.write);
  try {
    return { result: await fn(), output: chunks.join('') };
  } catch (error) {
    return { error, output: chunks.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

export interface StepHandlerEnvironment {
  readonly dynamo: LocalDynamo;
  readonly sandbox: PowensSandbox;
}

/**
 * The environment the step handlers read in a Lambda, pointed at dynalite and the Powens sandbox (secret in a file),
 * set before the file's tests and restored after; handler output (Powertools logs, EMF) is silenced per test.
 * Call inside a describe block; the returned getters work inside tests.
 */
export function useStepHandlerEnvironment(options: {
  table: string;
  tenantId: string;
  env?: Record<string, string>;
}): StepHandlerEnvironment {
  let dynamo: LocalDynamo | undefined;
  let sandbox: PowensSandbox | undefined;
  let dir: string | undefined;
  const savedEnv = { ...process.env };
  let quiet: jest.SpyInstance[] = [];
  beforeAll(async () => {
    dynamo = await startDynalite();
    await dynamo.createTable(options.table);
    sandbox = await startPowensSandbox({ dataset: createFamilyOfficeDataset() });
    dir = await mkdtemp(join(tmpdir(), 'powens-secret-'));
    const secretFile = join(dir, 'powens-secret.json');
    await writeFile(secretFile, JSON.stringify(sandbox.secret));
    Object.assign(process.env, {
      ...DUMMY_AWS_ENV,
      TABLE_NAME: options.table,
      POWENS_BASE_URL: sandbox.baseUrl,
      POWENS_SECRET_FILE: secretFile,
      TENANT_ID: options.tenantId,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      ...options.env,
    });
    delete process.env.POWENS_SECRET_ID;
    resetConfigForTests();
    resetStepDependenciesForTests();
  });
  beforeEach(() => {
    // Keep jest output readable (Powertools logs and EMF metrics); captureOutput nests its own spies.
    quiet = [process.stdout, process.stderr].map((stream) =>
      jest.spyOn(stream, 'write').mockImplementation(() => true),
    );
  });
  afterEach(() => {
    for (const spy of quiet) spy.mockRestore();
    sandbox?.faults.clear();
  });
  afterAll(async () => {
    process.env = savedEnv;
    resetConfigForTests();
    resetStepDependenciesForTests();
    await sandbox?.close();
    await dynamo?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useStepHandlerEnvironment: ${what} is only available inside tests`);
    return value;
  };
  return {
    get dynamo() {
      return ready(dynamo, 'dynamo');
    },
    get sandbox() {
      return ready(sandbox, 'sandbox');
    },
  };
}
