/**
 * WorkflowSpec → Amazon States Language (JSONPath only: no JSONata, no Assign, no $$.State.RetryCount, so the same
 * definition runs in AWS and in aws-local-stepfunctions). See README.md in this folder for the data flow and every
 * deliberate deviation from ContractSpec's WorkflowRunner.
 */
import { functionArnPlaceholderKey, type StepFunctionBinding } from '../specs/bindings';
import type { Catcher, ChoiceRule, JsonValue, PassState, State, StateMachineDefinition, TaskState } from './asl';
import { ASL_LIMITS } from './asl';
import { compileCondition, jsonPathChild, parseCondition, type ConditionScope, type OptionalChainingMode } from './expression';
import { entryStepId, outgoing, topologicalOrder } from './graph';
import { buildFidelityReport, type FidelityReport } from './report';
import { msToSecondsCeil, toAslRetrier } from './retry';
import { opRefId, type CompensationStep, type Step, type Transition, type WorkflowSpec } from './spec';
import {
  findBinding,
  validateForAsl,
  WorkflowValidationError,
  type HumanTaskBinding,
  type ValidationIssue,
} from './validate';

export interface CompileOptions {
  /** Operation → Lambda table (infra/specs/bindings.ts). Every operation the spec uses must be bound. */
  bindings: readonly StepFunctionBinding[];
  /**
   * When a step has outgoing transitions and none matches: 'fail' (default) = ContractSpec's WorkflowRunner, which
   * throws "No transition matched"; 'succeed' = the Workflow DevKit runtime, which completes.
   */
  noMatch?: 'fail' | 'succeed';
  /** 'normalize' (default): `?.` reads as `.` (intended meaning). 'contractspec': such terms are always true, as in ContractSpec. */
  optionalChaining?: OptionalChainingMode;
  /** Required when the spec has human steps. */
  humanTaskBinding?: HumanTaskBinding;
  comment?: string;
  /** Turn sla.totalDurationMs into the state machine's TimeoutSeconds (stricter than ContractSpec, which only emits events). */
  enforceSla?: boolean;
  /** Compile unbound operations against placeholder functions (inspection only, e.g. the CLI's --allow-unbound). */
  allowUnboundOperations?: boolean;
}

export interface CompiledWorkflow {
  definition: StateMachineDefinition;
  /** Exactly `JSON.stringify(definition, null, 2)`: what CDK deploys and what the tests execute. */
  json: string;
  /** `${...}` placeholder keys used in the definition (DefinitionSubstitutions), sorted. */
  substitutions: string[];
  report: FidelityReport;
  warnings: ValidationIssue[];
  /** Step id → name of the state that runs it (Task / Choice / Pass / Succeed). */
  stateNames: Record<string, string>;
}

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const LAMBDA_INVOKE_WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
/**
 * Added to the binding's Lambda timeout to form the Task's TimeoutSeconds when the spec sets no timeoutMs: the
 * Lambda's own timeout then fires first and reports a clear error instead of an ambiguous States.Timeout, while a
 * hung invocation (e.g. a lost response) is still bounded.
 */
export const TASK_TIMEOUT_MARGIN_SECONDS = 5;
/** Lambda timeout assumed for unbound operations (only with allowUnboundOperations). */
export const UNBOUND_TIMEOUT_SECONDS = 60;

export const STATE_SUFFIX = {
  init: '.init',
  guard: '.guard',
  guardRejected: '.guardRejected',
  merge: '.merge',
  next: '.next',
  noMatch: '.noMatch',
  ifCompleted: '.ifCompleted',
  compensate: '.compensate',
} as const;
export const WORKFLOW_SUCCEEDED = 'WorkflowSucceeded';
export const WORKFLOW_FAILED = 'WorkflowFailed';
/** Error names of failures the compiled machine raises itself (not step errors). */
export const NO_TRANSITION_MATCHED = 'NoTransitionMatched';
export const GUARD_REJECTED = 'GuardRejected';

const ENVELOPE_SCOPE: ConditionScope = { data: '$.data', input: '$.input', output: '$.output' };

