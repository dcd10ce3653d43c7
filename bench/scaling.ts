/**
 * Scaling: the orchestration figures of one refresh execution for 1, 10 and 100 users (3 connections each, measured)
 * and 1,000 users (extrapolated linearly from the 10 → 100 slope, and marked so), plus the limits that bend the
 * curve before cost does: the Lambda timeout against sync latency, the 256 KB state payload, PSD2 and Powens quotas.
 */
import { STEP_FUNCTIONS } from '../infra/specs/bindings';
import { PSD2_REGULATORY_DAILY_LIMIT } from '../lambdas/core/config';
import {
  runScenario,
  STEP_FUNCTIONS_PAYLOAD_LIMIT_BYTES,
  type PreparedBundles,
  type ScenarioResult,
} from './orchestration';
import { round } from './support';

export interface ScalingRow {
  users: number;
  connections: number;
  accounts: number;
  measured: boolean;
  wallMs: number;
  transitions: number;
  lambdaInvocations: number;
  lambdaBilledMs: number;
  lambdaGbSeconds: number;
  writeRequestUnits: number;
  readRequestUnits: number;
  powensCalls: number;
  largestStateBytes: number;
  costPer1000Usd: number;
  costPerUserPer1000Usd: number;
}

export type Growth = 'constant' | 'sublinear' | 'linear' | 'superlinear';

export interface ScalingResult {
  method: string;
  rows: ScalingRow[];
  /** How each figure grew from 10 to 100 users (×10 users). */
  growth: Record<string, { ratio10to100: number; growth: Growth }>;
  limits: {
    refreshLambdaTimeoutSeconds: number;
    refreshSyncConcurrency: number;
    assumedSyncLatencySeconds: number;
    /** Connections one refresh-balances invocation can sync before its timeout at that latency. */
    maxConnectionsPerExecution: number;
    maxUsersPerExecution: number;
    payloadLimitBytes: number;
    /** Users at which the largest state payload reaches 256 KB (linear extrapolation). */
    usersAtPayloadLimit: number | null;
    psd2UnattendedSyncsPerConnectionPerDay: number;
    powensSandboxCallsPerMinute: number;
    /** Minutes one refresh of 1,000 users would need under the sandbox's 30 calls/min. */
    minutesPerRefreshAt1000UsersUnderSandboxLimit: number;
  };
  notes: string[];
}

export const SCALING_USERS = [1, 10, 100] as const;

const METRICS: (keyof ScalingRow)[] = [
  'transitions',
  'lambdaInvocations',
  'lambdaBilledMs',
  'lambdaGbSeconds',
  'writeRequestUnits',
  'readRequestUnits',
  'powensCalls',
  'largestStateBytes',
  'costPer1000Usd',
];

function rowOf(result: ScenarioResult): ScalingRow {
  return {
    users: result.scenario.users,
    connections: result.connections,
    accounts: result.accounts,
    measured: true,
    wallMs: result.wallMs,
    transitions: result.transitions,
    lambdaInvocations: result.lambda.invocations,
    lambdaBilledMs: result.lambda.billedMs,
    lambdaGbSeconds: result.lambda.gbSeconds,
    writeRequestUnits: result.dynamodb.writeRequestUnits,
    readRequestUnits: result.dynamodb.readRequestUnits,
    powensCalls: result.powens.calls,
    largestStateBytes: result.payload.largestStateBytes,
    costPer1000Usd: round(result.costPer1000.total, 4),
    costPerUserPer1000Usd: round(result.costPer1000.total / result.scenario.users, 5),
  };
}

function classify(ratio: number, usersRatio: number): Growth {
  if (ratio < 1.5) return 'constant';
  if (ratio < usersRatio * 0.6) return 'sublinear';
  if (ratio <= usersRatio * 1.5) return 'linear';
  return 'superlinear';
}

/** Linear through the last two measured rows. */
function extrapolate(a: ScalingRow, b: ScalingRow, users: number): ScalingRow {
  const at = (key: keyof ScalingRow): number => {
    const va = a[key] as number;
    const vb = b[key] as number;
    return vb + ((vb - va) / (b.users - a.users)) * (users - b.users);
  };
  const factor = users / b.users;
  const costPer1000Usd = round(at('costPer1000Usd'), 4);
  return {
    users,
    connections: b.connections * factor,
    accounts: b.accounts * factor,
    measured: false,
    wallMs: round(at('wallMs')),
    transitions: Math.round(at('transitions')),
    lambdaInvocations: Math.round(at('lambdaInvocations')),
    lambdaBilledMs: Math.round(at('lambdaBilledMs')),
    lambdaGbSeconds: round(at('lambdaGbSeconds'), 4),
    writeRequestUnits: Math.round(at('writeRequestUnits')),
    readRequestUnits: Math.round(at('readRequestUnits')),
    powensCalls: Math.round(at('powensCalls')),
    largestStateBytes: Math.round(at('largestStateBytes')),
    costPer1000Usd,
    costPerUserPer1000Usd: round(costPer1000Usd / users, 5),
  };
}

export interface ScalingOptions {
  users?: readonly number[];
  extrapolateTo?: number;
  connectionsPerUser?: number;
  accountsPerConnection?: number;
  /** Sync latency assumed for the timeout limit (the 8 s orchestration scenario). */
  assumedSyncLatencySeconds?: number;
}

