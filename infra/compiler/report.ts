/**
 * Fidelity report: what the spec asks (under ContractSpec's runner semantics) next to what the compiled ASL does,
 * with every deviation spelled out. `npm run -s workflow -- explain <spec>` prints it.
 */
import type { Retrier, StateMachineDefinition, TaskState } from './asl';
import { aslRetryDelaysSeconds, contractSpecRetryDelaysMs } from './retry';
import { opRefId, type RetryPolicy, type WorkflowSpec } from './spec';
import { stepOutputPath } from './paths';
import type { HumanTaskBinding, ValidationIssue } from './validate';
import { renderRows } from '../text-table';

export interface FidelityNote {
  /** e.g. 'retry-rounding', 'condition', 'optional-chaining', 'timeout-rounding', 'retry-after', 'policy-guard'. */
  kind: string;
  deviation: boolean;
  message: string;
}

export interface RetryFidelity {
  policy: RetryPolicy;
  retrier: Retrier;
  /** Total invocations at most (1 + maxAttempts) — the same in both engines. */
  maxInvocations: number;
  /** ContractSpec wait before retry k, ms. */
  specDelaysMs: number[];
  /** ASL wait before retry k, seconds: min(I·B^(k−1), MaxDelaySeconds). */
  aslDelaysSeconds: number[];
  /** Per retry, e.g. "750 ms → 1 s"; empty when exact. */
  deviations: string[];
  exact: boolean;
}

export interface StepFidelity {
  stepId: string;
  type: string;
  stateName: string;
  operation?: string;
  retry?: RetryFidelity;
  timeout?: { specMs?: number; aslSeconds: number; source: 'spec' | 'binding' | 'human-binding' };
  notes: FidelityNote[];
}

export interface FidelityReport {
  workflow: { key: string; version: string };
  exact: boolean;
  steps: StepFidelity[];
  notes: FidelityNote[];
}

export interface ReportContext {
  noMatch?: 'fail' | 'succeed';
  optionalChaining?: 'normalize' | 'contractspec';
  humanTaskBinding?: HumanTaskBinding;
  enforceSla?: boolean;
  warnings: readonly ValidationIssue[];
  stateNames: Record<string, string>;
}

function formatMs(ms: number): string {
  return `${ms} ms`;
}
function formatS(s: number): string {
  return `${Number.isInteger(s) ? s : s.toFixed(3)} s`;
}

const CONDITION_NOTE_KIND: Record<string, string> = {
  CONDITION_OPTIONAL_CHAINING: 'optional-chaining',
  CONDITION_NUMBER_COERCION: 'number-coercion',
  CONDITION_CONSTANT: 'constant-condition',
  CONDITION_RAW_STRING_RHS: 'raw-string-rhs',
  POLICY_GUARD_NOT_ENFORCED: 'policy-guard',
  TIMEOUT_EXCEEDS_LAMBDA: 'timeout',
};

