import './node-compat';
import { StateMachine } from 'aws-local-stepfunctions';
import type { JsonValue as Json, StateMachineDefinition, TaskState } from '../compiler/asl';
import { aslRetryWaitSeconds } from '../compiler/retry';
import type { LocalFunction } from './lambda-emulator';

/**
 * Runs a compiled definition, unchanged, in aws-local-stepfunctions with every Task bound to a local function.
 * The definition is never edited: placeholders such as `${openbanking_balances_get_1_0_0_FunctionArn}` stay in it and are resolved
 * here, the way CDK's DefinitionSubstitutions resolve them in AWS.
 */

export type ProgressEvent =
  | { type: 'execution-started'; executionName: string }
  | { type: 'state-entered'; state: string; stateType: string; attempt: number }
  | { type: 'state-failed'; state: string; error: string; cause: string; attempt: number }
  | {
      type: 'retry-scheduled';
      state: string;
      error: string;
      retry: number;
      maxRetries: number;
      waitSeconds: number;
      scaledWaitMs: number;
    }
  | { type: 'state-succeeded'; state: string; attempt: number }
  | { type: 'execution-succeeded' }
  | { type: 'execution-failed'; error: string; cause: string };

export interface ExecuteOptions {
  definition: StateMachineDefinition;
  input: unknown;
  /** Placeholder key (without `${}`) → function, e.g. openbanking_balances_get_1_0_0_FunctionArn. */
  functions: Readonly<Record<string, LocalFunction>>;
  executionName: string;
  /**
   * Multiplies the retry waits the Retry blocks ask for. Undefined: the interpreter waits the real schedule itself.
   * 0 runs retries back to back. The schedule reported is always the unscaled one the definition asks for.
   */
  timeScale?: number;
  onProgress?: (event: ProgressEvent) => void;
  region?: string;
  /**
   * Stand-in for `arn:aws:states:::states:startExecution.sync:2` (the fan-out's per-user task): receives the task's
   * resolved Parameters ({StateMachineArn, Input}) and answers what DescribeExecution would. Absent: such a task fails.
   */
  startExecutionSync?: (request: { StateMachineArn?: string; Input?: unknown }) => Promise<unknown>;
}

export interface ExecutionReport {
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: string;
  cause?: string;
  /** Billed state transitions of a Standard workflow: every state entered, retries included. */
  transitions: number;
  /** Attempts per state (1 = no retry). */
  attempts: Record<string, number>;
  /** Waits (s) the Retry blocks asked for before each retry, per state. */
  retryWaits: Record<string, number[]>;
}

/** ASL retrier semantics (states-language.net "Retrying after error"): first retrier that matches wins. */
export function matchRetrier(state: Pick<TaskState, 'Retry'>, errorName: string): number {
  const retriers = state.Retry ?? [];
  return retriers.findIndex((r) =>
    r.ErrorEquals.some(
      (e) => e === errorName || e === 'States.ALL' || (e === 'States.TaskFailed' && errorName !== 'States.Timeout'),
    ),
  );
}

/**
 * Definitions already validated by the interpreter. A fan-out runs the same seed definition object once per user, and
 * validating it (asl-validator compiles its JSON schemas on every call) took half the CPU of a local fan-out: the
 * first execution of a definition validates it, the others reuse that verdict.
 */
const validated = new WeakSet<StateMachineDefinition>();