interface FunctionRef {
  placeholderKey: string;
  timeoutSeconds: number;
}

export function compileWorkflow(spec: WorkflowSpec, options: CompileOptions): CompiledWorkflow {
  const issues = validateForAsl(spec, options);
  if (issues.some((i) => i.level === 'error')) throw new WorkflowValidationError(spec.meta?.key ?? '(no key)', issues);
  const warnings = issues.filter((i) => i.level === 'warning');
  const compiler = new Compiler(spec, options);
  const definition = compiler.build();
  const json = JSON.stringify(definition, null, 2);
  const report = buildFidelityReport(spec, definition, { ...options, warnings, stateNames: compiler.stateNames });
  return {
    definition,
    json,
    substitutions: [...compiler.placeholders].sort(),
    report,
    warnings,
    stateNames: compiler.stateNames,
  };
}

class Compiler {
  readonly states: Record<string, State> = {};
  readonly placeholders = new Set<string>();
  readonly stateNames: Record<string, string> = {};
  private readonly steps: Step[];
  private readonly entry: string;
  private readonly out: Map<string, Transition[]>;
  private readonly noMatch: 'fail' | 'succeed';
  private readonly optionalChaining: OptionalChainingMode;
  /** Step id → its compensation handler (first one wins, as in ContractSpec), when trigger is 'on_failure'. */
  private readonly compensation = new Map<string, CompensationStep>();
  /** The entry automation step reads the raw execution input (`$`) instead of an envelope. */
  private readonly rawEntry: boolean;
  private needsSucceeded = false;
  /** States created while routing a step, emitted after the step's own states for a readable order. */
  private deferred: [string, State][] = [];

  constructor(
    private readonly spec: WorkflowSpec,
    private readonly options: CompileOptions,
  ) {
    this.steps = spec.definition.steps;
    this.entry = entryStepId(spec.definition) as string;
    this.out = outgoing(spec.definition);
    this.noMatch = options.noMatch ?? 'fail';
    this.optionalChaining = options.optionalChaining ?? 'normalize';
    const comp = spec.definition.compensation;
    if (comp?.trigger === 'on_failure') {
      for (const c of comp.steps) {
        const step = this.steps.find((s) => s.id === c.stepId);
        if (step && step.type !== 'decision' && !this.compensation.has(c.stepId)) this.compensation.set(c.stepId, c);
      }
    }
    this.rawEntry = this.step(this.entry).type === 'automation';
  }

  private get compensating(): boolean {
    return this.compensation.size > 0;
  }

  private step(id: string): Step {
    return this.steps.find((s) => s.id === id) as Step;
  }

  build(): StateMachineDefinition {
    let startAt = this.entryStateOf(this.entry);
    if (!this.rawEntry) {
      const init = `${this.entry}${STATE_SUFFIX.init}`;
      const parameters: Record<string, JsonValue> = { 'input.$': '$', 'data.$': '$', output: null };
      if (this.compensating) parameters.results = {};
      this.states[init] = { Type: 'Pass', Comment: 'Wraps the execution input in the workflow envelope {input, data, output}.', Parameters: parameters, Next: startAt };
      startAt = init;
    }
    for (const step of this.steps) {
      this.emitStep(step);
      for (const [name, state] of this.deferred) this.states[name] = state;
      this.deferred = [];
    }
    this.emitCompensationChain();
    if (this.needsSucceeded) this.states[WORKFLOW_SUCCEEDED] = { Type: 'Succeed', Comment: 'No transition matched (noMatch: succeed).' };

    const comment =
      this.options.comment ??
      `${this.spec.meta.key}@${this.spec.meta.version}${this.spec.meta.title ? ` (${this.spec.meta.title})` : ''}, compiled from a ContractSpec WorkflowSpec.`;
    const definition: StateMachineDefinition = { Comment: comment, StartAt: startAt, States: this.states };
    const total = this.spec.definition.sla?.totalDurationMs;
    if (this.options.enforceSla && total !== undefined && total > 0) {
      return { Comment: comment, StartAt: startAt, TimeoutSeconds: Math.min(msToSecondsCeil(total), ASL_LIMITS.executionTimeoutSecondsMax), States: this.states };
    }
    return definition;
  }

