/**
 * Orchestration cost: the compiled seed state machine run locally exactly as `npm start` runs it (executeLocally,
 * the bundles CDK deploys in Lambda-like worker processes, dynalite, the Powens sandbox), with everything AWS would
 * bill counted on the way: state transitions, Lambda requests and billed duration, DynamoDB request units, and the
 * Powens calls made. infra/local/run.ts is not called directly because it hides the function objects (invocation
 * durations) and builds its own sandbox dataset; this composes the same pieces with a generated dataset.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import '../infra/local/node-compat';
import { buildLambda, type BuiltLambda } from '../infra/bundling';
import { compileWorkflow, operationArnPlaceholder } from '../infra/compiler/compile';
import { STEP_FUNCTIONS, stepFunctionsByOperation, type StepFunctionBinding } from '../infra/specs/bindings';
import { refreshOpenBankingBalancesWorkflow } from '../infra/specs';
import { ENV } from '../lambdas/core/env-names';
import { LOCAL_AWS_CREDENTIALS, LOCAL_AWS_REGION, startEmbeddedDynamoDb } from '../infra/local/embedded-dynamodb';
import type { StateMachineDefinition } from '../infra/compiler/asl';
import { executeLocally } from '../infra/local/execute';
import { startBundledFunction, type BundledFunction, type LocalFunction } from '../infra/local/lambda-emulator';
import {
  generateDataset,
  startPowensSandbox,
  type FaultRule,
  type RecordedRequest,
} from '../infra/local/powens-sandbox';
import { costOf, PRICES, PRICES_REGION, type CostBreakdown } from './prices';
import { startDynamoMeter, type DynamoUsage } from './dynamo-meter';
import { BENCH_WORK_DIR, elapsed, round } from './support';
import { createActiveTable } from './storage';

/** Step Functions' limit on a state's input or output (and on the execution's input/output). */
export const STEP_FUNCTIONS_PAYLOAD_LIMIT_BYTES = 256 * 1024;

export interface OrchestrationScenario {
  name: string;
  users: number;
  connectionsPerUser: number;
  accountsPerConnection: number;
  /** Sandbox forced-sync latency, real waiting. */
  syncLatencyMs: number;
  faults?: FaultRule[];
  /** Retry wait multiplier (0: retries back to back; the waits the ASL asked for are still reported). */
  timeScale?: number;
}

export interface FunctionUsage {
  id: string;
  memoryMb: number;
  invocations: number;
  failedInvocations: number;
  /** Handler duration per invocation, ms (as the worker measured it). */
  durationsMs: number[];
  /** Σ ceil(duration) — Lambda bills duration in 1 ms increments. */
  billedMs: number;
  gbSeconds: number;
  /** Module import of the fresh environment (≈ INIT), ms; billed only under the INIT billing caveat (README). */
  initMs: number;
  /** Largest Payload in / out of one invocation, bytes (JSON). */
  maxPayloadInBytes: number;
  maxPayloadOutBytes: number;
}

export interface ScenarioResult {
  scenario: OrchestrationScenario;
  accounts: number;
  connections: number;
  status: 'SUCCEEDED' | 'FAILED';
  error?: string;
  wallMs: number;
  transitions: number;
  attempts: Record<string, number>;
  retryWaitsSeconds: Record<string, number[]>;
  lambda: {
    functions: FunctionUsage[];
    invocations: number;
    billedMs: number;
    gbSeconds: number;
    initMs: number;
    gbSecondsWithInit: number;
  };
  dynamodb: DynamoUsage;
  powens: { calls: number; byEndpoint: Record<string, number>; syncs: number; failedCalls: number };
  payload: { executionOutputBytes: number; largestStateBytes: number; limitBytes: number; withinLimit: boolean };
  /** $ per 1,000 refreshes at list price (bench/prices.ts), duration billed as handler time only. */
  costPer1000: CostBreakdown;
  /** Same, with the environments' init time billed too (see README: INIT billing). */
  costPer1000WithInit: CostBreakdown;
}

export interface OrchestrationResult {
  method: string;
  prices: typeof PRICES;
  region: string;
  scenarios: ScenarioResult[];
}

export interface PreparedBundles {
  bindings: readonly StepFunctionBinding[];
  built: Map<string, BuiltLambda>;
  definition: StateMachineDefinition;
}

export async function prepareBundles(workDir = path.join(BENCH_WORK_DIR, 'orchestration')): Promise<PreparedBundles> {
  const compiled = compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() });
  const built = new Map<string, BuiltLambda>();
  for (const binding of STEP_FUNCTIONS)
    built.set(binding.id, await buildLambda(binding.entry, path.join(workDir, 'bundles', binding.id)));
  return { bindings: STEP_FUNCTIONS, built, definition: JSON.parse(compiled.json) as StateMachineDefinition };
}

