/**
 * Spec validation: ContractSpec's own rules (validation.ts: validateWorkflowSpec + validateRetryConfig +
 * validateSlaConfig + validateCompensation, §1.3 of docs/contractspec-semantics.md) with ContractSpec's levels,
 * plus what compiling to ASL additionally requires (bound functions, ASL ranges, state names, expression support).
 * Neither ContractSpec's defineWorkflow nor its runner validate; compileWorkflow always does, and refuses on errors.
 */
import { ASL_LIMITS } from './asl';
import { conditionRoots, parseCondition, type OptionalChainingMode } from './expression';
import { entryStepId, findCycle, outgoing, reachableFrom } from './graph';
import { msToSecondsCeil } from './retry';
import { opRefId, type RetryPolicy, type Step, type VersionedSpecRef, type WorkflowSpec } from './spec';

export type IssueLevel = 'error' | 'warning';

export interface ValidationIssue {
  level: IssueLevel;
  /** Stable machine-readable code (see README). */
  code: string;
  /** Where in the spec, e.g. `definition.steps[1].retry.delayMs`. */
  path: string;
  stepId?: string;
  /** Names the step and field, shows the value, says how to fix it. */
  message: string;
}

export class WorkflowValidationError extends Error {
  override readonly name = 'WorkflowValidationError';
  constructor(
    readonly workflowKey: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    const errors = issues.filter((i) => i.level === 'error');
    super(
      `Workflow "${workflowKey}" is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}); no ASL was produced:\n` +
        errors.map((i) => `  - [${i.code}] ${i.path}: ${i.message}`).join('\n'),
    );
  }
}

export interface HumanTaskBinding {
  /** DefinitionSubstitutions key of the function that receives the task token, e.g. 'HumanTaskFunctionArn'. */
  placeholderKey: string;
  /** How long a human task may wait for SendTaskSuccess before States.Timeout. */
  timeoutSeconds: number;
}

export interface ValidateOptions {
  /** Operation (`key@version`) → its function's Lambda timeout (compile.ts OperationFunction). */
  functions?: Readonly<Record<string, { timeoutSeconds: number }>>;
  /** Unbound operations become warnings (CLI inspection); the ASL then has placeholder functions. */
  allowUnboundOperations?: boolean;
  humanTaskBinding?: HumanTaskBinding;
  optionalChaining?: OptionalChainingMode;
  /** ContractSpec registries, `key@version` (errors when given and missing). */
  operations?: readonly string[];
  forms?: readonly string[];
}

/** The longest suffix the compiler appends to a step id to name an extra state (`.guardRejected`). */
export const LONGEST_STATE_SUFFIX = '.guardRejected';
export const MAX_STEP_ID_LENGTH = ASL_LIMITS.stateNameMaxLength - LONGEST_STATE_SUFFIX.length;

type Push = (issue: ValidationIssue) => void;

function stepLabel(step: Pick<Step, 'id'> | undefined, index: number): string {
  return step && typeof step.id === 'string' ? `Step "${step.id}"` : `Step #${index}`;
}

/** The one way an issue is made: where is a spec path, or `{path, stepId}` for a step's field. */
function issue(
  level: IssueLevel,
  code: string,
  where: string | { path: string; stepId?: string },
  message: string,
): ValidationIssue {
  return typeof where === 'string' ? { level, code, path: where, message } : { level, code, ...where, message };
}

function show(value: unknown): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

