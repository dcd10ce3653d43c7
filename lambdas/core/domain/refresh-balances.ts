/**
 * Operation `openbanking.balances.refresh@1.0.0`: ask Powens to sync the selected connections, only when their data
 * is stale, within PSD2 limits counted per bank access.
 *
 * Per connection, in this order:
 * 0. The execution marker is read first (when there is an execution id), so every report below carries the
 *    requests sent for the connection in earlier attempts of this execution.
 * 1. State says only the account holder can unblock it (SCARequired, wrongpass, ...) or it is unrecoverable
 *    (notSupported, unknown future states) → `needs_user_action`. Never forced: an unattended PUT could trigger SCA.
 * 2. Powens retries by itself (rateLimiting, websiteUnavailable, bug) → `skipped` / `provider_retrying`.
 *    `validating` → `skipped` / `sync_in_progress`. Inactive connection → `skipped` / `inactive`.
 * 3. Already finished in an earlier attempt of this execution (marker `done`) → that attempt's report again, with
 *    `fromEarlierAttempt: true`: a retry neither re-syncs nor under-reports what was synced.
 * 4. A sync request of an earlier attempt never got its answer (timeout, reset, 5xx: the bank may have been reached)
 *    → read the connection first: `last_update` moved → `synced`; `validating` → `skipped` / `sync_in_progress`.
 *    Only otherwise may it be sent again, and then under a NEW PSD2 slot (step 6).
 * 5. Freshness (unless `maxAgeMinutes` is 0): `last_update` younger than `maxAgeMinutes` (input, default from the
 *    configuration, 360) → `skipped` / `fresh`; Powens' own `next_try` within the next hour → `skipped` /
 *    `provider_sync_due`. Powens syncs every connection about once a day by itself: forcing is for stale data only.
 * 6. Unattended (psuRequested false): Powens' own recent sync is counted first (observeSync), then one PSD2 slot is
 *    taken for THIS request; none left → `skipped` / `psd2_budget_exhausted` (a policy outcome, not a failure).
 *    The marker counts the request before it leaves (`forcedSyncs` in the report, across attempts). Both happen once
 *    the request has its Powens rate-budget slot: a request that budget refuses is never sent and spends neither.
 * 7. PUT sync (psu_requested = input.psuRequested ?? false): 200 with a healthy state → `synced`; 202 or a
 *    needs-user state → `needs_user_action`; a Powens-retrying state → `skipped` / `provider_retrying`;
 *    409 → `skipped` / `sync_in_progress`.
 *
 * Failure policy (Step Functions retries the whole step, so the step must be safe to re-run):
 * - Every connection is attempted and recorded (markers, log) before the step decides how to end.
 * - If any connection failed with a RETRYABLE error (RateLimited, BadGateway, ServiceUnavailable, Timeout), the step
 *   throws the first such error: the retry re-runs only what is not done (markers), see 3. and 4.
 * - A PERMANENT error on some connections (NotFound, Forbidden, Unauthenticated for one user...) is reported as
 *   outcome `failed` with the error name: one broken connection must not block a family's other banks.
 * - If ALL connections (and users) failed, the step throws the first error: nothing useful happened.
 * Listing a user's connections is a read with no side effect: a retryable failure there throws at once.
 */
import { type StepError, ValidationFailedError, isRetryableErrorName, toStepError } from '../errors';
import { parsePowensDateTime } from '../adapters/powens/datetime';
import type { PowensApi, PowensUserCredentials } from '../adapters/powens/client-contract';
import { type PowensConnection, classifyConnectionState } from '../adapters/powens/types';
import type { Psd2Budget } from '../adapters/dynamodb/psd2-budget';
import type { SecretSource } from '../adapters/secrets/powens-secret';
import { type DomainLogger, type DomainMetrics, noMetrics, silentLogger } from '../observability';
import { settleWithConcurrency } from '../concurrency';
import type { CompletedSync, ExecutionMarkers, PendingSync } from '../adapters/dynamodb/execution-markers';
import type { ConnectionHealthStore } from '../adapters/dynamodb/connection-health';
import { healthFromConnection } from './connection-health';
import { parseRefreshInput, selectUsers } from './input';