/** `/2.0/users/10000/connections/100001` → `/users/{id}/connections/{id}`. */
function endpointOf(request: RecordedRequest): string {
  return `${request.method} ${request.path.replace(/^\/2\.0/, '').replace(/\/\d+(?=\/|$)/g, '/{id}')}`;
}

export async function runScenario(
  scenario: OrchestrationScenario,
  bundles: PreparedBundles,
  workDir = path.join(BENCH_WORK_DIR, 'orchestration'),
): Promise<ScenarioResult> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const db = await startEmbeddedDynamoDb();
    stops.push(() => db.close());
    const tableName = 'openbanking-balances-bench';
    await createActiveTable(db, tableName);
    const meter = await startDynamoMeter(db.endpoint);
    stops.push(() => meter.close());

    const dataset = generateDataset({
      users: scenario.users,
      connectionsPerUser: scenario.connectionsPerUser,
      accountsPerConnection: scenario.accountsPerConnection,
      now: new Date(),
    });
    const sandbox = await startPowensSandbox({ dataset, syncLatencyMs: scenario.syncLatencyMs });
    stops.push(() => sandbox.close());
    for (const rule of scenario.faults ?? []) sandbox.faults.add(rule);
    await mkdir(workDir, { recursive: true });
    const secretFile = path.join(workDir, `powens-secret-${process.pid}.json`);
    await writeFile(secretFile, JSON.stringify(sandbox.secret), { mode: 0o600 });

    // The environment infra/local/run.ts gives each function (names from env-names.ts), DynamoDB via the meter.
    const environment: Record<string, string> = {
      [ENV.tableName]: tableName,
      [ENV.powensBaseUrl]: sandbox.baseUrl,
      [ENV.powensSecretFile]: secretFile,
      [ENV.tenantId]: 'bench',
      // The bench sandbox has no limit: the shared Powens budget runs (its DynamoDB requests are metered) but never waits.
      [ENV.powensCallsPerMinute]: '1000000',
      AWS_REGION: LOCAL_AWS_REGION,
      AWS_ENDPOINT_URL_DYNAMODB: meter.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_SERVICE_NAME: 'openbanking-balances-bench',
      POWERTOOLS_METRICS_NAMESPACE: 'OpenBankingBench',
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };

    const started = new Map<
      string,
      { fn: BundledFunction; binding: StepFunctionBinding; maxIn: number; maxOut: number }
    >();
    const functions: Record<string, LocalFunction> = {};
    for (const binding of bundles.bindings) {
      const built = bundles.built.get(binding.id);
      if (!built) throw new Error(`prepareBundles built no bundle for ${binding.id}`);
      const fn = startBundledFunction(built.outfile, {
        name: binding.id,
        timeoutSeconds: binding.timeoutSeconds,
        memoryMb: binding.memoryMb,
        region: LOCAL_AWS_REGION,
        environment,
      });
      stops.push(() => fn.close());
      const entry = { fn, binding, maxIn: 0, maxOut: 0 };
      started.set(binding.id, entry);
      // Payload sizes as Step Functions would see them (the 256 KB limit applies to each).
      const measured: LocalFunction = {
        name: fn.name,
        close: () => fn.close(),
        invoke: async (payload) => {
          entry.maxIn = Math.max(entry.maxIn, Buffer.byteLength(JSON.stringify(payload ?? null)));
          const result = await fn.invoke(payload);
          entry.maxOut = Math.max(entry.maxOut, Buffer.byteLength(JSON.stringify(result ?? null)));
          return result;
        },
      };
      for (const operation of binding.operations) functions[operationArnPlaceholder(operation)] = measured;
    }

    const executionStarted = performance.now();
    const report = await executeLocally({
      definition: bundles.definition,
      input: {},
      functions,
      executionName: `bench-${scenario.name}`,
      region: LOCAL_AWS_REGION,
      ...(scenario.timeScale === undefined ? {} : { timeScale: scenario.timeScale }),
    });
    const wallMs = elapsed(executionStarted);

    const functionUsage: FunctionUsage[] = [...started.values()].map(({ fn, binding, maxIn, maxOut }) => {
      const records = fn.invocations();
      const durationsMs = records.map((r) => round(r.durationMs ?? binding.timeoutSeconds * 1000));
      const billedMs = durationsMs.reduce((sum, ms) => sum + Math.ceil(ms), 0);
      const initMs = round(records.reduce((sum, r) => sum + (r.initMs ?? 0), 0));
      return {
        id: binding.id,
        memoryMb: binding.memoryMb,
        invocations: records.length,
        failedInvocations: records.filter((r) => !r.ok).length,
        durationsMs,
        billedMs,
        gbSeconds: (billedMs / 1000) * (binding.memoryMb / 1024),
        initMs,
        maxPayloadInBytes: maxIn,
        maxPayloadOutBytes: maxOut,
      };
    });
    const invocations = functionUsage.reduce((sum, f) => sum + f.invocations, 0);
    const billedMs = functionUsage.reduce((sum, f) => sum + f.billedMs, 0);
    const gbSeconds = functionUsage.reduce((sum, f) => sum + f.gbSeconds, 0);
    const initGbSeconds = functionUsage.reduce((sum, f) => sum + (Math.ceil(f.initMs) / 1000) * (f.memoryMb / 1024), 0);
    const dynamodb = meter.usage();

    const byEndpoint: Record<string, number> = {};
    for (const request of sandbox.requests)
      byEndpoint[endpointOf(request)] = (byEndpoint[endpointOf(request)] ?? 0) + 1;
    const executionOutputBytes = Buffer.byteLength(JSON.stringify(report.output ?? null));
    const largestStateBytes = Math.max(
      executionOutputBytes,
      ...functionUsage.flatMap((f) => [f.maxPayloadInBytes, f.maxPayloadOutBytes]),
    );

    const usage = {
      transitions: report.transitions,
      lambdaRequests: invocations,
      lambdaGbSeconds: gbSeconds,
      writeRequestUnits: dynamodb.writeRequestUnits,
      readRequestUnits: dynamodb.readRequestUnits,
    };
    return {
      scenario,
      accounts: scenario.users * scenario.connectionsPerUser * scenario.accountsPerConnection,
      connections: scenario.users * scenario.connectionsPerUser,
      status: report.status,
      ...(report.error === undefined ? {} : { error: `${report.error}: ${report.cause ?? ''}` }),
      wallMs: round(wallMs),
      transitions: report.transitions,
      attempts: report.attempts,
      retryWaitsSeconds: report.retryWaits,
      lambda: {
        functions: functionUsage,
        invocations,
        billedMs,
        gbSeconds: round(gbSeconds, 6),
        initMs: round(functionUsage.reduce((sum, f) => sum + f.initMs, 0)),
        gbSecondsWithInit: round(gbSeconds + initGbSeconds, 6),
      },
      dynamodb,
      powens: {
        calls: sandbox.requests.length,
        byEndpoint,
        syncs: sandbox.syncRequests().length,
        failedCalls: sandbox.requests.filter((r) => r.status === undefined || r.status >= 400).length,
      },
      payload: {
        executionOutputBytes,
        largestStateBytes,
        limitBytes: STEP_FUNCTIONS_PAYLOAD_LIMIT_BYTES,
        withinLimit: largestStateBytes <= STEP_FUNCTIONS_PAYLOAD_LIMIT_BYTES,
      },
      costPer1000: costOf(usage, 1000),
      costPer1000WithInit: costOf({ ...usage, lambdaGbSeconds: gbSeconds + initGbSeconds }, 1000),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** Forced-sync PUTs of every connection fail `times` rounds (503), so refresh-balances fails that many attempts. */
export function failSyncsRounds(connections: number, rounds: number): FaultRule[] {
  return [
    {
      method: 'PUT',
      path: '/users/*/connections/*',
      times: connections * rounds,
      fault: { kind: 'status', status: 503 },
    },
  ];
}

export const ORCHESTRATION_METHOD =
  'The compiled seed state machine (infra/specs) executed by executeLocally (aws-local-stepfunctions) with each ' +
  'Task invoking the deployed bundle in a fresh Lambda-like worker process (cold environment, as a refresh every ' +
  '≥ 6 h finds in AWS). Transitions: the execution report (every state entered, retries included). Lambda: handler ' +
  'duration measured in the worker, billed as ceil(ms) per invocation × configured memory (infra/specs/bindings.ts). ' +
  'DynamoDB: request units metered on the wire by bench/dynamo-meter.ts (dynalite-computed ConsumedCapacity; failed ' +
  'conditional writes charged from the request). Powens: the sandbox request log. $ at us-east-1 list prices ' +
  '(bench/prices.ts), no free tier.';

export async function runOrchestration(
  scenarios: OrchestrationScenario[],
  bundles?: PreparedBundles,
): Promise<OrchestrationResult> {
  const prepared = bundles ?? (await prepareBundles());
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) results.push(await runScenario(scenario, prepared));
  return { method: ORCHESTRATION_METHOD, prices: PRICES, region: PRICES_REGION, scenarios: results };
}

/** The scenarios of issue #6 for 1 user × 3 connections. */
export function defaultScenarios(accountsPerConnection = 3): OrchestrationScenario[] {
  const base = { users: 1, connectionsPerUser: 3, accountsPerConnection };
  return [
    { ...base, name: 'happy-sync-0s', syncLatencyMs: 0, timeScale: 0 },
    { ...base, name: 'happy-sync-8s', syncLatencyMs: 8_000, timeScale: 0 },
    { ...base, name: 'two-retries', syncLatencyMs: 0, timeScale: 0, faults: failSyncsRounds(3, 2) },
  ];
}
