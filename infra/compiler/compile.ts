/**
 * WorkflowSpec → Amazon States Language (JSONPath only: no JSONata, no Assign, no $$.State.RetryCount, so the same
 * definition runs in AWS and in aws-local-stepfunctions). See README.md in this folder for the data flow and every
 * deliberate deviation from ContractSpec's WorkflowRunner.
 *
 * Data flow in one paragraph: bound Lambdas are plain functions. A Task sends its function the workflow data
 * (execution input merged with the outputs completed so far, built with States.JsonMerge in Parameters) and keeps
 * the function's return value, once, at `$.steps.<stepId>.output` (ResultSelector + ResultPath). Conditions read
 * those slots directly; nothing else is carried, and no state is added per step. Why this shape:
 * docs/step-functions-notes.md A3.
 */
import { EXECUTION_ID_FIELD } from '../../lambdas/core/workflow-contract';
import type { Catcher, ChoiceRule, ChoiceRuleBody, JsonValue, State, StateMachineDefinition, TaskState } from './asl';
import { ASL_LIMITS } from './asl';
import {
  compileCondition,
  jsonPathChild,
  parseCondition,
  type ConditionScope,
  type OptionalChainingMode,
} from './expression';
import { entryStepId, outgoing, topologicalOrder } from './graph';
import { EXECUTION_INPUT, NOT_RUN_SLOT, stepOutputPath, stepSlotPath } from './paths';
import { buildFidelityReport, type FidelityReport } from './report';
import { msToSecondsCeil, toAslRetrier } from './retry';
import { opRefId, type CompensationStep, type Step, type Transition, type WorkflowSpec } from './spec';
import { validateForAsl, WorkflowValidationError, type HumanTaskBinding, type ValidationIssue } from './validate';

/** The function bound to one operation, as the compiler needs it (CDK: ContractSpecStateMachine builds these). */
export interface OperationFunction {
  /** The Lambda's own timeout; the Task times out 5 s later when the step sets no timeoutMs. */
  timeoutSeconds: number;
  /**
   * Add `executionId` ($$.Execution.Id) to the payload, for functions that must recognise work they already did
   * in this execution when Step Functions retries them. Default false: the payload is the workflow data only.
   */
  executionId?: boolean;
}

