/**
 * Operation `openbanking.balances.get@1.0.0`: read the selected users' accounts from Powens, map them to canonical
 * AccountBalanceRecords (asset class, connection state), store them (history + latest, ../balances/store.ts) and
 * return them marked stale or not, with positions per currency and asset class (../balances/positions.ts).
 *
 * All reads happen before any write, so a retryable Powens failure throws with nothing written; the writes are
 * idempotent anyway (deterministic history keys, latest only moves forward), so a replay never duplicates.
 * A permanent failure for one user (e.g. revoked token → Unauthenticated) is reported under `failedUsers` and the
 * others are still stored; if every user failed the step throws the first error.
 *
 * Input: the workflow data. In the seed workflow that is the execution input merged with refresh-balances' report; the
 * operation reads the RefreshInput selection from it (userIds, connectionIds) and ignores the other steps' outputs.
 * The execution input itself is validated strictly by refresh-balances, the entry step, before anything happens.
 */
import { type StepError, toStepError } from '../errors';
import type { PowensApi, PowensUserCredentials } from '../adapters/powens/client-contract';
import type { PowensAccountsList } from '../adapters/powens/types';
import { type AccountBalanceRecord, type SkippedAccount, mapAccountToBalance } from './balances';
import {
  type BalanceView,
  type CashPosition,
  type Position,
  cashPositions,
  positionsOf,
  toBalanceView,
} from './positions';
import { CONFIG_DEFAULTS } from '../config';
import type { BalanceStore } from '../adapters/dynamodb/balance-store';
import type { SecretSource } from '../adapters/secrets/powens-secret';
import { type DomainLogger, type DomainMetrics, noMetrics, silentLogger } from '../observability';
import { settleWithConcurrency } from '../concurrency';
import { parseRefreshInput, selectRefreshInput, selectUsers } from './input';
import type { StepCallContext } from './refresh-balances';

export interface FetchBalancesOutput {
  /** Each with its `assetClass` and `stale` (as of this step's clock). */
  balances: BalanceView[];
  /** Newest lastUpdatedAt among the balances read; absent when none was read. */
  asOf?: string;
  /** Per currency and asset class, over every balance read (balances.ts: positionsOf). */
  positions: Position[];
  /** The `cash` rows of `positions`, per currency (the shape this field has always had). */
  cashPositions: CashPosition[];
  skipped: SkippedAccount[];
  failedUsers: { userId: number; error: { name: string; message: string } }[];
  storage: {
    historyWritten: number;
    latestAdvanced: number;
    latestStale: number;
    latestConnectionStateChanged: number;
  };
}

export interface FetchBalancesDeps {
  powens: PowensApi;
  secrets: SecretSource;
  store: BalanceStore;
  tenantId: string;
  /** Freshness threshold for `stale` when the input has no `maxAgeMinutes` (config FRESHNESS_MAX_AGE_MINUTES). Default 360. */
  maxAgeMinutes?: number;
  clock?: () => Date;
  /** Users read at once. Default 4. */
  concurrency?: number;
  logger?: DomainLogger;
  metrics?: DomainMetrics;
}

interface UserRead {
  list: PowensAccountsList;
  /** Per connection: its `last_update` (fallback balance time) and its state, as read with the accounts. */
  connections: Map<number, { lastUpdate: string | null; state?: string | null }>;
}

async function readUser(powens: PowensApi, user: PowensUserCredentials): Promise<UserRead> {
  // expand=connection: each account carries its connection (state, last_update) in the same call, so knowing
  // whether a balance is stuck behind an SCA wall costs no extra Powens request.
  const list = await powens.listAccounts(user, { expandConnection: true });
  const connections: UserRead['connections'] = new Map();
  for (const account of list.accounts) {
    const connection = account.connection;
    if (connection && account.id_connection !== null) {
      connections.set(account.id_connection, {
        lastUpdate: connection.last_update ?? null,
        state: connection.state ?? null,
      });
    }
  }
  // The connection's last_update is only a fallback timestamp: list connections only when an account lacks its own
  // and its connection was not expanded.
  const lacking = list.accounts.some(
    (account) =>
      account.balance !== null &&
      !account.last_update &&
      !(account.id_connection !== null && connections.has(account.id_connection)),
  );
  if (lacking) {
    for (const connection of await powens.listConnections(user)) {
      if (!connections.has(connection.id))
        connections.set(connection.id, { lastUpdate: connection.last_update, state: connection.state ?? null });
    }
  }
  return { list, connections };
}