export function buildFidelityReport(
  spec: WorkflowSpec,
  definition: StateMachineDefinition,
  ctx: ReportContext,
): FidelityReport {
  const mergedJson = JSON.stringify(definition);
  const steps: StepFidelity[] = spec.definition.steps.map((step) => {
    const stateName = ctx.stateNames[step.id] ?? step.id;
    const state = definition.States[stateName];
    const notes: FidelityNote[] = [];
    const fidelity: StepFidelity = { stepId: step.id, type: step.type, stateName, notes };
    if (step.action?.operation && step.type === 'automation') fidelity.operation = opRefId(step.action.operation);

    const task = state?.Type === 'Task' ? (state as TaskState) : undefined;
    const retrier = task?.Retry?.[0];
    if (step.retry && retrier) {
      const specDelaysMs = contractSpecRetryDelaysMs(step.retry);
      const aslDelaysSeconds = aslRetryDelaysSeconds(retrier);
      const deviations = specDelaysMs.flatMap((ms, k) => {
        const s = aslDelaysSeconds[k] ?? NaN;
        return s * 1000 === ms ? [] : [`retry ${k + 1}: ${formatMs(ms)} → ${formatS(s)}`];
      });
      fidelity.retry = {
        policy: step.retry,
        retrier,
        maxInvocations: 1 + retrier.MaxAttempts,
        specDelaysMs,
        aslDelaysSeconds,
        deviations,
        exact: deviations.length === 0,
      };
      if (deviations.length > 0) {
        notes.push({
          kind: 'retry-rounding',
          deviation: true,
          message: `Retry waits rounded up to whole seconds (ASL has no sub-second intervals): ${deviations.join(', ')}.`,
        });
      }
      notes.push({
        kind: 'retry-after',
        deviation: true,
        message:
          'A server retryAfter hint (e.g. HTTP Retry-After on 429) replaces the delay in ContractSpec; ASL cannot honour it and keeps the fixed schedule.',
      });
    }
    if (task) {
      if (step.type === 'human') {
        fidelity.timeout = { aslSeconds: task.TimeoutSeconds, source: 'human-binding' };
        notes.push({
          kind: 'human-wait',
          deviation: true,
          message: `ContractSpec waits for human input indefinitely; the ASL task fails with States.Timeout after ${task.TimeoutSeconds} s (humanTaskBinding.timeoutSeconds).`,
        });
      } else if (step.timeoutMs !== undefined && step.timeoutMs > 0) {
        fidelity.timeout = { specMs: step.timeoutMs, aslSeconds: task.TimeoutSeconds, source: 'spec' };
        if (task.TimeoutSeconds * 1000 !== step.timeoutMs) {
          notes.push({
            kind: 'timeout-rounding',
            deviation: true,
            message: `timeoutMs ${step.timeoutMs} → TimeoutSeconds ${task.TimeoutSeconds} (rounded up to whole seconds).`,
          });
        }
      } else {
        fidelity.timeout = { aslSeconds: task.TimeoutSeconds, source: 'binding' };
        notes.push({
          kind: 'timeout',
          deviation: true,
          message: `No timeoutMs: ContractSpec waits forever; the Task times out after ${task.TimeoutSeconds} s (the Lambda timeout plus a margin, so the Lambda's own timeout fires first).`,
        });
      }
    }
    if ((step.requiredIntegrations?.length ?? 0) > 0 || (step.requiredCapabilities?.length ?? 0) > 0) {
      notes.push({
        kind: 'pre-flight',
        deviation: true,
        message: `requiredIntegrations [${(step.requiredIntegrations ?? []).join(', ')}] / requiredCapabilities [${(step.requiredCapabilities ?? []).map(opRefId).join(', ')}] are checked by ContractSpec's pre-flight at start; ASL has no equivalent: the Lambda must fail with ConfigurationError when its integration is missing.`,
      });
    }
    if (step.type !== 'decision' && mergedJson.includes(`${stepOutputPath(step.id)}, false)`)) {
      notes.push({
        kind: 'output-merge',
        deviation: true,
        message:
          `A later state merges this step's output into the workflow data with States.JsonMerge, which needs a JSON object: ` +
          `ContractSpec skips an array, primitive or null output (§2.2.8); here such an output makes that merge fail, failing the execution (an intrinsic-function error: States.IntrinsicFailure in the ASL spec, States.Runtime in aws-local-stepfunctions). Return an object.`,
      });
    }
    for (const w of ctx.warnings) {
      if (w.stepId !== step.id) continue;
      const kind = CONDITION_NOTE_KIND[w.code];
      if (kind)
        notes.push({ kind, deviation: w.code !== 'CONDITION_RAW_STRING_RHS', message: `${w.path}: ${w.message}` });
    }
    return fidelity;
  });

  const notes: FidelityNote[] = [];
  const noMatch = ctx.noMatch ?? 'fail';
  notes.push({
    kind: 'no-match',
    deviation: noMatch !== 'fail',
    message:
      noMatch === 'fail'
        ? 'A step whose transitions all fail to match ends the execution with Error "NoTransitionMatched" (ContractSpec WorkflowRunner behaviour).'
        : 'A step whose transitions all fail to match ends the execution successfully (Workflow DevKit behaviour; ContractSpec WorkflowRunner would fail).',
  });
  notes.push({
    kind: 'data-flow',
    deviation: true,
    message:
      'Each function receives the workflow data (execution input merged with every completed output, last writer wins) and returns its output, kept once at $.steps.<id>.output; ' +
      'ContractSpec passes each op only the input given to executeStep (usually undefined) with the data in its context. The execution output is {steps: {<id>: {output}}}, not the merged data.',
  });
  const sla = spec.definition.sla;
  if (sla) {
    notes.push({
      kind: 'sla',
      deviation: true,
      message:
        ctx.enforceSla && sla.totalDurationMs
          ? `sla.totalDurationMs enforced as the state machine TimeoutSeconds (${definition.TimeoutSeconds} s): stricter than ContractSpec, which only emits workflow.sla_breach events. Step budgets are not enforced.`
          : 'SLA is not enforced (ContractSpec only emits workflow.sla_breach events); use enforceSla to turn totalDurationMs into an execution timeout.',
    });
  }
  const comp = spec.definition.compensation;
  if (comp) {
    notes.push(
      comp.trigger === 'on_failure'
        ? {
            kind: 'compensation',
            deviation: true,
            message:
              'Compensation on_failure: every Task failure, guard rejection and unmatched transition runs the compensations of completed steps in reverse order (best effort), then fails with the original error. ' +
              "ContractSpec does not compensate on a guard rejection (the workflow stays running). The compensation function receives ContractSpec's {stepId, originalInput, originalOutput, workflowData} plus the error; originalInput is the data the step received.",
          }
        : {
            kind: 'compensation',
            deviation: false,
            message: `Compensation trigger is ${comp.trigger === undefined ? 'unset' : `'${comp.trigger}'`}: nothing runs automatically (as in ContractSpec, where the caller invokes rollback()); no compensation states are emitted.`,
          },
    );
  }
  if (spec.definition.steps.some((s) => s.type === 'decision')) {
    notes.push({
      kind: 'decision',
      deviation: false,
      message:
        'Decision steps compile to Choice states; their output is their input, so `output.*` in their transitions reads the execution input.',
    });
  }
  const exact = steps.every((s) => s.notes.every((n) => !n.deviation)) && notes.every((n) => !n.deviation);
  return { workflow: { key: spec.meta.key, version: spec.meta.version }, exact, steps, notes };
}