export interface CompileOptions {
  /** Operation (`key@version`) → its function. Every operation the spec uses must be here. */
  functions: Readonly<Record<string, OperationFunction>>;
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

/**
 * `${...}` key of the function bound to an operation: derived from the operation alone, so the CLI, the local runner
 * and the CDK construct name it the same way without sharing any table (e.g. `openbanking_balances_get_1_0_0_FunctionArn`).
 */
export function operationArnPlaceholder(operation: string): string {
  return `${operation.replace(/[^A-Za-z0-9]+/g, '_')}_FunctionArn`;
}

export function compileWorkflow(spec: WorkflowSpec, options: CompileOptions): CompiledWorkflow {
  const issues = validateForAsl(spec, options);
  if (issues.some((i) => i.level === 'error')) throw new WorkflowValidationError(spec.meta?.key ?? '(no key)', issues);
  const warnings = issues.filter((i) => i.level === 'warning');
  const compiler = new Compiler(spec, options);
  const definition = compiler.build();
  if (compiler.issues.length > 0) throw new WorkflowValidationError(spec.meta.key, compiler.issues);
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

export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
export const LAMBDA_INVOKE_WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
/**
 * Added to the function's Lambda timeout to form the Task's TimeoutSeconds when the spec sets no timeoutMs: the
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

/**
 * A copy of the execution input, for the first argument of States.JsonMerge. aws-local-stepfunctions 3.0.0 merges
 * into that argument in place (Object.assign), which would change `$$.Execution.Input` for every later state;
 * JsonToString/StringToJson hands it a fresh object. AWS computes the same value either way.
 */
const EXECUTION_INPUT_COPY = `States.StringToJson(States.JsonToString(${EXECUTION_INPUT}))`;
/** `{"executionId": <$$.Execution.Id>}` (execution names cannot contain quotes, so the JSON is well-formed). */
const EXECUTION_ID_OBJECT = `States.StringToJson(States.Format('\\{"${EXECUTION_ID_FIELD}":"{}"\\}', $$.Execution.Id))`;

/** Number of intrinsic function calls in a payload-template value (AWS allows 10 per field). */
function intrinsicCount(expression: string): number {
  return expression.match(/States\.[A-Za-z]+\(/g)?.length ?? 0;
}

class Compiler {
  readonly states: Record<string, State> = {};
  readonly placeholders = new Set<string>();
  readonly stateNames: Record<string, string> = {};
  readonly issues: ValidationIssue[] = [];
  private readonly steps: Step[];
  private readonly entry: string;
  private readonly out: Map<string, Transition[]>;
  private readonly order: string[];
  private readonly noMatch: 'fail' | 'succeed';
  private readonly optionalChaining: OptionalChainingMode;
  /** Step id → its compensation handler (first one wins, as in ContractSpec), when trigger is 'on_failure'. */
  private readonly compensation = new Map<string, CompensationStep>();
  /** Steps that may precede each step on some path, in topological order (= completion order on any path). */
  private readonly ancestors = new Map<string, string[]>();
  /** Steps on every path from the entry to each step, the step included. */
  private readonly dominators = new Map<string, Set<string>>();
  /** Slots some merge reads although the step may not have run: written as NOT_RUN_SLOT when the state is created. */
  private readonly notRunSlots = new Set<string>();
  /** The entry step is a Task that creates the state (`{steps}`) itself; otherwise a `.init` Pass does. */
  private readonly entryIsTask: boolean;
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
    this.order = topologicalOrder(spec.definition);
    this.noMatch = options.noMatch ?? 'fail';
    this.optionalChaining = options.optionalChaining ?? 'normalize';
    const comp = spec.definition.compensation;
    if (comp?.trigger === 'on_failure') {
      for (const c of comp.steps) {
        const step = this.steps.find((s) => s.id === c.stepId);
        if (step && step.type !== 'decision' && !this.compensation.has(c.stepId)) this.compensation.set(c.stepId, c);
      }
    }
    this.entryIsTask = this.step(this.entry).type !== 'decision';
    this.analyseGraph();
  }

  private get compensating(): boolean {
    return this.compensation.size > 0;
  }

  private step(id: string): Step {
    return this.steps.find((s) => s.id === id) as Step;
  }

  private producesOutput(id: string): boolean {
    return this.step(id).type !== 'decision';
  }

  private analyseGraph(): void {
    const preds = new Map<string, string[]>(this.order.map((id) => [id, []]));
    for (const [from, edges] of this.out) for (const t of edges) preds.get(t.to)?.push(from);
    const position = new Map(this.order.map((id, i) => [id, i]));
    for (const id of this.order) {
      const before = new Set<string>();
      for (const p of preds.get(id) ?? []) {
        before.add(p);
        for (const a of this.ancestors.get(p) ?? []) before.add(a);
      }
      this.ancestors.set(
        id,
        [...before].sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0)),
      );
      const ps = preds.get(id) ?? [];
      let common: Set<string> | undefined;
      for (const p of ps) {
        const d = this.dominators.get(p) ?? new Set<string>();
        common = common === undefined ? new Set(d) : new Set([...common].filter((x) => d.has(x)));
      }
      this.dominators.set(id, new Set([...(common ?? []), id]));
    }
  }

  /** Output-producing steps whose outputs `data` holds when `stepId` starts, in completion order. */
  private dataLayersBefore(stepId: string): string[] {
    return (this.ancestors.get(stepId) ?? []).filter((id) => this.producesOutput(id));
  }

  private dataLayersAfter(stepId: string): string[] {
    const before = this.dataLayersBefore(stepId);
    return this.producesOutput(stepId) ? [...before, stepId] : before;
  }

