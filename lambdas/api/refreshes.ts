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
import { canonicalInputJson, executionNameFor } from './refresh-request';

/** The two SFN commands this API uses; `SFNClient` satisfies it. */
export interface SfnSender {
  send(command: StartExecutionCommand): Promise<StartExecutionCommandOutput>;
  send(command: DescribeExecutionCommand): Promise<DescribeExecutionCommandOutput>;
}

export interface RefreshDeps {
  sfn: SfnSender;
  stateMachineArn: string;
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
}

export interface RefreshStatus {
  executionArn: string;
  executionName: string;
  status: string;
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

export async function startRefresh(deps: RefreshDeps, input: RefreshInput): Promise<StartedRefresh> {
  const executionName = executionNameFor(input, deps.now());
  const executionInput = canonicalInputJson(input);
  try {
    const started = await deps.sfn.send(
      new StartExecutionCommand({ stateMachineArn: deps.stateMachineArn, name: executionName, input: executionInput }),
    );
    return {
      executionArn: required(started.executionArn, 'executionArn'),
      executionName,
      startDate: required(started.startDate, 'startDate').toISOString(),
    };
  } catch (error) {
    // Closed execution with this name, or a running one with another input (a running one with the same input
    // is answered with success by Step Functions itself).
    if (errorName(error) !== 'ExecutionAlreadyExists') throw error;
  }
  const executionArn = executionArnFor(deps.stateMachineArn, executionName);
  const existing = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
  if (existing.input !== undefined && existing.input !== executionInput) {
    throw conflict(
      `Execution ${executionName} already exists with a different input; a requestId identifies one refresh. ` +
        'Use a new requestId for a different body.',
    );
  }
  return {
    executionArn,
    executionName,
    startDate: required(existing.startDate, 'startDate').toISOString(),
  };
}

export async function describeRefresh(deps: RefreshDeps, executionName: string): Promise<RefreshStatus> {
  if (!EXECUTION_NAME.test(executionName)) {
    throw badRequest(
      `Invalid refresh id "${executionName.slice(0, 100)}": expected an execution name matching ${EXECUTION_NAME.source}.`,
    );
  }
  const executionArn = executionArnFor(deps.stateMachineArn, executionName);
  let described: DescribeExecutionCommandOutput;
  try {
    described = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (errorName(error) === 'ExecutionDoesNotExist') throw notFound(`No refresh named ${executionName}.`);
    throw error;
  }
  const status: RefreshStatus = {
    executionArn,
    executionName,
    status: required(described.status, 'status'),
  };
  if (described.startDate) status.startDate = described.startDate.toISOString();
  if (described.stopDate) status.stopDate = described.stopDate.toISOString();
  if (described.output !== undefined) status.output = parseOutput(described.output);
  if (described.error !== undefined) status.error = described.error;
  if (described.cause !== undefined) status.cause = described.cause;
  return status;
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