export async function executeLocally(options: ExecuteOptions): Promise<ExecutionReport> {
  const { definition, onProgress = () => undefined } = options;
  const region = options.region ?? 'eu-west-3';
  const attempts: Record<string, number> = {};
  const retryWaits: Record<string, number[]> = {};
  const retrierCounters: Record<string, number[]> = {};
  let transitions = 0;
  const scaled = options.timeScale !== undefined;

  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of taskStates(definition.States)) {
    const invoke = taskInvoker(name, state, options.functions, options.startExecutionSync);
    if (scaled && state.Retry) retryIntervalOverrides[name] = 0;
    handlers[name] = async (input: Json): Promise<Json> => {
      const attempt = (attempts[name] = (attempts[name] ?? 0) + 1);
      transitions += 1;
      onProgress({ type: 'state-entered', state: name, stateType: state.Type, attempt });
      try {
        const result = (await invoke(input)) as Json;
        onProgress({ type: 'state-succeeded', state: name, attempt });
        return result;
      } catch (error) {
        const errorName = error instanceof Error ? error.name : 'Error';
        const cause = error instanceof Error ? error.message : String(error);
        onProgress({ type: 'state-failed', state: name, error: errorName, cause, attempt });
        const index = matchRetrier(state, errorName);
        const retrier = index >= 0 ? state.Retry?.[index] : undefined;
        if (retrier) {
          const counters = (retrierCounters[name] ??= []);
          const k = (counters[index] ?? 0) + 1;
          if (k <= retrier.MaxAttempts) {
            counters[index] = k;
            const waitSeconds = aslRetryWaitSeconds(retrier, k);
            (retryWaits[name] ??= []).push(waitSeconds);
            const scaledWaitMs = scaled ? waitSeconds * 1000 * (options.timeScale ?? 1) : waitSeconds * 1000;
            onProgress({
              type: 'retry-scheduled',
              state: name,
              error: errorName,
              retry: k,
              maxRetries: retrier.MaxAttempts,
              waitSeconds,
              scaledWaitMs,
            });
            // With a time scale the interpreter's own wait is overridden to 0 and the scaled wait happens here.
            if (scaled && scaledWaitMs > 0) await new Promise((resolve) => setTimeout(resolve, scaledWaitMs));
          }
        }
        throw error;
      }
    };
  }

  const machine = new StateMachine(definition as never, {
    validationOptions: validated.has(definition) ? { noValidate: true } : { checkArn: false, checkPaths: true },
  });
  validated.add(definition);
  onProgress({ type: 'execution-started', executionName: options.executionName });
  const executionArn = `arn:aws:states:${region}:000000000000:execution:local:${options.executionName}`;
  const execution = machine.run(options.input as Json, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
    context: {
      Execution: {
        Id: executionArn,
        Name: options.executionName,
        StartTime: new Date().toISOString(),
        Input: options.input as Json,
      },
      StateMachine: { Id: `arn:aws:states:${region}:000000000000:stateMachine:local`, Name: 'local' },
    } as never,
  });
  // Non-Task states are billed transitions too; Task entries are counted by their handlers (once per attempt).
  const counting = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered' && event.state.type !== 'Task') transitions += 1;
    }
  })();
  try {
    const output = await execution.result;
    await counting;
    onProgress({ type: 'execution-succeeded' });
    return { status: 'SUCCEEDED', output, transitions, attempts, retryWaits };
  } catch (error) {
    await counting.catch(() => undefined);
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const errorName = cause instanceof Error ? cause.name : 'Error';
    const message = cause instanceof Error ? cause.message : String(cause);
    onProgress({ type: 'execution-failed', error: errorName, cause: message });
    return { status: 'FAILED', error: errorName, cause: message, transitions, attempts, retryWaits };
  }
}

/**
 * Every Task, those inside Map item processors included (the interpreter looks local handlers up by state name, at any
 * depth). A duplicate name would make that lookup ambiguous, so it is refused.
 */
function taskStates(states: StateMachineDefinition['States']): [string, TaskState][] {
  const found: [string, TaskState][] = [];
  const visit = (level: Record<string, unknown>): void => {
    for (const [name, raw] of Object.entries(level)) {
      const state = raw as {
        Type?: string;
        ItemProcessor?: { States?: Record<string, unknown> };
        Iterator?: { States?: Record<string, unknown> };
      };
      if (state.Type === 'Task') {
        if (found.some(([n]) => n === name))
          throw new Error(`Task state name "${name}" occurs twice; local handlers need unique names.`);
        found.push([name, raw as TaskState]);
      }
      const nested = (state.ItemProcessor ?? state.Iterator)?.States;
      if (state.Type === 'Map' && nested) visit(nested);
    }
  };
  visit(states as Record<string, unknown>);
  return found;
}

const PLACEHOLDER = /^\$\{([A-Za-z0-9_]+)\}$/;

/** Emulates the two Lambda integrations the way Step Functions performs them. */
function taskInvoker(
  stateName: string,
  state: TaskState,
  functions: Readonly<Record<string, LocalFunction>>,
  startExecutionSync?: ExecuteOptions['startExecutionSync'],
): (input: Json) => Promise<unknown> {
  const resolve = (ref: unknown): LocalFunction => {
    const key = typeof ref === 'string' ? PLACEHOLDER.exec(ref)?.[1] : undefined;
    const fn = key ? functions[key] : undefined;
    if (!fn) {
      throw new Error(
        `State "${stateName}" targets ${JSON.stringify(ref)}, which no local function is bound to. ` +
          `Bound placeholders: ${Object.keys(functions).join(', ') || '(none)'}.`,
      );
    }
    return fn;
  };
  if (state.Resource === 'arn:aws:states:::lambda:invoke') {
    const fn = resolve(state.Parameters.FunctionName);
    // lambda:invoke returns the Invoke API response; the compiled ResultSelector keeps `$.Payload`.
    return async (input) => {
      const request = input as { Payload?: unknown };
      // Lambda answers with JSON text, which Step Functions parses: re-parsing here also gives the interpreter
      // objects of its own realm (the emulator's worker results fail its `object` checks under jest otherwise).
      const payload = await fn.invoke(request.Payload);
      return {
        ExecutedVersion: '$LATEST',
        Payload: payload === undefined ? null : (JSON.parse(JSON.stringify(payload)) as unknown),
        StatusCode: 200,
      };
    };
  }
  if (state.Resource === 'arn:aws:states:::states:startExecution.sync:2' && startExecutionSync) {
    return (input) => startExecutionSync(input as { StateMachineArn?: string; Input?: unknown });
  }
  if (state.Resource.startsWith('arn:aws:states:::')) {
    throw new Error(`State "${stateName}" uses ${state.Resource}, which the local run does not emulate.`);
  }
  const fn = resolve(state.Resource);
  return (input) => fn.invoke(input);
}