  /**
   * The workflow data as one payload-template expression: the execution input merged with `layers` (last writer
   * wins, top-level keys, as ContractSpec's `{...data, ...output}`). `guaranteed` = steps certainly completed here;
   * any other layer gets a NOT_RUN_SLOT so the path exists. `state` = the state is still the raw execution input.
   */
  private dataExpression(
    layers: readonly string[],
    guaranteed: ReadonlySet<string>,
    where: string,
    state: 'raw' | 'steps',
    executionId = false,
  ): string {
    let expression: string;
    if (layers.length === 0) {
      // The raw state is a copy the interpreter made for this state; the execution input itself must not be merged into.
      expression = state === 'raw' ? '$' : executionId ? EXECUTION_INPUT_COPY : EXECUTION_INPUT;
    } else {
      expression = EXECUTION_INPUT_COPY;
      for (const id of layers) {
        if (!guaranteed.has(id)) this.notRunSlots.add(id);
        expression = `States.JsonMerge(${expression}, ${stepOutputPath(id)}, false)`;
      }
    }
    if (executionId) expression = `States.JsonMerge(${expression}, ${EXECUTION_ID_OBJECT}, false)`;
    const count = intrinsicCount(expression);
    if (count > ASL_LIMITS.intrinsicFunctionsPerFieldMax) {
      this.issues.push({
        level: 'error',
        code: 'DATA_MERGE_TOO_DEEP',
        path: 'definition',
        message:
          `${where} merges the execution input with ${layers.length} step outputs${executionId ? ' and the execution id' : ''}: ` +
          `${count} nested intrinsic functions, but AWS allows ${ASL_LIMITS.intrinsicFunctionsPerFieldMax} per field. ` +
          'Shorten the chain of steps before it, or merge outputs in fewer steps.',
      });
    }
    return expression;
  }

  /** Conditions: `data` as layers (most recent first, execution input last), `input` = the execution input. */
  private scopeAfter(stepId: string): ConditionScope {
    const layers = this.dataLayersAfter(stepId).reverse().map(stepOutputPath);
    const step = this.step(stepId);
    return {
      data: [...layers, EXECUTION_INPUT],
      input: EXECUTION_INPUT,
      // A decision's output is its input (ContractSpec §2.2 step 5).
      output: step.type === 'decision' ? EXECUTION_INPUT : stepOutputPath(stepId),
    };
  }

  build(): StateMachineDefinition {
    let startAt = this.entryStateOf(this.entry);
    for (const step of this.steps) {
      this.emitStep(step);
      for (const [name, state] of this.deferred) this.states[name] = state;
      this.deferred = [];
    }
    this.emitCompensationChain();
    if (this.needsSucceeded)
      this.states[WORKFLOW_SUCCEEDED] = { Type: 'Succeed', Comment: 'No transition matched (noMatch: succeed).' };

    const notRun = this.order.filter((id) => this.notRunSlots.has(id) && id !== this.entry);
    const initialSteps: Record<string, JsonValue> = {};
    if (this.entryIsTask) {
      const entryTask = this.states[this.entry] as TaskState;
      const slot = entryTask.ResultSelector as Record<string, JsonValue>;
      initialSteps[this.entry] = slot;
      for (const id of notRun) initialSteps[id] = { ...NOT_RUN_SLOT };
      // The entry Task turns the raw execution input into the workflow state.
      entryTask.ResultSelector = { steps: initialSteps };
      delete entryTask.ResultPath;
    } else {
      for (const id of notRun) initialSteps[id] = { ...NOT_RUN_SLOT };
      const init = `${this.entry}${STATE_SUFFIX.init}`;
      const states: Record<string, State> = {
        [init]: {
          Type: 'Pass',
          Comment:
            'Creates the workflow state: one slot per step output (the execution input stays in $$.Execution.Input).',
          Result: { steps: initialSteps },
          Next: startAt,
        },
      };
      for (const [name, state] of Object.entries(this.states)) states[name] = state;
      for (const name of Object.keys(this.states)) delete this.states[name];
      Object.assign(this.states, states);
      startAt = init;
    }

    const comment =
      this.options.comment ??
      `${this.spec.meta.key}@${this.spec.meta.version}${this.spec.meta.title ? ` (${this.spec.meta.title})` : ''}, compiled from a ContractSpec WorkflowSpec.`;
    const definition: StateMachineDefinition = { Comment: comment, StartAt: startAt, States: this.states };
    const total = this.spec.definition.sla?.totalDurationMs;
    if (this.options.enforceSla && total !== undefined && total > 0) {
      return {
        Comment: comment,
        StartAt: startAt,
        TimeoutSeconds: Math.min(msToSecondsCeil(total), ASL_LIMITS.executionTimeoutSecondsMax),
        States: this.states,
      };
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
    // ContractSpec evaluates guards with {data, input} before the step runs.
    const layers = this.dataLayersBefore(step.id).reverse().map(stepOutputPath);
    const scope: ConditionScope = { data: [...layers, EXECUTION_INPUT], input: EXECUTION_INPUT };
    return compileCondition(parseCondition(step.guard.value, { optionalChaining: this.optionalChaining }).ast, scope);
  }

  /** Where a failure goes: the compensation chain, or straight to the end when nothing can have completed yet. */
  private failureTarget(stepId: string): string {
    return stepId === this.entry ? WORKFLOW_FAILED : this.compensationChainStart();
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
        ? {
            Type: 'Pass',
            Result: { Error: GUARD_REJECTED, Cause: cause },
            ResultPath: '$.error',
            Next: this.failureTarget(step.id),
          }
        : { Type: 'Fail', Error: GUARD_REJECTED, Cause: cause };
    }

    if (step.type === 'decision') {
      this.emitDecision(step);
      return;
    }
    const task = step.type === 'automation' ? this.automationTask(step) : this.humanTask(step);
    this.states[step.id] = task;
    const route = this.route(step, this.scopeAfter(step.id));
    if (route.kind === 'end') task.End = true;
    else if (route.kind === 'next') task.Next = route.next;
    else {
      const choiceName = `${step.id}${STATE_SUFFIX.next}`;
      this.states[choiceName] = route.choice;
      task.Next = choiceName;
    }
  }

