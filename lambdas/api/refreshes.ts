/**
 * Refresh executions: start one (idempotently) and report on one. Step Functions is reached through an injected
 * client so tests can substitute a fake (there is no local Step Functions API to talk to).
 */
import {
  DescribeExecutionCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type StartExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import type { RefreshInput } from '../core/domain/refresh-input';
import { badRequest, conflict, notFound } from './http';
import { FAN_OUT_NAME_PREFIX, plannedExecution, type PlannedExecution, type RefreshKind } from './refresh-request';

/** The two SFN commands this API uses; `SFNClient` satisfies it. */
export interface SfnSender {
  send(command: StartExecutionCommand): Promise<StartExecutionCommandOutput>;
  send(command: DescribeExecutionCommand): Promise<DescribeExecutionCommandOutput>;
}

export interface RefreshDeps {
  sfn: SfnSender;
  /** The compiled refresh workflow (the seed machine): requests naming users or connections. */
  stateMachineArn: string;
  /** The fan-out machine (one seed execution per user): requests naming neither. */
  fanOutStateMachineArn: string;
  now: () => Date;
}

export interface StartedRefresh {
  executionArn: string;
  executionName: string;
  /**
   * ISO-8601. For a double submit this is the original execution's start: Step Functions answers a repeated
   * StartExecution for a running execution as if it were new, so the start date is how a caller tells them apart.
   */
  startDate: string;
  /** Which machine runs it: `seed` (the named users in one execution) or `fan-out` (one execution per user). */
  kind: RefreshKind;
}

export interface RefreshStatus {
  executionArn: string;
  executionName: string;
  status: string;
  /** `fan-out`: `output` is the summary (users counted by outcome, failed user ids), never balances. */
  kind: RefreshKind;
  startDate?: string;
  stopDate?: string;
  /** The execution output, parsed (absent until the execution succeeds). */
  output?: unknown;
  error?: string;
  cause?: string;
}

/** Execution names as the API accepts them in `/refreshes/{id}`: Step Functions' safe subset, 1..80 chars. */
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** `arn:aws:states:r:a:stateMachine:M` + `n` → `arn:aws:states:r:a:execution:M:n`. */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  const marker = ':stateMachine:';
  const at = stateMachineArn.indexOf(marker);
  if (at < 0) throw new Error(`Not a state machine ARN: ${stateMachineArn}`);
  return `${stateMachineArn.slice(0, at)}:execution:${stateMachineArn.slice(at + marker.length)}:${executionName}`;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error
    ? String((error as { name: unknown }).name)
    : undefined;
}

const machineArn = (deps: RefreshDeps, kind: RefreshKind): string =>
  kind === 'seed' ? deps.stateMachineArn : deps.fanOutStateMachineArn;

/** The execution of that name on that machine, or undefined when there is none. */
async function findExecution(
  deps: RefreshDeps,
  kind: RefreshKind,
  executionName: string,
): Promise<(DescribeExecutionCommandOutput & { executionArn: string }) | undefined> {
  const executionArn = executionArnFor(machineArn(deps, kind), executionName);
  try {
    return { ...(await deps.sfn.send(new DescribeExecutionCommand({ executionArn }))), executionArn };
  } catch (error) {
    if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

const reusedRequestId = (name: string) =>
  conflict(
    `Execution ${name} already exists with a different input; a requestId identifies one refresh. ` +
      'Use a new requestId for a different body.',
  );

function existingRefresh(
  planned: PlannedExecution,
  existing: DescribeExecutionCommandOutput & { executionArn: string },
): StartedRefresh {
  if (existing.input !== undefined && existing.input !== planned.executionInput) {
    throw reusedRequestId(planned.executionName);
  }
  return {
    executionArn: existing.executionArn,
    executionName: planned.executionName,
    startDate: required(existing.startDate, 'startDate').toISOString(),
    kind: planned.kind,
  };
}

/**
 * Starts the refresh a body asks for, once: execution names are unique per state machine for 90 days, so
 * StartExecution itself is the idempotency check. A requestId names one refresh across BOTH machines: the other
 * machine is asked first, so reusing it for a body of the other kind is a 409 too (two concurrent first submits of
 * one requestId with bodies of different kinds can still both start: a client bug this does not guard against).
 */
export async function startRefresh(deps: RefreshDeps, input: RefreshInput): Promise<StartedRefresh> {
  const now = deps.now();
  const planned = plannedExecution(input, now);
  if (input.requestId !== undefined) {
    const elsewhere = plannedExecution(input, now, planned.kind === 'seed' ? 'fan-out' : 'seed');
    const found = await findExecution(deps, elsewhere.kind, elsewhere.executionName);
    if (found !== undefined) {
      // A seed input is the whole canonical body: the same one there is this very request, started before the API
      // routed such bodies to the fan-out (it ran `{}` on the seed machine until then), so a retry gets that
      // execution rather than a second refresh. A fan-out input omits ids, so it proves nothing: 409.
      if (elsewhere.kind === 'seed') return existingRefresh(elsewhere, found);
      throw reusedRequestId(elsewhere.executionName);
    }
  }
  try {
    const started = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: machineArn(deps, planned.kind),
        name: planned.executionName,
        input: planned.executionInput,
      }),
    );
    return {
      executionArn: required(started.executionArn, 'executionArn'),
      executionName: planned.executionName,
      startDate: required(started.startDate, 'startDate').toISOString(),
      kind: planned.kind,
    };
  } catch (error) {
    // Closed execution with this name, or a running one with another input (a running one with the same input
    // is answered with success by Step Functions itself).
    if (errorName(error) !== 'ExecutionAlreadyExists') throw error;
  }
  const existing = await findExecution(deps, planned.kind, planned.executionName);
  if (existing === undefined) throw new Error(`Step Functions reported ${planned.executionName} as existing, then not`);
  return existingRefresh(planned, existing);
}

/**
 * Status of one refresh. A `fanout-` name is looked up on the fan-out machine; any other name on the seed machine,
 * then on the fan-out machine, so executions the API did not name (the schedule's, the console's) are found too.
 */
export async function describeRefresh(deps: RefreshDeps, executionName: string): Promise<RefreshStatus> {
  if (!EXECUTION_NAME.test(executionName)) {
    throw badRequest(
      `Invalid refresh id "${executionName.slice(0, 100)}": expected an execution name matching ${EXECUTION_NAME.source}.`,
    );
  }
  const kinds: RefreshKind[] = executionName.startsWith(FAN_OUT_NAME_PREFIX) ? ['fan-out'] : ['seed', 'fan-out'];
  for (const kind of kinds) {
    const described = await findExecution(deps, kind, executionName);
    if (described === undefined) continue;
    const status: RefreshStatus = {
      executionArn: described.executionArn,
      executionName,
      status: required(described.status, 'status'),
      kind,
    };
    if (described.startDate) status.startDate = described.startDate.toISOString();
    if (described.stopDate) status.stopDate = described.stopDate.toISOString();
    if (described.output !== undefined) status.output = parseOutput(described.output);
    if (described.error !== undefined) status.error = described.error;
    if (described.cause !== undefined) status.cause = described.cause;
    return status;
  }
  throw notFound(`No refresh named ${executionName}.`);
}

function parseOutput(output: string): unknown {
  try {
    return JSON.parse(output);
  } catch {
    return output; // Step Functions outputs are JSON; keep the text rather than fail the status call.
  }
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new Error(`Step Functions response lacks ${field}`);
  return value;
}
