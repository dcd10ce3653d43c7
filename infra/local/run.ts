import './node-compat';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import { buildLambda, PROJECT_ROOT } from '../bundling';
import { compileWorkflow, operationArnPlaceholder } from '../compiler/compile';
import { STEP_FUNCTIONS, stepFunctionsByOperation } from '../specs/bindings';
import { refreshOpenBankingBalancesWorkflow } from '../specs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type BalanceView, type Position, positionsOf, toBalanceView } from '../../lambdas/core/domain/positions';
import { createBalanceStore } from '../../lambdas/core/adapters/dynamodb/balance-store';
import { CONFIG_DEFAULTS } from '../../lambdas/core/config';
import { ENV } from '../../lambdas/core/env-names';
import { createUserRegistry } from '../../lambdas/core/adapters/dynamodb/user-registry';
import { keyProviderFor } from '../../lambdas/core/adapters/keys/key-provider-for';
import { generateLocalKey } from '../../lambdas/core/adapters/keys/token-key-provider';
import {
  createBalancesTable,
  LOCAL_AWS_CREDENTIALS,
  LOCAL_AWS_REGION,
  startEmbeddedDynamoDb,
} from './embedded-dynamodb';
import type { StateMachineDefinition } from '../compiler/asl';
import { executeLocally, type ExecutionReport, type ProgressEvent } from './execute';
import { startBundledFunction, type LocalFunction } from './lambda-emulator';
import {
  createFamilyOfficeDataset,
  FAMILY_OFFICE_IDS,
  generateDataset,
  startPowensSandbox,
  type FaultRule,
  type PowensSandbox,
} from './powens-sandbox';
import { startWebhookReceiver } from './webhook-receiver';
import { buildWebhookDeps } from '../../lambdas/powens-webhooks/app';
import { noMetrics, silentLogger } from '../../lambdas/core/observability';
import { settleWithConcurrency } from '../../lambdas/core/concurrency';

/**
 * One full refresh on this machine: the compiled seed state machine, unchanged, executed by aws-local-stepfunctions;
 * each Task invokes the esbuild bundle CDK would deploy; DynamoDB and Powens are embedded unless configured.
 */
export interface LocalRunOptions {
  /** Execution input (what the console / schedule / API would send). Default {}. */
  input?: unknown;
  executionName?: string;
  /** Faults for the embedded Powens sandbox. */
  faults?: FaultRule[];
  /** Retry wait multiplier (see executeLocally); undefined = real waits. */
  timeScale?: number;
  /** Embedded sandbox: this many generated users instead of the family-office dataset (`--users N`). */
  sandboxUsers?: number;
  /** Embedded sandbox: how long a forced sync takes. */
  syncLatencyMs?: number;
  /**
   * Embedded sandbox: refuse calls beyond this many per 60 s itself (429 + Retry-After), as Powens does: a referee
   * for the rate budget. Default: no limit of its own.
   */
  sandboxCallsPerMinute?: number;
  /** Real Powens instead of the sandbox: API root and a secret file ({clientId, clientSecret, users:[...]}). */
  powensBaseUrl?: string;
  powensSecretFile?: string;
  powensTimeoutMs?: number;
  powensSyncTimeoutMs?: number;
  /**
   * Powens calls per minute for the shared rate budget (POWENS_CALLS_PER_MINUTE). Default: 600 with the embedded
   * sandbox (it has no limit unless configured, and the fault demos should not wait on tokens); the Lambdas' own
   * default (30, a Powens sandbox client) with a real Powens domain.
   */
  powensCallsPerMinute?: number;
  /** DynamoDB: an endpoint (e.g. DynamoDB Local) or a real region; embedded dynalite when neither is set. */
  dynamodbEndpoint?: string;
  awsRegion?: string;
  tableName?: string;
  tenantId?: string;
  /** Where bundles and the sandbox secret are written. */
  workDir?: string;
  /** Show the Lambdas' own JSON logs (Powertools); silent otherwise. */
  verbose?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** Called before anything is stopped: tests read back what was stored. */
  inspect?: (resources: LocalResources) => Promise<void>;
  /**
   * Embedded sandbox: the connection Powens "syncs by itself" before the refresh (its daily sync, delivered as a
   * webhook). Default the family office's stale BNP connection; null = none.
   */
  autoSyncConnection?: number | null;
}