export type ConnectionOutcome = 'synced' | 'skipped' | 'needs_user_action' | 'failed';
export type ConnectionReason =
  | 'provider_retrying'
  | 'sync_in_progress'
  | 'fresh'
  | 'provider_sync_due'
  | 'psd2_budget_exhausted'
  | 'inactive'
  | 'user_action_required'
  | 'unrecoverable_state'
  | 'connections_unavailable';

export interface ConnectionReport {
  userId: number;
  /** Absent when the failure is user-wide (listing the user's connections failed). */
  connectionId?: number;
  outcome: ConnectionOutcome;
  reason?: ConnectionReason;
  /** Powens connection state (null = healthy). */
  state?: string | null;
  /** Connection's last successful update, ISO 8601 UTC. */
  lastUpdate?: string | null;
  /** Powens' next automatic sync, ISO 8601 UTC, when it announced one. */
  nextTry?: string | null;
  /** Sync requests sent for this connection in this execution, across attempts (each spent its own PSD2 slot). */
  forcedSyncs?: number;
  /** The outcome was decided by an earlier attempt of this execution (a Step Functions retry). */
  fromEarlierAttempt?: true;
  error?: { name: string; message: string };
}

export interface RefreshBalancesOutput {
  refreshedAt: string;
  connections: ConnectionReport[];
  summary: Record<ConnectionOutcome, number>;
  /** Sync requests sent in this execution, all connections and attempts together. */
  forcedSyncs: number;
  /** The freshness threshold applied (input or configured default). */
  maxAgeMinutes: number;
}

/** Default of `maxAgeMinutes` when neither the input nor the configuration sets one. */
export const DEFAULT_MAX_AGE_MINUTES = 360;
/** Powens' own sync due within this window makes a forced one pointless. */
export const PROVIDER_SYNC_DUE_WINDOW_MS = 60 * 60 * 1000;

export interface RefreshBalancesDeps {
  powens: PowensApi;
  secrets: SecretSource;
  budget: Psd2Budget;
  markers: ExecutionMarkers;
  clock?: () => Date;
  /** Connections synced at once (each PUT can block for minutes). Default 4. */
  concurrency?: number;
  /** `maxAgeMinutes` when the input has none (configuration FRESHNESS_MAX_AGE_MINUTES). Default 360. */
  defaultMaxAgeMinutes?: number;
  /** Connection health items (GET /connections, stale balances); recorded for every connection looked at. */
  health?: { store: ConnectionHealthStore; tenantId: string };
  logger?: DomainLogger;
  metrics?: DomainMetrics;
}

export interface StepCallContext {
  /** `$$.Execution.Id`; without it (a direct call) there is no retry memory, only the PSD2 budget. */
  executionId?: string;
}

function isoOrNull(value: string | null | undefined): string | null {
  return parsePowensDateTime(value)?.toISOString() ?? null;
}

/** Outcome implied by a connection's state, or undefined when a sync may be forced. */
function outcomeForState(
  connection: Pick<PowensConnection, 'state'>,
): Pick<ConnectionReport, 'outcome' | 'reason'> | undefined {
  switch (classifyConnectionState(connection.state)) {
    case 'needs_user':
      return { outcome: 'needs_user_action', reason: 'user_action_required' };
    case 'unrecoverable':
      return { outcome: 'needs_user_action', reason: 'unrecoverable_state' };
    case 'transient':
      return { outcome: 'skipped', reason: 'provider_retrying' };
    case 'in_progress':
      return { outcome: 'skipped', reason: 'sync_in_progress' };
    case 'ok':
      return undefined;
  }
}

function stateFields(connection: PowensConnection): Pick<ConnectionReport, 'state' | 'lastUpdate' | 'nextTry'> {
  const fields: Pick<ConnectionReport, 'state' | 'lastUpdate' | 'nextTry'> = {
    state: connection.state ?? null,
    lastUpdate: isoOrNull(connection.last_update),
  };
  const nextTry = isoOrNull(connection.next_try);
  if (nextTry !== null) fields.nextTry = nextTry;
  return fields;
}