export async function runScaling(bundles: PreparedBundles, options: ScalingOptions = {}): Promise<ScalingResult> {
  const users = options.users ?? SCALING_USERS;
  const connectionsPerUser = options.connectionsPerUser ?? 3;
  const accountsPerConnection = options.accountsPerConnection ?? 3;
  const rows: ScalingRow[] = [];
  for (const count of users) {
    const result = await runScenario(
      {
        name: `scaling-${count}-users`,
        users: count,
        connectionsPerUser,
        accountsPerConnection,
        syncLatencyMs: 0,
        timeScale: 0,
      },
      bundles,
    );
    if (result.status !== 'SUCCEEDED') throw new Error(`scaling run for ${count} users failed: ${result.error ?? ''}`);
    rows.push(rowOf(result));
  }
  const growth: ScalingResult['growth'] = {};
  const [a, b] = rows.slice(-2);
  if (a && b && rows.length >= 2) {
    for (const key of METRICS) {
      const [va, vb] = [a[key] as number, b[key] as number];
      const ratio = va === 0 && vb === 0 ? 1 : vb / Math.max(1e-9, va);
      growth[key] = { ratio10to100: round(ratio, 2), growth: classify(ratio, b.users / a.users) };
    }
    const target = options.extrapolateTo ?? 1000;
    if (target > b.users) rows.push(extrapolate(a, b, target));
  }

  const refresh = STEP_FUNCTIONS.find((binding) => binding.id === 'RefreshBalances');
  const timeout = refresh?.timeoutSeconds ?? 300;
  const concurrency = 4; // RefreshBalancesDeps.concurrency default (lambdas/core/domain/refresh-balances.ts)
  const latency = options.assumedSyncLatencySeconds ?? 8;
  const maxConnections = concurrency * Math.floor(timeout / latency);
  let usersAtPayloadLimit: number | null = null;
  if (a && b && b.largestStateBytes > a.largestStateBytes) {
    const slope = (b.largestStateBytes - a.largestStateBytes) / (b.users - a.users);
    usersAtPayloadLimit = Math.floor(b.users + (STEP_FUNCTIONS_PAYLOAD_LIMIT_BYTES - b.largestStateBytes) / slope);
  }
  const last = rows[rows.length - 1];
  const sandboxPerMinute = 30;

  return {
    method:
      `One execution of the seed state machine per row, all users in it (input {}), ${connectionsPerUser} connections × ` +
      `${accountsPerConnection} accounts per user, sandbox sync latency 0 (cost of waiting for syncs: see the 8 s ` +
      'scenario in orchestration.json). Rows for 1/10/100 users are measured; the last row is extrapolated linearly ' +
      'from the 10 → 100 slope (measured: false). Growth is judged on the 10 → 100 ratio (×10 users).',
    rows,
    growth,
    limits: {
      refreshLambdaTimeoutSeconds: timeout,
      refreshSyncConcurrency: concurrency,
      assumedSyncLatencySeconds: latency,
      maxConnectionsPerExecution: maxConnections,
      maxUsersPerExecution: Math.floor(maxConnections / connectionsPerUser),
      payloadLimitBytes: STEP_FUNCTIONS_PAYLOAD_LIMIT_BYTES,
      usersAtPayloadLimit,
      psd2UnattendedSyncsPerConnectionPerDay: PSD2_REGULATORY_DAILY_LIMIT,
      powensSandboxCallsPerMinute: sandboxPerMinute,
      minutesPerRefreshAt1000UsersUnderSandboxLimit: last ? round(last.powensCalls / sandboxPerMinute, 1) : 0,
    },
    notes: [
      'Transitions are constant per execution (2 Task states; +1 per Step Functions retry): orchestration cost does not grow with users.',
      'Lambda billed time, DynamoDB units and Powens calls grow with connections and accounts (one PUT per connection, ' +
        'one accounts list per user, history + latest write per account, PSD2 budget and execution-marker updates per connection).',
      `With real sync latency the refresh-balances invocation, not cost, is the first wall: ${concurrency} syncs at a time × ` +
        `${latency} s each fills its ${timeout} s timeout at about ${maxConnections} connections; beyond that the work must ` +
        'be split (a Map state over users, or one execution per user).',
      'Each step output is kept once in the state ($.steps.<id>.output) and fetch-balances returns every balance: ' +
        'the largest state (refresh report + balances) grows linearly with connections and accounts toward the 256 KB limit.',
      `PSD2 (RTS Art. 36(5)) allows ${PSD2_REGULATORY_DAILY_LIMIT} unattended syncs per connection per 24 h: at most ` +
        `${PSD2_REGULATORY_DAILY_LIMIT} scheduled refreshes a day, whatever the budget.`,
      `Powens publishes ${sandboxPerMinute} calls/min (86,400/day) for the sandbox; production quotas are negotiated. ` +
        "Forced syncs are meant for single, user-initiated refreshes (fair-use policy), so bulk unattended syncs of 1,000 users need Powens' agreement.",
      'Wall time here is with zero sync latency and everything on one 2-core machine; it is not a prediction of AWS wall time.',
    ],
  };
}