/** ContractSpec `validateWorkflowSpec` (+ runtime config rules). */
export function validateWorkflowSpec(
  spec: WorkflowSpec,
  options: Pick<ValidateOptions, 'operations' | 'forms'> = {},
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const push: Push = (i) => issues.push(i);
  const { definition } = spec;
  const steps = definition.steps ?? [];
  if (steps.length === 0) {
    push(
      issue(
        'error',
        'EMPTY_STEPS',
        'definition.steps',
        `Workflow "${spec.meta.key}" must declare at least one step (definition.steps is empty). Add a step.`,
      ),
    );
    return issues;
  }

  const seen = new Map<string, number>();
  steps.forEach((step, i) => {
    const first = seen.get(step.id);
    if (first !== undefined) {
      push(
        issue(
          'error',
          'DUPLICATE_STEP_ID',
          { path: `definition.steps[${i}].id`, stepId: step.id },
          `Step id "${step.id}" is used by definition.steps[${first}] and definition.steps[${i}]. Step ids must be unique; rename one.`,
        ),
      );
    } else seen.set(step.id, i);
  });

  const entry = entryStepId(definition) as string;
  if (!seen.has(entry)) {
    push(
      issue(
        'error',
        'UNKNOWN_ENTRY_STEP',
        'definition.entryStepId',
        `entryStepId is "${entry}", which is not a step id (known: ${[...seen.keys()].map((k) => `"${k}"`).join(', ')}). Fix the id or omit entryStepId to start at the first step.`,
      ),
    );
  }

  steps.forEach((step, i) => {
    const base = `definition.steps[${i}]`;
    if (step.type === 'automation' && !step.action?.operation) {
      push(
        issue(
          'warning',
          'AUTOMATION_WITHOUT_OPERATION',
          { path: `${base}.action.operation`, stepId: step.id },
          `${stepLabel(step, i)} is an automation step without action.operation. Add {operation: {key, version}}.`,
        ),
      );
    }
    if (step.type === 'human' && !step.action?.form) {
      push(
        issue(
          'warning',
          'HUMAN_WITHOUT_FORM',
          { path: `${base}.action.form`, stepId: step.id },
          `Human step "${step.id}" does not declare a form (action.form). Add {form: {key, version}} so the task UI knows what to ask.`,
        ),
      );
    }
    if (step.guard && (typeof step.guard.value !== 'string' || step.guard.value.trim() === '')) {
      push(
        issue(
          'error',
          'EMPTY_GUARD',
          { path: `${base}.guard.value`, stepId: step.id },
          `${stepLabel(step, i)} has a guard whose value is ${show(step.guard.value)}. Give the guard an expression or policy, or remove it.`,
        ),
      );
    }
    if (options.operations && step.action?.operation && !options.operations.includes(opRefId(step.action.operation))) {
      push(
        issue(
          'error',
          'UNKNOWN_OPERATION',
          { path: `${base}.action.operation`, stepId: step.id },
          `${stepLabel(step, i)} references operation ${opRefId(step.action.operation)}, which is not in the operation registry.`,
        ),
      );
    }
    if (options.forms && step.action?.form && !options.forms.includes(opRefId(step.action.form))) {
      push(
        issue(
          'error',
          'UNKNOWN_FORM',
          { path: `${base}.action.form`, stepId: step.id },
          `${stepLabel(step, i)} references form ${opRefId(step.action.form)}, which is not in the form registry.`,
        ),
      );
    }
  });

  const transitions = definition.transitions ?? [];
  transitions.forEach((t, i) => {
    for (const end of ['from', 'to'] as const) {
      if (!seen.has(t[end])) {
        push(
          issue(
            'error',
            'UNKNOWN_TRANSITION_ENDPOINT',
            `definition.transitions[${i}].${end}`,
            `Transition #${i} (${t.from} → ${t.to}) has ${end} "${t[end]}", which is not a step id. Use one of: ${[...seen.keys()].join(', ')}.`,
          ),
        );
      }
    }
    if (t.condition !== undefined && t.condition.trim() === '') {
      push(
        issue(
          'error',
          'EMPTY_CONDITION',
          `definition.transitions[${i}].condition`,
          `Transition #${i} (${t.from} → ${t.to}) has a blank condition ${show(t.condition)}. Remove the field for an unconditional edge or write an expression.`,
        ),
      );
    }
  });

  const graphIsSound = !issues.some(
    (i) => i.level === 'error' && (i.code === 'UNKNOWN_TRANSITION_ENDPOINT' || i.code === 'DUPLICATE_STEP_ID'),
  );
  if (graphIsSound) {
    const incoming = new Map<string, number>(steps.map((s) => [s.id, 0]));
    for (const t of transitions) incoming.set(t.to, (incoming.get(t.to) ?? 0) + 1);
    const roots = steps.filter((s) => incoming.get(s.id) === 0);
    if (roots.length > 1) {
      push(
        issue(
          'warning',
          'MULTIPLE_ENTRY_CANDIDATES',
          'definition.transitions',
          `Steps ${roots.map((s) => `"${s.id}"`).join(', ')} have no incoming transition (multiple potential entry steps). Only "${entry}" starts the workflow.`,
        ),
      );
    }
    if (seen.has(entry)) {
      const reachable = reachableFrom(definition, entry);
      steps.forEach((s, i) => {
        if (!reachable.has(s.id)) {
          push(
            issue(
              'error',
              'UNREACHABLE_STEP',
              { path: `definition.steps[${i}]`, stepId: s.id },
              `Step "${s.id}" is unreachable from the entry step "${entry}". Add a transition to it or remove it.`,
            ),
          );
        }
      });
    }
    const cycle = findCycle(definition);
    if (cycle) {
      push(
        issue(
          'error',
          'CYCLE',
          'definition.transitions',
          `Transitions form a cycle: ${cycle.join(' → ')}. ContractSpec forbids loops and back-edges; remove one transition of the cycle.`,
        ),
      );
    }
  }

  validateRuntime(spec, push);
  return issues;
}

