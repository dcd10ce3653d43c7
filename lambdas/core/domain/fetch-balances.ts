/**
 * Operation `openbanking.balances.get@1.0.0`: read the selected users' accounts from Powens, map them to canonical
 * AccountBalanceRecords, store them (history + latest, ../balances/store.ts) and return them with per-currency cash
 * positions.
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
import { type AccountBalanceRecord, type CashPosition, type SkippedAccount, cashPositions, mapAccountToBalance } from './balances';
import type { BalanceStore } from '../adapters/dynamodb/balance-store';
import type { SecretSource } from '../adapters/secrets/powens-secret';
import { type DomainLogger, type DomainMetrics, noMetrics, silentLogger } from '../observability';
import { settleWithConcurrency } from '../concurrency';
import { parseRefreshInput, selectRefreshInput, selectUsers } from './input';
import type { StepCallContext } from './refresh-balances';


export interface FetchBalancesOutput {
  balances: AccountBalanceRecord[];
  /** Newest lastUpdatedAt among the balances read; absent when none was read. */
  asOf?: string;
  cashPositions: CashPosition[];
  skipped: SkippedAccount[];
  failedUsers: { userId: number; error: { name: string; message: string } }[];
  storage: { historyWritten: number; latestAdvanced: number; latestStale: number };
}

export interface FetchBalancesDeps {
  powens: PowensApi;
  secrets: SecretSource;
  store: BalanceStore;
  tenantId: string;
  clock?: () => Date;
  /** Users read at once. Default 4. */
  concurrency?: number;
  logger?: DomainLogger;
  metrics?: DomainMetrics;
}

async function readUser(
  powens: PowensApi,
  user: PowensUserCredentials,
): Promise<{ list: PowensAccountsList; connectionLastUpdate: Map<number, string | null> }> {
  const list = await powens.listAccounts(user);
  const connectionLastUpdate = new Map<number, string | null>();
  // The connection's last_update is only a fallback timestamp: fetch connections only when an account lacks its own.
  if (list.accounts.some((account) => account.balance !== null && !account.last_update)) {
    for (const connection of await powens.listConnections(user)) {
      connectionLastUpdate.set(connection.id, connection.last_update);
    }
  }
  return { list, connectionLastUpdate };
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
  const secret = await deps.secrets.load();
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
      if (connectionFilter && (account.id_connection === null || !connectionFilter.has(account.id_connection))) continue;
      const mapped = mapAccountToBalance(account, {
        tenantId: deps.tenantId,
        userId: user.userId,
        connectionLastUpdate:
          account.id_connection === null ? null : read.value.connectionLastUpdate.get(account.id_connection) ?? null,
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

  const output: FetchBalancesOutput = {
    balances: records,
    cashPositions: cashPositions(records),
    skipped,
    failedUsers,
    storage: {
      historyWritten: written.historyWritten,
      latestAdvanced: written.latestAdvanced,
      latestStale: written.latestStale,
    },
  };
  const asOf = records.reduce<string | undefined>((max, r) => (max === undefined || r.lastUpdatedAt > max ? r.lastUpdatedAt : max), undefined);
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