  /** The state a transition into `stepId` targets: its guard if it has one. */
  private entryStateOf(stepId: string): string {
    const step = this.step(stepId);
    const guard = this.compiledGuard(step);
    if (guard === undefined || (guard.kind === 'constant' && guard.value)) return stepId;
    if (guard.kind === 'constant') return `${stepId}${STATE_SUFFIX.guardRejected}`;
    return `${stepId}${STATE_SUFFIX.guard}`;
  }

  private compiledGuard(step: Step) {
    if (!step.guard || step.guard.type !== 'expression' || step.guard.value.trim() === '') return undefined;
    const scope: ConditionScope = step.id === this.entry && this.rawEntry ? { data: '$', input: '$' } : { data: '$.data', input: '$.input' };
    return compileCondition(parseCondition(step.guard.value, { optionalChaining: this.optionalChaining }).ast, scope);
  }

  private failureTarget(): string {
    return this.compensationChainStart();
  }

  private emitStep(step: Step): void {
    this.stateNames[step.id] = step.id;
    const guard = this.compiledGuard(step);
    if (guard && !(guard.kind === 'constant' && guard.value)) {
      const rejected = `${step.id}${STATE_SUFFIX.guardRejected}`;
      if (guard.kind === 'rule') {
        this.states[`${step.id}${STATE_SUFFIX.guard}`] = {
          Type: 'Choice',
          Comment: `Guard: ${step.guard?.value}`,
          Choices: [{ ...guard.rule, Next: step.id } as ChoiceRule],
          Default: rejected,
        };
      }
      const cause = `Guard of step "${step.id}" rejected: ${step.guard?.value}`;
      this.states[rejected] = this.compensating
        ? { Type: 'Pass', Result: { Error: GUARD_REJECTED, Cause: cause }, ResultPath: '$.error', Next: this.failureTarget() }
        : { Type: 'Fail', Error: GUARD_REJECTED, Cause: cause };
    }

    if (step.type === 'decision') {
      this.emitDecision(step);
      return;
    }
    const task = step.type === 'automation' ? this.automationTask(step) : this.humanTask(step);
    this.states[step.id] = task;
    let last: TaskState | PassState = task;
    if (step.type === 'human') {
      const merge = this.humanMerge(step);
      this.states[`${step.id}${STATE_SUFFIX.merge}`] = merge;
      task.Next = `${step.id}${STATE_SUFFIX.merge}`;
      last = merge;
    }
    const route = this.route(step, ENVELOPE_SCOPE);
    if (route.kind === 'end') last.End = true;
    else if (route.kind === 'next') last.Next = route.next;
    else {
      const choiceName = `${step.id}${STATE_SUFFIX.next}`;
      this.states[choiceName] = route.choice;
      last.Next = choiceName;
    }
  }

  private emitDecision(step: Step): void {
    // A decision's output is its input (ContractSpec §2.2 step 5): `output.*` in its transitions reads the input.
    const route = this.route(step, { data: '$.data', input: '$.input', output: '$.input' });
    if (route.kind === 'end') this.states[step.id] = { Type: 'Succeed', Comment: `Decision "${step.id}" has no outgoing transition.` };
    else if (route.kind === 'next') this.states[step.id] = { Type: 'Pass', Comment: `Decision "${step.id}"`, Next: route.next };
    else this.states[step.id] = route.choice;
  }