/** Why a healthy connection need not be forced now, or undefined when its data is stale. */
export function freshnessReason(
  connection: Pick<PowensConnection, 'last_update' | 'next_try'>,
  now: Date,
  maxAgeMinutes: number,
): 'fresh' | 'provider_sync_due' | undefined {
  if (maxAgeMinutes === 0) return undefined;
  const lastUpdate = parsePowensDateTime(connection.last_update);
  if (lastUpdate !== null && now.getTime() - lastUpdate.getTime() < maxAgeMinutes * 60_000) return 'fresh';
  const nextTry = parsePowensDateTime(connection.next_try);
  if (
    nextTry !== null &&
    nextTry.getTime() >= now.getTime() &&
    nextTry.getTime() - now.getTime() <= PROVIDER_SYNC_DUE_WINDOW_MS
  ) {
    return 'provider_sync_due';
  }
  return undefined;
}

/** What the policy needs to know of a connection: a Powens listing or a connection-health observation. */
export type ConnectionFacts = Pick<PowensConnection, 'state' | 'active' | 'last_update' | 'next_try'>;

/**
 * The policy's steps 1, 2 and 5 (see the header): why a sync of this connection would not be forced now, or undefined
 * when it would be (PSD2 budget permitting). One rule for refresh-balances (on the live listing) and the fan-out (on
 * the connection-health items, lambdas/core/domain/fan-out.ts), so a user the fan-out skips is one this step would
 * have left alone.
 */
export function whyNotForced(
  connection: ConnectionFacts,
  now: Date,
  maxAgeMinutes: number,
): Pick<ConnectionReport, 'outcome' | 'reason'> | undefined {
  const byState = outcomeForState(connection);
  if (byState) return byState;
  if (!connection.active) return { outcome: 'skipped', reason: 'inactive' };
  const fresh = freshnessReason(connection, now, maxAgeMinutes);
  return fresh === undefined ? undefined : { outcome: 'skipped', reason: fresh };
}

function lastUpdateMs(value: string | null | undefined): number {
  return parsePowensDateTime(value)?.getTime() ?? Number.NEGATIVE_INFINITY;
}

