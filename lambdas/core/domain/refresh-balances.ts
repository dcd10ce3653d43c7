/**
 * Operation `openbanking.balances.refresh@1.0.0`: ask Powens to sync the selected connections, within PSD2 limits.
 *
 * Per connection, in this order:
 * 1. State says only the account holder can unblock it (SCARequired, wrongpass, ...) or it is unrecoverable
 *    (notSupported, unknown future states) → `needs_user_action`. Never forced: an unattended PUT could trigger SCA.
 * 2. Powens retries by itself (rateLimiting, websiteUnavailable, bug) → `skipped` / `provider_retrying`.
 *    `validating` → `skipped` / `sync_in_progress`. Inactive connection → `skipped` / `inactive`.
 * 3. Already handled in this execution (execution marker `done`) → `skipped` / `already_synced_in_execution`, with
 *    the state recorded then. This is what makes a retried step safe: it never PUTs twice per execution.
 * 4. Unattended (psuRequested false): take a PSD2 slot (or reuse the one this execution already holds); none left →
 *    `skipped` / `psd2_budget_exhausted` (a policy outcome, not a failure).
 * 5. PUT sync (psu_requested = input.psuRequested ?? false): 200 with a healthy state → `synced`; 202 or a
 *    needs-user state → `needs_user_action`; a Powens-retrying state → `skipped` / `provider_retrying`;
 *    409 → `skipped` / `sync_in_progress`.
 *
 * Failure policy (Step Functions retries the whole step, so the step must be safe to re-run):
 * - Every connection is attempted and recorded (markers, log) before the step decides how to end.
 * - If any connection failed with a RETRYABLE error (RateLimited, BadGateway, ServiceUnavailable, Timeout), the step
 *   throws the first such error: the retry re-runs only what is not done (markers), and spends no new PSD2 slot.
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
import type { CompletedSync, ExecutionMarkers } from '../adapters/dynamodb/execution-markers';
import { parseRefreshInput, selectUsers } from './input';

export const REFRESH_BALANCES_OPERATION = 'openbanking.balances.refresh@1.0.0';

export type ConnectionOutcome = 'synced' | 'skipped' | 'needs_user_action' | 'failed';
export type ConnectionReason =
  | 'provider_retrying'
  | 'sync_in_progress'
  | 'already_synced_in_execution'
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
  error?: { name: string; message: string };
}

export interface RefreshBalancesOutput {
  refreshedAt: string;
  connections: ConnectionReport[];
  summary: Record<ConnectionOutcome, number>;
}

export interface RefreshBalancesDeps {
  powens: PowensApi;
  secrets: SecretSource;
  budget: Psd2Budget;
  markers: ExecutionMarkers;
  clock?: () => Date;
  /** Connections synced at once (each PUT can block for minutes). Default 4. */
  concurrency?: number;
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
function outcomeForState(connection: PowensConnection): Pick<ConnectionReport, 'outcome' | 'reason'> | undefined {
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

function stateFields(connection: PowensConnection): Pick<ConnectionReport, 'state' | 'lastUpdate'> {
  return { state: connection.state ?? null, lastUpdate: isoOrNull(connection.last_update) };
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
  async function refreshOne(user: PowensUserCredentials, connection: PowensConnection): Promise<ConnectionReport> {
    const base = { userId: user.userId, connectionId: connection.id };
    const byState = outcomeForState(connection);
    if (byState) return { ...base, ...byState, ...stateFields(connection) };
    if (!connection.active) return { ...base, outcome: 'skipped', reason: 'inactive', ...stateFields(connection) };

    let reservedSlot: number | undefined;
    if (executionId !== undefined) {
      const marker = await deps.markers.begin(executionId, user.userId, connection.id);
      if (marker.done) {
        const report: ConnectionReport = { ...base, outcome: 'skipped', reason: 'already_synced_in_execution' };
        if (marker.result.state !== undefined) report.state = marker.result.state;
        if (marker.result.lastUpdate !== undefined) report.lastUpdate = marker.result.lastUpdate;
        return report;
      }
      reservedSlot = marker.reservedSlot;
    }

    if (!psuRequested && reservedSlot === undefined) {
      const reservation = await deps.budget.reserve(user.userId, connection.id, executionId ? { executionId } : {});
      if (!reservation.granted) {
        return { ...base, outcome: 'skipped', reason: 'psd2_budget_exhausted', ...stateFields(connection) };
      }
      if (executionId !== undefined) {
        await deps.markers.recordReservation(executionId, user.userId, connection.id, reservation.slot);
      }
    }

    let report: ConnectionReport;
    try {
      const result = await deps.powens.syncConnection(user, connection.id, { psuRequested });
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
      const stepError = toStepError(error);
      // 409: a sync is already running for this connection (Powens or another execution). Not done: a retry may PUT.
      if (stepError.name === 'Conflict') {
        return { ...base, outcome: 'skipped', reason: 'sync_in_progress', ...stateFields(connection) };
      }
      throw stepError;
    }
    if (executionId !== undefined) {
      const completed: CompletedSync = { outcome: report.outcome };
      if (report.reason !== undefined) completed.reason = report.reason;
      if (report.state !== undefined) completed.state = report.state;
      if (report.lastUpdate !== undefined) completed.lastUpdate = report.lastUpdate;
      await deps.markers.complete(executionId, user.userId, connection.id, completed);
    }
    return report;
  }

  const results = await settleWithConcurrency(work, concurrency, ({ user, connection }) => refreshOne(user, connection));
  results.forEach((result, index) => {
    const { user, connection } = work[index] as (typeof work)[number];
    if (result.status === 'fulfilled') {
      reports.push(result.value);
      return;
    }
    const error = toStepError(result.reason);
    errors.push(error);
    reports.push({
      userId: user.userId,
      connectionId: connection.id,
      outcome: 'failed',
      error: { name: error.name, message: error.message },
      ...stateFields(connection),
    });
  });

  reports.sort((a, b) => a.userId - b.userId || (a.connectionId ?? 0) - (b.connectionId ?? 0));
  const summary: Record<ConnectionOutcome, number> = { synced: 0, skipped: 0, needs_user_action: 0, failed: 0 };
  for (const report of reports) summary[report.outcome] += 1;
  for (const [outcome, count] of Object.entries(summary)) metrics.count(`Connections_${outcome}`, count);
  metrics.count('Psd2BudgetExhausted', reports.filter((r) => r.reason === 'psd2_budget_exhausted').length);
  logger.info('refresh-balances finished', { executionId, summary, connections: reports });

  const retryable = errors.find((error) => isRetryableErrorName(error.name));
  if (retryable) throw retryable;
  if (errors.length > 0 && errors.length === reports.length) throw errors[0] as StepError;

  return { refreshedAt: clock().toISOString(), connections: reports, summary };
}