  /** First-match routing over the step's transitions, in array order. */
  private route(
    step: Step,
    scope: ConditionScope,
  ): { kind: 'end' } | { kind: 'next'; next: string } | { kind: 'choice'; choice: State & { Type: 'Choice' } } {
    const edges = this.out.get(step.id) ?? [];
    if (edges.length === 0) return { kind: 'end' };
    const choices: ChoiceRule[] = [];
    const described: string[] = [];
    let fallback: string | undefined;
    for (const edge of edges) {
      const target = this.entryStateOf(edge.to);
      const compiled = compileCondition(parseCondition(edge.condition, { optionalChaining: this.optionalChaining }).ast, scope);
      if (compiled.kind === 'constant') {
        if (!compiled.value) continue; // never taken
        fallback = target;
        described.push(`otherwise → ${edge.to}`);
        break; // first match wins: later edges are unreachable
      }
      choices.push({ ...compiled.rule, Next: target } as ChoiceRule);
      described.push(`${edge.condition} → ${edge.to}`);
    }
    if (fallback === undefined) fallback = this.noMatchTarget(step);
    if (choices.length === 0) return { kind: 'next', next: fallback };
    return {
      kind: 'choice',
      choice: { Type: 'Choice', Comment: `Transitions of "${step.id}", first match wins: ${described.join('; ')}`, Choices: choices, Default: fallback },
    };
  }

  private noMatchTarget(step: Step): string {
    if (this.noMatch === 'succeed') {
      this.needsSucceeded = true;
      return WORKFLOW_SUCCEEDED;
    }
    const name = `${step.id}${STATE_SUFFIX.noMatch}`;
    const cause = `No transition matched after executing step "${step.id}".`;
    this.deferred.push([
      name,
      this.compensating
        ? { Type: 'Pass', Result: { Error: NO_TRANSITION_MATCHED, Cause: cause }, ResultPath: '$.error', Next: this.failureTarget() }
        : { Type: 'Fail', Error: NO_TRANSITION_MATCHED, Cause: cause },
    ]);
    return name;
  }

  private functionFor(operation: string): FunctionRef {
    const binding = findBinding(this.options.bindings, operation);
    if (binding) {
      const placeholderKey = functionArnPlaceholderKey(binding);
      this.placeholders.add(placeholderKey);
      return { placeholderKey, timeoutSeconds: binding.timeoutSeconds };
    }
    // Only reachable with allowUnboundOperations (validation rejects it otherwise).
    const placeholderKey = `Unbound_${operation.replace(/[^A-Za-z0-9]+/g, '_')}_FunctionArn`;
    this.placeholders.add(placeholderKey);
    return { placeholderKey, timeoutSeconds: UNBOUND_TIMEOUT_SECONDS };
  }

  private envelopePayload(step: Step): Record<string, JsonValue> {
    const raw = step.id === this.entry && this.rawEntry;
    const payload: Record<string, JsonValue> = {
      'executionId.$': '$$.Execution.Id',
      'input.$': raw ? '$' : '$.input',
      'data.$': raw ? '$' : '$.data',
    };
    if (this.compensating) {
      if (raw) payload.results = {};
      else payload['results.$'] = '$.results';
    }
    return payload;
  }