export interface LocalResources {
  dynamodb: DynamoDBClient;
  tableName: string;
  tenantId: string;
  sandbox?: PowensSandbox;
}

/** What the sandbox pushed to the local webhook receiver during the run. */
export interface WebhookSummary {
  /** Deliveries (by id_webhook_data) of CONNECTION_SYNCED. */
  delivered: number;
  /** Final HTTP status of each delivery, counted. */
  statuses: Record<string, number>;
  /** Connections synced by the sandbox on its own (simulated daily sync). */
  autoSynced: number[];
}

function summarizeWebhooks(sandbox: PowensSandbox): WebhookSummary {
  const last = new Map<number, number | undefined>();
  for (const attempt of sandbox.webhookDeliveries()) last.set(attempt.idWebhookData, attempt.status);
  const statuses: Record<string, number> = {};
  for (const status of last.values())
    statuses[String(status ?? 'network error')] = (statuses[String(status ?? 'network error')] ?? 0) + 1;
  return {
    delivered: last.size,
    statuses,
    autoSynced: sandbox
      .bankSyncs()
      .filter((s) => s.trigger === 'auto')
      .map((s) => s.connectionId),
  };
}

export interface LocalRunResult extends ExecutionReport {
  /** Present with the embedded sandbox: the webhook path (sandbox → signed POST → receiver → table). */
  webhooks?: WebhookSummary;
  executionName: string;
  tableName: string;
  tenantId: string;
  /** Freshness threshold the Lambdas used (MAX_AGE_MINUTES default): what `stale` is judged against. */
  maxAgeMinutes: number;
  /** The tenant's latest balances as stored after the run (what GET /balances serves), with assetClass and stale. */
  balances: BalanceView[];
  /** Per currency and asset class over those balances (what GET /positions serves). */
  positions: Position[];
}

const DEFAULT_TENANT = 'family-office';
const DEFAULT_TABLE = 'openbanking-balances-local';

