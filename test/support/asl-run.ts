/**
 * Executes a compiled workflow in aws-local-stepfunctions with in-memory step handlers, the way tests need it:
 * - each Task is overridden by a function keyed on its state name (= step id) that emulates the
 *   `arn:aws:states:::lambda:invoke` integration: it receives {FunctionName, Payload}, calls the handler with the
 *   Payload exactly as a Lambda would get it, and returns {Payload: <the handler's return value>} (plus the other
 *   fields of a real Invoke result, which the compiled ResultSelector must ignore). Handlers are plain functions:
 *   they know nothing of the workflow;
 * - human tasks (`.waitForTaskToken`) return the handler's value directly, as SendTaskSuccess would;
 * - by default the run happens under @sinonjs/fake-timers, so retry back-offs and Task timeouts elapse in virtual
 *   time and every call records the virtual time it started at. Nothing sleeps for real.
 * Mocks are unavoidable here only for the Lambda service itself (no local Lambda); the interpreter is the real one.
 */
import FakeTimers from '@sinonjs/fake-timers';
import { getLanguageService } from 'amazon-states-language-service';
import { StateMachine, type StateMachineDefinition as LocalDefinition } from 'aws-local-stepfunctions';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CompiledWorkflow } from '../../infra/compiler/compile';
import type { StateMachineDefinition, TaskState } from '../../infra/compiler/asl';
import { namedError } from './named-error';

export const TEST_CONTEXT = {
  Execution: { Id: 'arn:aws:states:eu-west-1:123456789012:execution:wf:exec-1', Name: 'exec-1' },
  Task: { Token: 'tok' },
} as const;

/** What a Task sent its function: the workflow data, a human-task request or a compensation request. */
export type AnyPayload = Record<string, unknown>;

/** Returns the operation output (automation), the human's answer (human) or anything (compensation); may throw. */
export type StepHandler = (payload: AnyPayload, call: { attempt: number; at: number }) => unknown;

export interface CallRecord {
  state: string;
  /** 1-based attempt number for this state within the run. */
  attempt: number;
  /** Virtual milliseconds since the run started (fake timers), or real ones. */
  at: number;
  functionName: unknown;
  payload: AnyPayload;
  outcome?: 'ok' | 'error';
  error?: string;
}

export interface RunResult {
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: { Error: string; Cause: string };
  calls: CallRecord[];
  /** Calls of one state, in order. */
  callsOf(state: string): CallRecord[];
  /** Virtual waits (ms) between consecutive attempts of one state. */
  gapsOf(state: string): number[];
}

export interface RunOptions {
  /** Default true. */
  fakeTimers?: boolean;
}

export class LocalWorkflow {
  readonly definition: StateMachineDefinition;
  private readonly machine: StateMachine;

  constructor(compiled: CompiledWorkflow | string) {
    const json = typeof compiled === 'string' ? compiled : compiled.json;
    this.definition = JSON.parse(json) as StateMachineDefinition;
    this.machine = new StateMachine(this.definition as unknown as LocalDefinition);
  }

  async run(input: unknown, handlers: Record<string, StepHandler>, options: RunOptions = {}): Promise<RunResult> {
    const clock =
      options.fakeTimers === false ? undefined : FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const started = Date.now();
    const calls: CallRecord[] = [];
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [name, state] of Object.entries(this.definition.States)) {
      if (state.Type !== 'Task') continue;
      overrides[name] = (raw) => this.invoke(name, state, raw, handlers, calls, started);
    }
    try {
      const execution = this.machine.run(input as never, {
        overrides: { taskResourceLocalHandlers: overrides as never },
        context: TEST_CONTEXT as never,
      });
      let settled = false;
      const outcome = execution.result.then(
        (output) => ({ status: 'SUCCEEDED' as const, output }),
        (error: unknown) => {
          const cause = (error as { cause?: { name?: string; message?: string } }).cause;
          return {
            status: 'FAILED' as const,
            error: { Error: cause?.name ?? String(error), Cause: cause?.message ?? '' },
          };
        },
      );
      void outcome.finally(() => {
        settled = true;
      });
      if (clock) {
        // Timers are created as the execution progresses; keep draining until it settles.
        for (let i = 0; i < 10_000 && !settled; i += 1) await clock.runAllAsync();
      }
      const result = await outcome;
      return {
        ...result,
        calls,
        callsOf: (state) => calls.filter((c) => c.state === state),
        gapsOf: (state) => {
          const at = calls.filter((c) => c.state === state).map((c) => c.at);
          return at.slice(1).map((t, i) => t - (at[i] as number));
        },
      };
    } finally {
      clock?.uninstall();
    }
  }

  private async invoke(
    name: string,
    state: TaskState,
    raw: unknown,
    handlers: Record<string, StepHandler>,
    calls: CallRecord[],
    started: number,
  ): Promise<unknown> {
    const { FunctionName, Payload } = raw as { FunctionName: unknown; Payload: AnyPayload };
    const handler = handlers[name];
    const attempt = calls.filter((c) => c.state === name).length + 1;
    const record: CallRecord = {
      state: name,
      attempt,
      at: Date.now() - started,
      functionName: FunctionName,
      payload: Payload,
    };
    calls.push(record);
    if (!handler) {
      record.outcome = 'error';
      throw namedError('InternalError', `test: no handler for state "${name}"`);
    }
    try {
      const output = await handler(Payload, { attempt, at: record.at });
      record.outcome = 'ok';
      if (state.Resource.endsWith('.waitForTaskToken')) return output;
      // A Node Lambda returning undefined yields the JSON `null` payload.
      return {
        ExecutedVersion: '$LATEST',
        StatusCode: 200,
        Payload: output ?? null,
        SdkHttpMetadata: { HttpStatusCode: 200 },
      };
    } catch (error) {
      record.outcome = 'error';
      record.error = (error as Error).name;
      throw error;
    }
  }
}

const languageService = getLanguageService({});

/** AWS's own ASL schema + structural checks (amazon-states-language-service); [] when valid. */
export async function aslDiagnostics(json: string): Promise<{ message: string; line: number }[]> {
  const doc = TextDocument.create('file:///workflow.asl.json', 'json', 1, json);
  const diagnostics = await languageService.doValidation(doc, languageService.parseJSONDocument(doc));
  return diagnostics.map((d) => ({
    message: typeof d.message === 'string' ? d.message : d.message.value,
    line: d.range.start.line + 1,
  }));
}