function validateRuntime(spec: WorkflowSpec, push: Push): void {
  const runtime = spec.runtime;
  if (!runtime) return;
  const adapters = Object.entries(runtime.capabilities?.adapters ?? {}).filter(([, on]) => on === true);
  if (adapters.length > 1) {
    push(
      issue(
        'warning',
        'RUNTIME_MULTIPLE_ADAPTERS',
        'runtime.capabilities.adapters',
        `More than one runtime adapter is enabled (${adapters.map(([n]) => n).join(', ')}). Enable one.`,
      ),
    );
  }
  for (const [port, value] of Object.entries(runtime.ports ?? {})) {
    if (typeof value === 'string' && value.trim() === '') {
      push(
        issue(
          'error',
          'RUNTIME_EMPTY_PORT',
          `runtime.ports.${port}`,
          `runtime.ports.${port} is an empty string. Name the port implementation or remove the field.`,
        ),
      );
    }
  }
  const caps = runtime.capabilities ?? {};
  const portFor = {
    checkpointing: 'checkpointStore',
    suspendResume: 'suspension',
    approvalGateway: 'approvalGateway',
  } as const;
  for (const [cap, port] of Object.entries(portFor) as [
    keyof typeof portFor,
    keyof NonNullable<typeof runtime.ports>,
  ][]) {
    if (caps[cap] === true && !runtime.ports?.[port]) {
      push(
        issue(
          'warning',
          'RUNTIME_CAPABILITY_WITHOUT_PORT',
          `runtime.capabilities.${cap}`,
          `runtime.capabilities.${cap} is enabled without runtime.ports.${port}. Add the port or disable the capability.`,
        ),
      );
    }
  }
  const devkit = caps.adapters?.['workflow-devkit'] === true || runtime.workflowDevkit !== undefined;
  if (devkit) {
    spec.definition.steps.forEach((step, i) => {
      if (step.type === 'automation' && step.retry && !step.runtime?.workflowDevkit?.idempotencyKey) {
        push(
          issue(
            'error',
            'DEVKIT_RETRY_WITHOUT_IDEMPOTENCY_KEY',
            { path: `definition.steps[${i}].runtime.workflowDevkit.idempotencyKey`, stepId: step.id },
            `Step "${step.id}" retries under the workflow-devkit adapter but has no runtime.workflowDevkit.idempotencyKey. Add one.`,
          ),
        );
      }
    });
  }
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

const positive = (v: unknown): v is number => isFiniteNumber(v) && v > 0;

/** One row per retry rule: the field it reads, when it fires (rows of one field are exclusive), what it says. */
const RETRY_RULES: readonly {
  code: string;
  level: IssueLevel;
  field: keyof RetryPolicy;
  when: (r: RetryPolicy) => boolean;
  says: (r: RetryPolicy) => string;
}[] = [
  {
    code: 'RETRY_MAX_ATTEMPTS_INVALID',
    level: 'error',
    field: 'maxAttempts',
    when: (r) => !positive(r.maxAttempts),
    says: (r) =>
      `retry.maxAttempts is ${show(r.maxAttempts)}; it counts retries after the first attempt and must be at least 1. Remove retry to never retry.`,
  },
  {
    code: 'RETRY_MAX_ATTEMPTS_NOT_ASL',
    level: 'error',
    field: 'maxAttempts',
    when: (r) => positive(r.maxAttempts) && (!Number.isInteger(r.maxAttempts) || r.maxAttempts > ASL_LIMITS.integerMax),
    says: (r) =>
      `retry.maxAttempts is ${show(r.maxAttempts)}; ASL MaxAttempts must be an integer from 1 to ${ASL_LIMITS.integerMax}. Use a whole number.`,
  },
  {
    code: 'RETRY_BACKOFF_INVALID',
    level: 'error',
    field: 'backoff',
    when: (r) => r.backoff !== 'linear' && r.backoff !== 'exponential',
    says: (r) => `retry.backoff is ${show(r.backoff)}; use 'exponential' (×2 per retry) or 'linear' (constant delay).`,
  },
  {
    code: 'RETRY_DELAY_INVALID',
    level: 'error',
    field: 'delayMs',
    when: (r) => !positive(r.delayMs),
    says: (r) => `retry.delayMs is ${show(r.delayMs)}; it must be a positive number of milliseconds (e.g. 1000).`,
  },
  {
    code: 'RETRY_DELAY_TOO_LARGE',
    level: 'error',
    field: 'delayMs',
    when: (r) => positive(r.delayMs) && msToSecondsCeil(r.delayMs) > ASL_LIMITS.integerMax,
    says: (r) =>
      `retry.delayMs ${r.delayMs} gives IntervalSeconds ${msToSecondsCeil(r.delayMs)}, above ASL's ${ASL_LIMITS.integerMax}. Use a smaller delay.`,
  },
  {
    code: 'RETRY_MAX_DELAY_INVALID',
    level: 'error',
    field: 'maxDelayMs',
    when: (r) => r.maxDelayMs !== undefined && !positive(r.maxDelayMs),
    says: (r) => `retry.maxDelayMs is ${show(r.maxDelayMs)}; it must be a positive number of milliseconds, or omitted.`,
  },
  {
    code: 'RETRY_MAX_DELAY_BELOW_DELAY',
    level: 'warning',
    field: 'maxDelayMs',
    when: (r) => positive(r.maxDelayMs) && isFiniteNumber(r.delayMs) && r.maxDelayMs < r.delayMs,
    says: (r) =>
      `retry.maxDelayMs (${r.maxDelayMs}) is below retry.delayMs (${r.delayMs}), so every wait is ${r.maxDelayMs} ms. Raise maxDelayMs or lower delayMs.`,
  },
  {
    code: 'RETRY_MAX_DELAY_TOO_LARGE',
    level: 'error',
    field: 'maxDelayMs',
    when: (r) => positive(r.maxDelayMs) && msToSecondsCeil(r.maxDelayMs) > ASL_LIMITS.maxDelaySecondsMax,
    says: (r) =>
      `retry.maxDelayMs ${r.maxDelayMs} gives MaxDelaySeconds ${msToSecondsCeil(r.maxDelayMs ?? 0)}; ASL allows at most ${ASL_LIMITS.maxDelaySecondsMax} (366 days). Lower it.`,
  },
];

/** ContractSpec `validateRetryConfig` + the ASL ranges of the retrier the compiler derives from it. */
export function validateRetryConfig(spec: WorkflowSpec): ValidationIssue[] {
  return spec.definition.steps.flatMap((step, i) => {
    const retry = step.retry;
    if (!retry) return [];
    return RETRY_RULES.filter((rule) => rule.when(retry)).map((rule) =>
      issue(
        rule.level,
        rule.code,
        { path: `definition.steps[${i}].retry.${rule.field}`, stepId: step.id },
        `Step "${step.id}": ${rule.says(retry)}`,
      ),
    );
  });
}

/** ContractSpec `validateSlaConfig` (+ SLA step ids, which ContractSpec checks in validateWorkflowConsistency). */
export function validateSlaConfig(spec: WorkflowSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const sla = spec.definition.sla;
  if (!sla) return issues;
  if (sla.totalDurationMs !== undefined && (!isFiniteNumber(sla.totalDurationMs) || sla.totalDurationMs <= 0)) {
    issues.push(
      issue(
        'error',
        'SLA_TOTAL_INVALID',
        'definition.sla.totalDurationMs',
        `sla.totalDurationMs is ${show(sla.totalDurationMs)}; it must be a positive number of milliseconds.`,
      ),
    );
  }
  const ids = new Set(spec.definition.steps.map((s) => s.id));
  let sum = 0;
  for (const [id, ms] of Object.entries(sla.stepDurationMs ?? {})) {
    if (!isFiniteNumber(ms) || ms <= 0) {
      issues.push(
        issue(
          'error',
          'SLA_STEP_INVALID',
          { path: `definition.sla.stepDurationMs.${id}`, stepId: id },
          `sla.stepDurationMs["${id}"] is ${show(ms)}; it must be a positive number of milliseconds.`,
        ),
      );
    } else sum += ms;
    if (!ids.has(id)) {
      issues.push(
        issue(
          'warning',
          'SLA_UNKNOWN_STEP',
          { path: `definition.sla.stepDurationMs.${id}`, stepId: id },
          `sla.stepDurationMs names "${id}", which is not a step id.`,
        ),
      );
    }
  }
  if (isFiniteNumber(sla.totalDurationMs) && sla.totalDurationMs > 0 && sum > sla.totalDurationMs) {
    issues.push(
      issue(
        'warning',
        'SLA_STEP_BUDGETS_EXCEED_TOTAL',
        'definition.sla.stepDurationMs',
        `The step budgets sum to ${sum} ms, more than sla.totalDurationMs (${sla.totalDurationMs} ms).`,
      ),
    );
  }
  return issues;
}

function refIncomplete(ref: Partial<VersionedSpecRef> | undefined): boolean {
  return !ref || typeof ref.key !== 'string' || ref.key === '' || typeof ref.version !== 'string' || ref.version === '';
}

/** ContractSpec `validateCompensation`. */
export function validateCompensation(spec: WorkflowSpec): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const comp = spec.definition.compensation;
  if (!comp) return issues;
  const ids = new Set(spec.definition.steps.map((s) => s.id));
  const handled = new Map<string, number>();
  comp.steps.forEach((c, i) => {
    const base = `definition.compensation.steps[${i}]`;
    if (!ids.has(c.stepId)) {
      issues.push(
        issue(
          'error',
          'COMPENSATION_UNKNOWN_STEP',
          { path: `${base}.stepId`, stepId: c.stepId },
          `Compensation #${i} names step "${c.stepId}", which does not exist. Use a step id of this workflow.`,
        ),
      );
    }
    const first = handled.get(c.stepId);
    if (first !== undefined) {
      issues.push(
        issue(
          'warning',
          'COMPENSATION_DUPLICATE',
          { path: `${base}.stepId`, stepId: c.stepId },
          `Step "${c.stepId}" has two compensation handlers (#${first} and #${i}); only the first runs. Remove one.`,
        ),
      );
    } else handled.set(c.stepId, i);
    if (refIncomplete(c.operation)) {
      issues.push(
        issue(
          'error',
          'COMPENSATION_OPERATION_INCOMPLETE',
          { path: `${base}.operation`, stepId: c.stepId },
          `Compensation for step "${c.stepId}" has operation ${show(c.operation)}; it needs both key and version.`,
        ),
      );
    }
  });
  spec.definition.steps.forEach((step, i) => {
    if (step.type === 'automation' && !handled.has(step.id)) {
      issues.push(
        issue(
          'warning',
          'COMPENSATION_MISSING_HANDLER',
          { path: `definition.steps[${i}]`, stepId: step.id },
          `Automation step "${step.id}" has no compensation handler although the workflow defines compensation. Add one if its effect must be undone.`,
        ),
      );
    }
  });
  return issues;
}