  private emitDecision(step: Step): void {
    const route = this.route(step, this.scopeAfter(step.id));
    if (route.kind === 'end')
      this.states[step.id] = { Type: 'Succeed', Comment: `Decision "${step.id}" has no outgoing transition.` };
    else if (route.kind === 'next')
      this.states[step.id] = { Type: 'Pass', Comment: `Decision "${step.id}"`, Next: route.next };
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
      const compiled = compileCondition(
        parseCondition(edge.condition, { optionalChaining: this.optionalChaining }).ast,
        scope,
      );
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
      choice: {
        Type: 'Choice',
        Comment: `Transitions of "${step.id}", first match wins: ${described.join('; ')}`,
        Choices: choices,
        Default: fallback,
      },
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
        ? {
            Type: 'Pass',
            Result: { Error: NO_TRANSITION_MATCHED, Cause: cause },
            ResultPath: '$.error',
            Next: this.compensationChainStart(),
          }
        : { Type: 'Fail', Error: NO_TRANSITION_MATCHED, Cause: cause },
    ]);
    return name;
  }

  private functionFor(operation: string): { placeholderKey: string; timeoutSeconds: number; executionId: boolean } {
    const placeholderKey = operationArnPlaceholder(operation);
    this.placeholders.add(placeholderKey);
    const fn = this.options.functions[operation];
    // Unbound only with allowUnboundOperations (validation rejects it otherwise).
    return {
      placeholderKey,
      timeoutSeconds: fn?.timeoutSeconds ?? UNBOUND_TIMEOUT_SECONDS,
      executionId: fn?.executionId ?? false,
    };
  }

  private catchers(stepId: string): { Catch?: Catcher[] } {
    if (!this.compensating) return {};
    return { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: this.failureTarget(stepId) }] };
  }

  /** Task result → the step's slot. The entry's selector is wrapped into the initial state in build(). */
  private keepOutput(stepId: string, result: string): Pick<TaskState, 'ResultSelector' | 'ResultPath'> {
    return { ResultSelector: { 'output.$': result }, ResultPath: stepSlotPath(stepId) };
  }

  private automationTask(step: Step): TaskState {
    const operation = opRefId(step.action?.operation as { key: string; version: string });
    const fn = this.functionFor(operation);
    const timeoutSeconds =
      step.timeoutMs !== undefined && step.timeoutMs > 0
        ? msToSecondsCeil(step.timeoutMs)
        : fn.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS;
    const isEntry = step.id === this.entry;
    const payload = this.dataExpression(
      this.dataLayersBefore(step.id),
      this.dominators.get(step.id) ?? new Set(),
      `The payload of step "${step.id}"`,
      isEntry ? 'raw' : 'steps',
      fn.executionId,
    );
    const task: TaskState = {
      Type: 'Task',
      Comment: step.label,
      Resource: LAMBDA_INVOKE,
      Parameters: { FunctionName: `\${${fn.placeholderKey}}`, 'Payload.$': payload },
      ...this.keepOutput(step.id, '$.Payload'),
      TimeoutSeconds: timeoutSeconds,
    };
    if (step.retry) task.Retry = [toAslRetrier(step.retry)];
    Object.assign(task, this.catchers(step.id));
    return task;
  }

  private humanTask(step: Step): TaskState {
    const binding = this.options.humanTaskBinding as HumanTaskBinding;
    this.placeholders.add(binding.placeholderKey);
    const isEntry = step.id === this.entry;
    const payload: Record<string, JsonValue> = {
      'taskToken.$': '$$.Task.Token',
      step: { id: step.id, type: 'human' },
      form: step.action?.form ? opRefId(step.action.form) : null,
      'executionId.$': '$$.Execution.Id',
      'data.$': this.dataExpression(
        this.dataLayersBefore(step.id),
        this.dominators.get(step.id) ?? new Set(),
        `The payload of human step "${step.id}"`,
        isEntry ? 'raw' : 'steps',
      ),
    };
    const task: TaskState = {
      Type: 'Task',
      Comment: step.label,
      Resource: LAMBDA_INVOKE_WAIT_FOR_TOKEN,
      Parameters: { FunctionName: `\${${binding.placeholderKey}}`, Payload: payload },
      // The task result is the human's answer (SendTaskSuccess output) itself.
      ...this.keepOutput(step.id, '$'),
      TimeoutSeconds: binding.timeoutSeconds,
    };
    Object.assign(task, this.catchers(step.id));
    return task;
  }

  // ----- compensation ------------------------------------------------------------------------------------------

  /** Compensable steps in reverse topological order = reverse completion order on any path of the DAG. */
  private compensationOrder(): string[] {
    return this.order.filter((id) => this.compensation.has(id)).reverse();
  }

  private compensationChainStart(): string {
    const first = this.compensationOrder()[0];
    return first === undefined ? WORKFLOW_FAILED : `${first}${STATE_SUFFIX.ifCompleted}`;
  }

  private emitCompensationChain(): void {
    if (!this.compensating) return;
    const order = this.compensationOrder();
    const allOutputs = this.order.filter((id) => this.producesOutput(id));
    order.forEach((stepId, i) => {
      const next = order[i + 1];
      const after = next === undefined ? WORKFLOW_FAILED : `${next}${STATE_SUFFIX.ifCompleted}`;
      const handler = this.compensation.get(stepId) as CompensationStep;
      const operation = opRefId(handler.operation);
      const fn = this.functionFor(operation);
      // Entered only when the step completed, so its dominators completed too; any other slot may be NOT_RUN_SLOT.
      const guaranteed = this.dominators.get(stepId) ?? new Set<string>();
      const where = `The compensation payload of step "${stepId}"`;
      const payload: Record<string, JsonValue> = {
        stepId,
        'originalInput.$': this.dataExpression(this.dataLayersBefore(stepId), guaranteed, where, 'steps'),
        'originalOutput.$': stepOutputPath(stepId),
        'workflowData.$': this.dataExpression(allOutputs, guaranteed, where, 'steps'),
        'error.$': '$.error',
      };
      if (fn.executionId) payload[`${EXECUTION_ID_FIELD}.$`] = '$$.Execution.Id';
      const slot = stepSlotPath(stepId);
      const completed: ChoiceRuleBody = { Variable: `${slot}.output`, IsPresent: true };
      this.states[`${stepId}${STATE_SUFFIX.ifCompleted}`] = {
        Type: 'Choice',
        Comment: `Compensate "${stepId}" only if it completed on this path.`,
        Choices: [
          this.mayBeNotRun(stepId)
            ? {
                And: [completed, { Not: { Variable: `${slot}.skipped`, IsPresent: true } }],
                Next: `${stepId}${STATE_SUFFIX.compensate}`,
              }
            : { ...completed, Next: `${stepId}${STATE_SUFFIX.compensate}` },
        ],
        Default: after,
      };
      this.states[`${stepId}${STATE_SUFFIX.compensate}`] = {
        Type: 'Task',
        Comment: handler.description ?? `Compensation of "${stepId}" (best effort)`,
        Resource: LAMBDA_INVOKE,
        Parameters: { FunctionName: `\${${fn.placeholderKey}}`, Payload: payload },
        // Best effort, like ContractSpec's rollback(): the result is ignored, a failure is recorded and skipped.
        ResultPath: null,
        TimeoutSeconds: fn.timeoutSeconds + TASK_TIMEOUT_MARGIN_SECONDS,
        Catch: [
          { ErrorEquals: ['States.ALL'], ResultPath: jsonPathChild('$.compensationErrors', stepId), Next: after },
        ],
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

  /** Whether `stepId` may get a NOT_RUN_SLOT: some compensation's workflowData reads every slot. */
  private mayBeNotRun(stepId: string): boolean {
    return this.compensating && stepId !== this.entry && this.producesOutput(stepId);
  }
}