export async function fetchBalances(
  rawInput: unknown,
  context: StepCallContext,
  deps: FetchBalancesDeps,
): Promise<FetchBalancesOutput> {
  const input = parseRefreshInput(selectRefreshInput(rawInput));
  const clock = deps.clock ?? (() => new Date());
  const logger = deps.logger ?? silentLogger;
  const metrics = deps.metrics ?? noMetrics;
  const secret = await deps.secrets.load(input.userIds);
  const users = selectUsers(secret, input.userIds);
  const connectionFilter = input.connectionIds === undefined ? undefined : new Set(input.connectionIds);
  const now = clock();

  const reads = await settleWithConcurrency(users, deps.concurrency ?? 4, (user) => readUser(deps.powens, user));
  const records: AccountBalanceRecord[] = [];
  const skipped: SkippedAccount[] = [];
  const failedUsers: FetchBalancesOutput['failedUsers'] = [];
  const errors: StepError[] = [];
  const seenConnections = new Set<number>();
  reads.forEach((read, index) => {
    const user = users[index] as PowensUserCredentials;
    if (read.status === 'rejected') {
      const error = toStepError(read.reason);
      if (error.retryable) throw error;
      errors.push(error);
      failedUsers.push({ userId: user.userId, error: { name: error.name, message: error.message } });
      return;
    }
    for (const account of read.value.list.accounts) {
      if (account.id_connection !== null) seenConnections.add(account.id_connection);
      if (connectionFilter && (account.id_connection === null || !connectionFilter.has(account.id_connection)))
        continue;
      const connection = account.id_connection === null ? undefined : read.value.connections.get(account.id_connection);
      const mapped = mapAccountToBalance(account, {
        tenantId: deps.tenantId,
        userId: user.userId,
        connectionLastUpdate: connection?.lastUpdate ?? null,
        ...(connection?.state !== undefined ? { connectionState: connection.state } : {}),
        now,
      });
      if ('record' in mapped) records.push(mapped.record);
      else skipped.push(mapped.skipped);
    }
  });
  if (users.length > 0 && errors.length === users.length) throw errors[0] as StepError;
  if (connectionFilter && errors.length === 0 && input.connectionIds) {
    // A connection with no enabled account is indistinguishable from an unknown one here; refresh-balances (which
    // lists connections) is where unknown ids are rejected. Only log, do not fail the read.
    const unseen = input.connectionIds.filter((id) => !seenConnections.has(id));
    if (unseen.length > 0) logger.warn('connectionIds without any listed account', { connectionIds: unseen });
  }

  const written = await deps.store.writeSnapshots(records);
  records.sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));

  // The threshold this execution's refresh used (input), else the configured one: "stale" means "the refresh
  // would sync it", whichever way the execution was started.
  const policy = {
    maxAgeMinutes: input.maxAgeMinutes ?? deps.maxAgeMinutes ?? CONFIG_DEFAULTS.freshnessMaxAgeMinutes,
    now,
  };
  const views = records.map((record) => toBalanceView(record, policy));
  const output: FetchBalancesOutput = {
    balances: views,
    positions: positionsOf(records, policy),
    cashPositions: cashPositions(records),
    skipped,
    failedUsers,
    storage: {
      historyWritten: written.historyWritten,
      latestAdvanced: written.latestAdvanced,
      latestStale: written.latestStale,
      latestConnectionStateChanged: written.latestConnectionStateChanged,
    },
  };
  const asOf = records.reduce<string | undefined>(
    (max, r) => (max === undefined || r.lastUpdatedAt > max ? r.lastUpdatedAt : max),
    undefined,
  );
  if (asOf !== undefined) output.asOf = asOf;

  metrics.count('BalancesRead', records.length);
  metrics.count('AccountsSkipped', skipped.length);
  metrics.count('LatestAdvanced', written.latestAdvanced);
  metrics.count('LatestStale', written.latestStale);
  logger.info('fetch-balances finished', {
    executionId: context.executionId,
    balances: records.length,
    skipped,
    failedUsers,
    storage: output.storage,
    dynamoRequests: written.requests,
  });
  return output;
}