export async function refreshBalances(
  rawInput: unknown,
  context: StepCallContext,
  deps: RefreshBalancesDeps,
): Promise<RefreshBalancesOutput> {
  const input = parseRefreshInput(rawInput);
  const clock = deps.clock ?? (() => new Date());
  const logger = deps.logger ?? silentLogger;
  const metrics = deps.metrics ?? noMetrics;
  const concurrency = deps.concurrency ?? 4;
  const psuRequested = input.psuRequested ?? false;
  const maxAgeMinutes = input.maxAgeMinutes ?? deps.defaultMaxAgeMinutes ?? DEFAULT_MAX_AGE_MINUTES;
  const { executionId } = context;

  const secret = await deps.secrets.load(input.userIds);
  const users = selectUsers(secret, input.userIds);

  // 1. Read every selected user's connections (no side effects yet).
  const listings = await settleWithConcurrency(users, concurrency, (user) => deps.powens.listConnections(user));
  const reports: ConnectionReport[] = [];
  const errors: StepError[] = [];
  const work: { user: PowensUserCredentials; connection: PowensConnection }[] = [];
  listings.forEach((listing, index) => {
    const user = users[index] as PowensUserCredentials;
    if (listing.status === 'rejected') {
      const error = toStepError(listing.reason);
      // A read failed transiently before anything was written: retrying the whole step is free.
      if (error.retryable) throw error;
      errors.push(error);
      reports.push({
        userId: user.userId,
        outcome: 'failed',
        reason: 'connections_unavailable',
        error: { name: error.name, message: error.message },
      });
      return;
    }
    for (const connection of listing.value) {
      if (input.connectionIds === undefined || input.connectionIds.includes(connection.id)) {
        work.push({ user, connection });
      }
    }
  });
  if (input.connectionIds !== undefined && errors.length === 0) {
    const found = new Set(work.map((w) => w.connection.id));
    const missing = input.connectionIds.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw new ValidationFailedError(
        `input.connectionIds contains connection id(s) not found for the selected users: ${missing.join(', ')}.`,
        { details: { missingConnectionIds: missing } },
      );
    }
  }

  // 2. Sync, connection by connection, with bounded concurrency.
  // Requests sent per connection, also for connections whose attempt then failed.
  const sentCounts = new Map<number, number>();
  async function refreshOne(user: PowensUserCredentials, listed: PowensConnection): Promise<ConnectionReport> {
    const base = { userId: user.userId, connectionId: listed.id };
    let syncsSent = 0;
    let connection = listed;
    const finish = async (report: ConnectionReport): Promise<ConnectionReport> => {
      if (syncsSent > 0) report.forcedSyncs = syncsSent;
      if (executionId !== undefined) {
        const completed: CompletedSync = { outcome: report.outcome };
        if (report.reason !== undefined) completed.reason = report.reason;
        if (report.state !== undefined) completed.state = report.state;
        if (report.lastUpdate !== undefined) completed.lastUpdate = report.lastUpdate;
        await deps.markers.complete(executionId, user.userId, listed.id, completed);
      }
      return report;
    };

    if (executionId !== undefined) {
      const marker = await deps.markers.begin(executionId, user.userId, listed.id);
      syncsSent = marker.syncsSent;
      sentCounts.set(listed.id, syncsSent);
      if (marker.done) {
        const report: ConnectionReport = {
          ...base,
          outcome: marker.result.outcome as ConnectionOutcome,
          fromEarlierAttempt: true,
        };
        if (marker.result.reason !== undefined) report.reason = marker.result.reason as ConnectionReason;
        if (marker.result.state !== undefined) report.state = marker.result.state;
        if (marker.result.lastUpdate !== undefined) report.lastUpdate = marker.result.lastUpdate;
        if (syncsSent > 0) report.forcedSyncs = syncsSent;
        return report;
      }
      if (marker.pending !== undefined) {
        // The earlier request may have reached the bank: what Powens says now decides, never a blind re-send.
        connection = await deps.powens.getConnection(user, listed.id);
        const before =
          marker.pending.lastUpdateBefore === null
            ? Number.NEGATIVE_INFINITY
            : Date.parse(marker.pending.lastUpdateBefore);
        if (lastUpdateMs(connection.last_update) > before) {
          return finish({
            ...base,
            ...(outcomeForState(connection) ?? { outcome: 'synced' }),
            ...stateFields(connection),
          });
        }
      }
    }

    // After the marker: a retry that finds the connection in one of these states still reports its earlier requests.
    const notForced = whyNotForced(connection, clock(), maxAgeMinutes);
    if (notForced) return finish({ ...base, ...notForced, ...stateFields(connection) });

    if (!psuRequested) {
      const lastUpdate = parsePowensDateTime(connection.last_update);
      if (lastUpdate !== null) await deps.budget.observeSync(user.userId, listed.id, lastUpdate);
    }
    // Run by the client once the request has its Powens rate slot, right before it leaves: a request the rate budget
    // refuses (RateLimited) is never sent, so it must spend no PSD2 slot and leave no `pending` marker behind.
    let psd2Exhausted = false;
    const beforeSend = async (): Promise<void> => {
      if (!psuRequested) {
        const reservation = await deps.budget.reserve(user.userId, listed.id, executionId ? { executionId } : {});
        if (!reservation.granted) {
          psd2Exhausted = true;
          throw new Error('PSD2 budget exhausted: not sending');
        }
      }
      const pending: PendingSync = {
        lastUpdateBefore: isoOrNull(connection.last_update),
        sentAt: clock().toISOString(),
      };
      syncsSent =
        executionId === undefined
          ? syncsSent + 1
          : await deps.markers.beforeSend(executionId, user.userId, listed.id, pending);
      sentCounts.set(listed.id, syncsSent);
    };

    let report: ConnectionReport;
    try {
      const result = await deps.powens.syncConnection(user, listed.id, { psuRequested, beforeSend });
      const after = result.connection;
      const afterState = outcomeForState(after);
      if (result.httpStatus === 202) {
        report = { ...base, outcome: 'needs_user_action', reason: 'user_action_required', ...stateFields(after) };
      } else if (afterState && afterState.outcome === 'needs_user_action') {
        report = { ...base, ...afterState, ...stateFields(after) };
      } else if (afterState && afterState.reason === 'provider_retrying') {
        report = { ...base, ...afterState, ...stateFields(after) };
      } else {
        report = { ...base, outcome: 'synced', ...stateFields(after) };
      }
    } catch (error) {
      if (psd2Exhausted) {
        return finish({ ...base, outcome: 'skipped', reason: 'psd2_budget_exhausted', ...stateFields(connection) });
      }
      const stepError = toStepError(error);
      // 409: a sync is already running for this connection (Powens or another execution).
      if (stepError.name === 'Conflict') {
        return finish({ ...base, outcome: 'skipped', reason: 'sync_in_progress', ...stateFields(connection) });
      }
      // Anything else leaves the marker `pending`: the retry reads the connection before any re-send.
      throw stepError;
    }
    return finish(report);
  }

  const results = await settleWithConcurrency(work, concurrency, ({ user, connection }) =>
    refreshOne(user, connection),
  );
  results.forEach((result, index) => {
    const { user, connection } = work[index] as (typeof work)[number];
    if (result.status === 'fulfilled') {
      reports.push(result.value);
      return;
    }
    const error = toStepError(result.reason);
    errors.push(error);
    const failed: ConnectionReport = {
      userId: user.userId,
      connectionId: connection.id,
      outcome: 'failed',
      error: { name: error.name, message: error.message },
      ...stateFields(connection),
    };
    const sent = sentCounts.get(connection.id) ?? 0;
    if (sent > 0) failed.forcedSyncs = sent;
    reports.push(failed);
  });

  reports.sort((a, b) => a.userId - b.userId || (a.connectionId ?? 0) - (b.connectionId ?? 0));
  if (deps.health !== undefined) {
    const { store, tenantId } = deps.health;
    const observedAt = clock();
    const active = new Map(work.map(({ connection }) => [connection.id, connection.active]));
    const recorded = await settleWithConcurrency(
      reports.filter((r) => r.connectionId !== undefined && r.state !== undefined),
      concurrency,
      (r) =>
        store.record(
          tenantId,
          healthFromConnection(
            r.userId,
            {
              id: r.connectionId as number,
              state: r.state ?? null,
              last_update: r.lastUpdate ?? null,
              next_try: r.nextTry ?? null,
              active: active.get(r.connectionId as number) ?? true,
            },
            observedAt,
            'workflow',
          ),
        ),
    );
    const failed = recorded.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw toStepError(failed.reason);
  }
  const summary: Record<ConnectionOutcome, number> = { synced: 0, skipped: 0, needs_user_action: 0, failed: 0 };
  for (const report of reports) summary[report.outcome] += 1;
  for (const [outcome, count] of Object.entries(summary)) metrics.count(`Connections_${outcome}`, count);
  const forcedSyncs = reports.reduce((total, r) => total + (r.forcedSyncs ?? 0), 0);
  metrics.count('Psd2BudgetExhausted', reports.filter((r) => r.reason === 'psd2_budget_exhausted').length);
  metrics.count('ForcedSyncs', forcedSyncs);
  logger.info('refresh-balances finished', { executionId, summary, forcedSyncs, maxAgeMinutes, connections: reports });

  const retryable = errors.find((error) => isRetryableErrorName(error.name));
  if (retryable) throw retryable;
  if (errors.length > 0 && errors.length === reports.length) throw errors[0] as StepError;

  return { refreshedAt: clock().toISOString(), connections: reports, summary, forcedSyncs, maxAgeMinutes };
}