function describePolicy(p: RetryPolicy): string {
  return `${p.backoff} ${p.maxAttempts} × ${p.delayMs} ms${p.maxDelayMs !== undefined ? ` (max ${p.maxDelayMs} ms)` : ''}`;
}

function describeRetrier(r: Retrier): string {
  return `I=${r.IntervalSeconds} s, B=${r.BackoffRate}, Max=${r.MaxAttempts}${r.MaxDelaySeconds !== undefined ? `, MaxDelay=${r.MaxDelaySeconds} s` : ''}`;
}

/** Markdown: a retry table (spec ms vs ASL s per attempt), a timeout column, then the deviations. */
export function renderFidelityReport(report: FidelityReport): string {
  const rows = report.steps.map((s) => [
    s.stepId,
    s.type,
    s.retry ? describePolicy(s.retry.policy) : s.type === 'automation' ? 'none (never retried)' : '-',
    s.retry ? s.retry.specDelaysMs.map((d) => `${d}`).join(', ') + ' ms' : '-',
    s.retry ? describeRetrier(s.retry.retrier) : '-',
    s.retry ? s.retry.aslDelaysSeconds.map((d) => formatS(d).replace(' s', '')).join(', ') + ' s' : '-',
    s.retry ? (s.retry.exact ? 'exact' : 'rounded up') : '-',
    s.timeout
      ? `${s.timeout.specMs !== undefined ? `${s.timeout.specMs} ms → ` : ''}${s.timeout.aslSeconds} s (${s.timeout.source})`
      : '-',
  ]);
  const out: string[] = [];
  out.push(`# Fidelity report: ${report.workflow.key}@${report.workflow.version}`);
  out.push('');
  out.push(
    report.exact ? 'The ASL reproduces the spec exactly.' : 'The ASL deviates from ContractSpec where noted below.',
  );
  out.push('');
  out.push(
    renderRows(
      ['step', 'type', 'retry (spec)', 'spec waits', 'ASL retrier', 'ASL waits', 'retry fidelity', 'task timeout'],
      rows,
      { markdown: true },
    ),
  );
  out.push('');
  for (const s of report.steps) {
    if (s.notes.length === 0) continue;
    out.push(`## ${s.stepId}`);
    for (const n of s.notes) out.push(`- ${n.deviation ? '⚠ ' : ''}[${n.kind}] ${n.message}`);
    out.push('');
  }
  out.push('## Workflow');
  for (const n of report.notes) out.push(`- ${n.deviation ? '⚠ ' : ''}[${n.kind}] ${n.message}`);
  return `${out.join('\n')}\n`;
}