export async function runLocalRefresh(options: LocalRunOptions = {}): Promise<LocalRunResult> {
  const executionName = options.executionName ?? `local-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const stops: (() => Promise<void>)[] = [];
  try {
    const { definition, dynamo, powens, functions, tenantId, tableName, resources } = await openLocalAws(
      options,
      stops,
    );

    // Powens' own daily sync of one stale connection, pushed as a signed CONNECTION_SYNCED: the refresh then finds it
    // fresh and leaves it alone (webhooks first, forced syncs only for stale data).
    if (powens.sandbox && options.autoSyncConnection !== null) {
      await powens.sandbox.autoSync(options.autoSyncConnection ?? FAMILY_OFFICE_IDS.connections.claireBnp);
      await powens.sandbox.flushWebhooks();
    }
    const report = await executeLocally({
      definition,
      input: options.input ?? {},
      functions,
      executionName,
      region: dynamo.region,
      ...(options.timeScale === undefined ? {} : { timeScale: options.timeScale }),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    await powens.sandbox?.flushWebhooks();
    const webhooks = powens.sandbox ? summarizeWebhooks(powens.sandbox) : undefined;
    // Read back what dashboards would see, with the same domain code as the read API.
    const store = createBalanceStore({ client: DynamoDBDocumentClient.from(dynamo.client), tableName });
    const latest = await store.listLatest(tenantId);
    const maxAgeMinutes = CONFIG_DEFAULTS.freshnessMaxAgeMinutes;
    const policy = { maxAgeMinutes, now: new Date() };
    const dashboard = {
      maxAgeMinutes,
      balances: latest.map((record) => toBalanceView(record, policy)),
      positions: positionsOf(latest, policy),
    };
    await options.inspect?.(resources);
    return { ...report, executionName, tableName, tenantId, ...dashboard, ...(webhooks ? { webhooks } : {}) };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

export interface OpenedLocalAws {
  /** The compiled seed machine, unchanged. */
  definition: StateMachineDefinition;
  dynamo: OpenedDynamo;
  powens: OpenedPowens;
  /** The seed machine's functions, by placeholder. */
  functions: Record<string, LocalFunction>;
  /** The environment every local function gets (what CDK gives them in AWS). */
  environment: Record<string, string>;
  /** Work dir, tenant and table: the options' or the defaults. */
  workDir: string;
  tenantId: string;
  tableName: string;
  /** What `prepare` and `inspect` callbacks get. */
  resources: LocalResources;
}

/**
 * Everything a local execution needs, started in order (each stop pushed onto `stops`): the compiled seed machine,
 * DynamoDB, Powens (sandbox users in the user registry), and the seed machine's bundles in worker processes.
 */
export async function openLocalAws(options: LocalRunOptions, stops: (() => Promise<void>)[]): Promise<OpenedLocalAws> {
  const workDir = options.workDir ?? path.join(PROJECT_ROOT, '.local');
  const tenantId = options.tenantId ?? DEFAULT_TENANT;
  const tableName = options.tableName ?? DEFAULT_TABLE;
  // Compile first: an invalid spec or an unbound operation must fail before anything starts.
  const compiled = compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() });
  const definition = JSON.parse(compiled.json) as StateMachineDefinition;

  const dynamo = await openDynamoDb(options, tableName, stops);
  const powens = await openPowens(options, workDir, stops, { dynamo: dynamo.client, tableName, tenantId });
  // With the embedded sandbox, users and tokens live in the user registry as in AWS (local key instead of KMS).
  const tokenKeyFile = powens.sandbox
    ? await registerSandboxUsers(dynamo.client, tableName, tenantId, powens, workDir)
    : undefined;

  // Each function gets the environment CDK gives it in AWS (names from env-names.ts), nothing inherited.
  const environment: Record<string, string> = {
    [ENV.tableName]: tableName,
    [ENV.powensBaseUrl]: powens.baseUrl,
    [ENV.powensSecretFile]: powens.secretFile,
    [ENV.tenantId]: tenantId,
    ...(tokenKeyFile === undefined ? {} : { [ENV.tokenKeyFile]: tokenKeyFile }),
    AWS_REGION: dynamo.region,
    // Step failures are already printed as progress lines; the Lambdas' JSON logs are for --verbose.
    POWERTOOLS_LOG_LEVEL: options.verbose ? 'INFO' : 'SILENT',
    POWERTOOLS_SERVICE_NAME: 'openbanking-balances-local',
    POWERTOOLS_METRICS_NAMESPACE: 'OpenBankingLocal',
    POWERTOOLS_METRICS_DISABLED: options.verbose ? 'false' : 'true',
    // Unlike in AWS (infra/constructs/node-function.ts): locally, TypeScript stack traces are worth the import time.
    NODE_OPTIONS: '--enable-source-maps',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(dynamo.endpoint ? { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint } : {}),
    AWS_ACCESS_KEY_ID: dynamo.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: dynamo.credentials.secretAccessKey,
    ...(dynamo.credentials.sessionToken ? { AWS_SESSION_TOKEN: dynamo.credentials.sessionToken } : {}),
    ...(options.powensTimeoutMs === undefined ? {} : { [ENV.powensTimeoutMs]: String(options.powensTimeoutMs) }),
    ...(options.powensSyncTimeoutMs === undefined
      ? {}
      : { [ENV.powensSyncTimeoutMs]: String(options.powensSyncTimeoutMs) }),
    ...localRateBudget(options),
  };

  const functions: Record<string, LocalFunction> = {};
  for (const binding of STEP_FUNCTIONS) {
    const built = await buildLambda(binding.entry, path.join(workDir, 'bundles', binding.id));
    const fn = startBundledFunction(built.outfile, {
      name: binding.id,
      timeoutSeconds: binding.timeoutSeconds,
      memoryMb: binding.memoryMb,
      region: dynamo.region,
      environment,
    });
    stops.push(() => fn.close());
    for (const operation of binding.operations) functions[operationArnPlaceholder(operation)] = fn;
  }
  const resources: LocalResources = {
    dynamodb: dynamo.client,
    tableName,
    tenantId,
    ...(powens.sandbox ? { sandbox: powens.sandbox } : {}),
  };
  return { definition, dynamo, powens, functions, environment, workDir, tenantId, tableName, resources };
}

export interface OpenedDynamo {
  client: DynamoDBClient;
  region: string;
  endpoint?: string;
  /** Given to the Lambdas as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

async function openDynamoDb(
  options: LocalRunOptions,
  tableName: string,
  stops: (() => Promise<void>)[],
): Promise<OpenedDynamo> {
  if (options.awsRegion && !options.dynamodbEndpoint) {
    // Real DynamoDB: the table must exist (deployed by the stack). This process resolves credentials with the default
    // chain (profiles, SSO...) and hands them to the Lambdas in the environment, as Lambda does: the bundles read
    // credentials from the environment only (lambdas/core/adapters/aws/env-credentials.ts).
    const client = new DynamoDBClient({ region: options.awsRegion });
    stops.push(async () => client.destroy());
    const { accessKeyId, secretAccessKey, sessionToken } = await client.config.credentials();
    return {
      client,
      region: options.awsRegion,
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
    };
  }
  if (options.dynamodbEndpoint) {
    const region = options.awsRegion ?? LOCAL_AWS_REGION;
    const client = new DynamoDBClient({
      endpoint: options.dynamodbEndpoint,
      region,
      credentials: LOCAL_AWS_CREDENTIALS,
    });
    stops.push(async () => client.destroy());
    await createBalancesTable(client, tableName).catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException)) throw error;
    });
    return { client, region, endpoint: options.dynamodbEndpoint, credentials: LOCAL_AWS_CREDENTIALS };
  }
  // Against real Powens the PSD2 slots count real bank accesses: they must outlive this process, or every run would
  // start from a fresh budget. The embedded table then lives on disk (LevelDB) under the work directory.
  const persistent = options.powensBaseUrl === undefined ? undefined : localStatePath(options);
  if (persistent !== undefined) await mkdir(persistent, { recursive: true });
  const embedded = await startEmbeddedDynamoDb(persistent === undefined ? {} : { path: persistent });
  stops.push(() => embedded.close());
  await embedded.createTable(tableName).catch((error: unknown) => {
    if (!(persistent !== undefined && error instanceof ResourceInUseException)) throw error;
  });
  return {
    client: embedded.client,
    region: LOCAL_AWS_REGION,
    endpoint: embedded.endpoint,
    credentials: LOCAL_AWS_CREDENTIALS,
  };
}

/** Where a local run against real Powens keeps its table (PSD2 slots, markers, balances) between runs. */
export function localStatePath(options: Pick<LocalRunOptions, 'workDir'>): string {
  return path.join(options.workDir ?? path.join(PROJECT_ROOT, '.local'), 'dynamodb');
}

export interface OpenedPowens {
  baseUrl: string;
  secretFile: string;
  sandbox?: PowensSandbox;
}

async function openPowens(
  options: LocalRunOptions,
  workDir: string,
  stops: (() => Promise<void>)[],
  table: { dynamo: DynamoDBClient; tableName: string; tenantId: string },
): Promise<OpenedPowens> {
  if (options.powensBaseUrl) {
    if (!options.powensSecretFile) {
      throw new Error(
        '--powens-base-url needs --powens-secret-file (JSON: {clientId, clientSecret, users:[{userId, token}]}).',
      );
    }
    await readFile(options.powensSecretFile); // fail now, naming the file, rather than inside a Lambda
    return { baseUrl: options.powensBaseUrl, secretFile: path.resolve(options.powensSecretFile) };
  }
  await mkdir(workDir, { recursive: true });
  const secretFile = path.join(workDir, 'powens-sandbox-secret.json');
  // The webhook receiver (the real Lambda handler on loopback) is what the sandbox pushes CONNECTION_SYNCED to, as
  // Powens would to API Gateway. Quiet: its outcome is reported by the run, its JSON logs only with --verbose.
  const deps = buildWebhookDeps(
    { [ENV.tableName]: table.tableName, [ENV.tenantId]: table.tenantId, [ENV.powensSecretFile]: secretFile },
    DynamoDBDocumentClient.from(table.dynamo, { marshallOptions: { removeUndefinedValues: true } }),
  );
  const receiver = await startWebhookReceiver(
    options.verbose ? { deps } : { deps: { ...deps, logger: silentLogger, metrics: noMetrics }, quiet: true },
  );
  stops.push(() => receiver.close());
  const now = new Date();
  const sandbox = await startPowensSandbox({
    // --users N: N generated users (2 connections of 2 accounts each, synced a day ago) instead of the family office.
    dataset:
      options.sandboxUsers === undefined
        ? createFamilyOfficeDataset({ now })
        : generateDataset({ users: options.sandboxUsers, connectionsPerUser: 2, accountsPerConnection: 2, now }),
    syncLatencyMs: options.syncLatencyMs ?? 200,
    webhooks: { baseUrl: receiver.baseUrl },
    ...(options.sandboxCallsPerMinute === undefined ? {} : { rateLimit: { limit: options.sandboxCallsPerMinute } }),
  });
  stops.push(() => sandbox.close());
  for (const rule of options.faults ?? []) sandbox.faults.add(rule);
  // Sandbox tokens only; mode 0600 all the same, as a real secret file would be.
  await writeFile(secretFile, JSON.stringify(sandbox.secret, null, 2), { mode: 0o600 });
  return { baseUrl: sandbox.baseUrl, secretFile, sandbox };
}

/**
 * Stores the sandbox users in the user registry, tokens encrypted with a local AES-256-GCM key (created once in the
 * work dir, mode 0600, reused so a persistent DynamoDB keeps decrypting), and leaves only the client credentials in
 * the secret file: the Lambdas then read users and tokens the way they do in AWS. Returns the key file.
 */
async function registerSandboxUsers(
  client: DynamoDBClient,
  tableName: string,
  tenantId: string,
  powens: OpenedPowens,
  workDir: string,
): Promise<string> {
  const sandbox = powens.sandbox as PowensSandbox;
  const keyFile = path.join(workDir, 'user-token.key');
  const existing = await readFile(keyFile, 'utf8').catch(() => undefined);
  if (existing === undefined) await writeFile(keyFile, generateLocalKey(), { mode: 0o600 });
  const registry = createUserRegistry({
    client: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    tableName,
    tenantId,
    keys: keyProviderFor({ kind: 'local', keyFile }),
  });
  // A few puts in flight: `--users 10000` registers ten thousand users before the run starts.
  const registered = await settleWithConcurrency(sandbox.secret.users, 16, (user) =>
    registry.put({
      userId: user.userId,
      token: user.token,
      ...(user.label === undefined ? {} : { label: user.label }),
    }),
  );
  const failed = registered.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const { clientId, clientSecret, webhookSecret } = sandbox.secret;
  await writeFile(powens.secretFile, JSON.stringify({ clientId, clientSecret, webhookSecret }, null, 2), {
    mode: 0o600,
  });
  return keyFile;
}

export const LOCAL_SANDBOX_CALLS_PER_MINUTE = 600;

function localRateBudget(options: LocalRunOptions): Record<string, string> {
  const callsPerMinute =
    options.powensCallsPerMinute ?? (options.powensBaseUrl ? undefined : LOCAL_SANDBOX_CALLS_PER_MINUTE);
  return callsPerMinute === undefined ? {} : { [ENV.powensCallsPerMinute]: String(callsPerMinute) };
}