/** ContractSpec `validateWorkflowComprehensive`. */
export function validateWorkflowComprehensive(
  spec: WorkflowSpec,
  options: Pick<ValidateOptions, 'operations' | 'forms'> = {},
): ValidationIssue[] {
  const base = validateWorkflowSpec(spec, options);
  if (base.some((i) => i.code === 'EMPTY_STEPS')) return base;
  return [...base, ...validateRetryConfig(spec), ...validateSlaConfig(spec), ...validateCompensation(spec)];
}

/** Step ids are JSONPath keys in intrinsic-function arguments (`$.steps.<id>.output`): plain dotted-path keys only. */
const STEP_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Everything compileWorkflow checks: ContractSpec's rules plus what the ASL translation needs. */
export function validateForAsl(spec: WorkflowSpec, options: ValidateOptions = {}): ValidationIssue[] {
  const issues = validateWorkflowComprehensive(spec, options);
  if (issues.some((i) => i.code === 'EMPTY_STEPS')) return issues;
  const push: Push = (i) => issues.push(i);
  const functions = options.functions ?? {};
  const { definition } = spec;
  const steps = definition.steps;
  const triggerOnFailure = definition.compensation?.trigger === 'on_failure';

  const checkOperation = (ref: VersionedSpecRef | undefined, path: string, stepId: string, what: string): void => {
    if (!ref || refIncomplete(ref)) return;
    const op = opRefId(ref);
    if (Object.hasOwn(functions, op)) return;
    const bound = Object.keys(functions);
    push(
      issue(
        options.allowUnboundOperations ? 'warning' : 'error',
        'UNBOUND_OPERATION',
        { path: path, stepId: stepId },
        `${what} of step "${stepId}" is operation ${op}, which no function implements` +
          `${bound.length ? ` (bound: ${bound.join(', ')})` : ''}. Bind a function to "${op}", or fix the operation key/version.`,
      ),
    );
  };

  steps.forEach((step, i) => {
    const base = `definition.steps[${i}]`;
    if (typeof step.id !== 'string' || !STEP_ID.test(step.id)) {
      push(
        issue(
          'error',
          'STEP_ID_INVALID',
          { path: `${base}.id`, stepId: step.id },
          `Step id ${show(step.id)} cannot name an ASL state and a JSONPath key: use letters, digits, '_' and '-', starting with a letter or '_'.`,
        ),
      );
    } else if (step.id.length > MAX_STEP_ID_LENGTH) {
      push(
        issue(
          'error',
          'STATE_NAME_TOO_LONG',
          { path: `${base}.id`, stepId: step.id },
          `Step id "${step.id}" is ${step.id.length} characters; ASL state names are limited to ${ASL_LIMITS.stateNameMaxLength} and the compiler appends up to ${LONGEST_STATE_SUFFIX.length} ("${LONGEST_STATE_SUFFIX}"). Shorten it to ${MAX_STEP_ID_LENGTH} characters or fewer.`,
        ),
      );
    }
    if (step.type !== 'automation' && step.type !== 'human' && step.type !== 'decision') {
      push(
        issue(
          'error',
          'STEP_TYPE_INVALID',
          { path: `${base}.type`, stepId: step.id },
          `Step "${step.id}" has type ${show(step.type)}; use 'automation', 'human' or 'decision'.`,
        ),
      );
    }
    if (step.type === 'automation') {
      if (!step.action?.operation) {
        push(
          issue(
            'error',
            'AUTOMATION_WITHOUT_OPERATION',
            { path: `${base}.action.operation`, stepId: step.id },
            `Automation step "${step.id}" has no action.operation, so there is no Lambda to invoke (ContractSpec would fail the workflow when it reaches the step). Add {operation: {key, version}}.`,
          ),
        );
      } else checkOperation(step.action.operation, `${base}.action.operation`, step.id, 'action.operation');
    }
    if (step.type !== 'automation' && step.action?.operation) {
      push(
        issue(
          'warning',
          'OPERATION_IGNORED',
          { path: `${base}.action.operation`, stepId: step.id },
          `${step.type} step "${step.id}" declares operation ${opRefId(step.action.operation)}; ContractSpec never runs operations of ${step.type} steps, and neither does the ASL. Remove it or make the step an automation step.`,
        ),
      );
    }
    if (step.type !== 'automation' && step.retry) {
      push(
        issue(
          'warning',
          'RETRY_IGNORED',
          { path: `${base}.retry`, stepId: step.id },
          `${step.type} step "${step.id}" declares retry, but it runs no operation that could fail; no Retry is emitted. Remove it.`,
        ),
      );
    }
    if (step.type === 'human' && !options.humanTaskBinding) {
      push(
        issue(
          'error',
          'HUMAN_TASK_BINDING_REQUIRED',
          { path: base, stepId: step.id },
          `Human step "${step.id}" needs CompileOptions.humanTaskBinding ({placeholderKey, timeoutSeconds}): the function that receives the task token and the maximum wait.`,
        ),
      );
    }
    if (step.timeoutMs !== undefined) {
      if (!isFiniteNumber(step.timeoutMs)) {
        push(
          issue(
            'error',
            'TIMEOUT_INVALID',
            { path: `${base}.timeoutMs`, stepId: step.id },
            `Step "${step.id}": timeoutMs is ${show(step.timeoutMs)}; use a positive number of milliseconds.`,
          ),
        );
      } else if (step.timeoutMs <= 0) {
        push(
          issue(
            'warning',
            'TIMEOUT_IGNORED',
            { path: `${base}.timeoutMs`, stepId: step.id },
            `Step "${step.id}": timeoutMs is ${step.timeoutMs}; ContractSpec ignores timeouts <= 0, and so does the compiler (the function's timeout applies).`,
          ),
        );
      } else if (step.type !== 'automation') {
        push(
          issue(
            'warning',
            'TIMEOUT_IGNORED',
            { path: `${base}.timeoutMs`, stepId: step.id },
            `${step.type} step "${step.id}": timeoutMs ${step.timeoutMs} has no effect in ContractSpec (the step runs no operation); it is ignored.`,
          ),
        );
      } else if (msToSecondsCeil(step.timeoutMs) > ASL_LIMITS.integerMax) {
        push(
          issue(
            'error',
            'TIMEOUT_TOO_LARGE',
            { path: `${base}.timeoutMs`, stepId: step.id },
            `Step "${step.id}": timeoutMs ${step.timeoutMs} exceeds ASL's TimeoutSeconds maximum (${ASL_LIMITS.integerMax} s).`,
          ),
        );
      } else if (step.action?.operation) {
        const op = opRefId(step.action.operation);
        const fn = Object.hasOwn(functions, op) ? functions[op] : undefined;
        if (fn && msToSecondsCeil(step.timeoutMs) > fn.timeoutSeconds) {
          push(
            issue(
              'warning',
              'TIMEOUT_EXCEEDS_LAMBDA',
              { path: `${base}.timeoutMs`, stepId: step.id },
              `Step "${step.id}": timeoutMs ${step.timeoutMs} is longer than the timeout of the function bound to ${op} (${fn.timeoutSeconds} s), so the Lambda times out first (not retried). Raise the function's timeout or lower timeoutMs.`,
            ),
          );
        }
      }
    }
    if (step.guard && typeof step.guard.value === 'string' && step.guard.value.trim() !== '') {
      if (step.guard.type === 'policy') {
        push(
          issue(
            'warning',
            'POLICY_GUARD_NOT_ENFORCED',
            { path: `${base}.guard`, stepId: step.id },
            `Step "${step.id}" has policy guard "${step.guard.value}". ContractSpec passes policy guards when no guardEvaluator is configured, and ASL has no policy engine: the guard is NOT enforced. Enforce the policy inside the step's Lambda.`,
          ),
        );
      } else {
        const parsed = parseCondition(step.guard.value, { optionalChaining: options.optionalChaining ?? 'normalize' });
        for (const problem of parsed.issues)
          push({
            ...problem,
            path: `${base}.guard.value`,
            stepId: step.id,
            message: `Guard of step "${step.id}": ${problem.message}`,
          });
        if (conditionRoots(parsed.ast).has('output')) {
          push(
            issue(
              'error',
              'GUARD_READS_OUTPUT',
              { path: `${base}.guard.value`, stepId: step.id },
              `Guard of step "${step.id}" (\`${step.guard.value}\`) reads output.*, but guards run before the step and ContractSpec evaluates them with {data, input} only (output is always undefined). Use data.* or input.*.`,
            ),
          );
        }
      }
    }
  });

  const out = outgoing(definition);
  (definition.transitions ?? []).forEach((t, i) => {
    if (t.condition === undefined || t.condition.trim() === '') return;
    const parsed = parseCondition(t.condition, { optionalChaining: options.optionalChaining ?? 'normalize' });
    for (const problem of parsed.issues) {
      push({
        ...problem,
        path: `definition.transitions[${i}].condition`,
        stepId: t.from,
        message: `Transition ${t.from} → ${t.to}: ${problem.message}`,
      });
    }
  });
  for (const [from, edges] of out) {
    const firstAlways = edges.findIndex((t) => t.condition === undefined || t.condition.trim() === '');
    if (firstAlways >= 0 && firstAlways < edges.length - 1) {
      const shadowed = edges.slice(firstAlways + 1).map((t) => t.to);
      push(
        issue(
          'warning',
          'TRANSITION_SHADOWED',
          { path: 'definition.transitions', stepId: from },
          `Step "${from}": the unconditional transition to "${edges[firstAlways]?.to}" comes first, so later transitions (to ${shadowed.join(', ')}) never fire (first match wins). Reorder or add conditions.`,
        ),
      );
    }
  }

  if (triggerOnFailure) {
    (definition.compensation?.steps ?? []).forEach((c, i) => {
      const target = steps.find((s) => s.id === c.stepId);
      if (target?.type === 'decision') {
        push(
          issue(
            'error',
            'COMPENSATION_UNSUPPORTED_STEP',
            { path: `definition.compensation.steps[${i}].stepId`, stepId: c.stepId },
            `Compensation for decision step "${c.stepId}" is not supported by the ASL compiler (a decision has no effect to undo). Remove it.`,
          ),
        );
      }
      checkOperation(
        c.operation,
        `definition.compensation.steps[${i}].operation`,
        c.stepId,
        'The compensation operation',
      );
    });
  }
  // ContractSpec's warning for an automation step without operation is superseded by the error above.
  return issues.filter((i) => !(i.code === 'AUTOMATION_WITHOUT_OPERATION' && i.level === 'warning'));
}