  private catchers(): { Catch?: Catcher[] } {
    if (!this.compensating) return {};
    return { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: this.failureTarget() }] };
  }

  private automationTask(step: Step): TaskState {
    const operation = opRefId(step.action?.operation as { key: string; version: string });
    const fn = this.functionFor(operation);
    const stepRef: Record<string, JsonValue> = { id: step.id, operation };
    if (this.compensation.has(step.id)) stepRef.recordResult = true;
    const timeoutSeconds =
      step.timeoutMs !== undefined && step.timeoutMs > 0 ? msToSecondsCeil(step.timeoutMs) : fn.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS;
    const task: TaskState = {
      Type: 'Task',
      Comment: step.label,
      Resource: LAMBDA_INVOKE,
      Parameters: {
        FunctionName: `\${${fn.placeholderKey}}`,
        Payload: { step: stepRef, ...this.envelopePayload(step) },
      },
      OutputPath: '$.Payload',
      TimeoutSeconds: timeoutSeconds,
    };
    if (step.retry) task.Retry = [toAslRetrier(step.retry)];
    Object.assign(task, this.catchers());
    return task;
  }

  private humanResultPath(step: Step): string {
    return this.compensation.has(step.id) ? jsonPathChild('$.results', step.id) : '$.output';
  }

  private humanTask(step: Step): TaskState {
    const binding = this.options.humanTaskBinding as HumanTaskBinding;
    this.placeholders.add(binding.placeholderKey);
    const payload: Record<string, JsonValue> = {
      'taskToken.$': '$$.Task.Token',
      step: { id: step.id, type: 'human' },
      form: step.action?.form ? opRefId(step.action.form) : null,
      ...this.envelopePayload(step),
    };
    const task: TaskState = {
      Type: 'Task',
      Comment: step.label,
      Resource: LAMBDA_INVOKE_WAIT_FOR_TOKEN,
      Parameters: { FunctionName: `\${${binding.placeholderKey}}`, Payload: payload },
      // The task result is the human's answer (SendTaskSuccess output), not a Lambda envelope.
      ResultPath: this.humanResultPath(step),
      TimeoutSeconds: binding.timeoutSeconds,
    };
    Object.assign(task, this.catchers());
    return task;
  }

  private humanMerge(step: Step): PassState {
    const outputPath = this.humanResultPath(step);
    const parameters: Record<string, JsonValue> = {
      'input.$': '$.input',
      // ContractSpec merges plain-object outputs only; JsonMerge requires objects, so human outputs must be objects.
      'data.$': `States.JsonMerge($.data, ${outputPath}, false)`,
      'output.$': outputPath,
    };
    if (this.compensating) parameters['results.$'] = '$.results';
    return { Type: 'Pass', Comment: `Merges the answer to "${step.id}" into data (ContractSpec: data = {...data, ...output}).`, Parameters: parameters };
  }

  // ----- compensation ------------------------------------------------------------------------------------------

  /** Compensable steps in reverse topological order = reverse completion order on any path of the DAG. */
  private compensationOrder(): string[] {
    return topologicalOrder(this.spec.definition)
      .filter((id) => this.compensation.has(id))
      .reverse();
  }

  private compensationChainStart(): string {
    const first = this.compensationOrder()[0];
    return first === undefined ? WORKFLOW_FAILED : `${first}${STATE_SUFFIX.ifCompleted}`;
  }

  private emitCompensationChain(): void {
    if (!this.compensating) return;
    const order = this.compensationOrder();
    order.forEach((stepId, i) => {
      const next = order[i + 1];
      const after = next === undefined ? WORKFLOW_FAILED : `${next}${STATE_SUFFIX.ifCompleted}`;
      const handler = this.compensation.get(stepId) as CompensationStep;
      const operation = opRefId(handler.operation);
      const fn = this.functionFor(operation);
      const resultPath = jsonPathChild('$.results', stepId);
      this.states[`${stepId}${STATE_SUFFIX.ifCompleted}`] = {
        Type: 'Choice',
        Comment: `Compensate "${stepId}" only if it completed on this path.`,
        Choices: [{ Variable: resultPath, IsPresent: true, Next: `${stepId}${STATE_SUFFIX.compensate}` }],
        Default: after,
      };
      this.states[`${stepId}${STATE_SUFFIX.compensate}`] = {
        Type: 'Task',
        Comment: handler.description ?? `Compensation of "${stepId}" (best effort)`,
        Resource: LAMBDA_INVOKE,
        Parameters: {
          FunctionName: `\${${fn.placeholderKey}}`,
          Payload: {
            step: { id: stepId, operation },
            compensation: { stepId, 'originalOutput.$': resultPath, 'workflowData.$': '$.data', 'error.$': '$.error' },
            'executionId.$': '$$.Execution.Id',
            'input.$': '$.input',
            'data.$': '$.data',
          },
        },
        // Best effort, like ContractSpec's rollback(): the result is ignored, a failure is recorded and skipped.
        ResultPath: null,
        TimeoutSeconds: fn.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: jsonPathChild('$.compensationErrors', stepId), Next: after }],
        Next: after,
      };
    });
    this.states[WORKFLOW_FAILED] = {
      Type: 'Fail',
      Comment: 'Fails with the original error after compensation.',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    };
  }
}
