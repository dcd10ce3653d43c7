/**
 * The data-flow contract between compiled state machines and step Lambdas.
 *
 * ContractSpec's runner keeps one `data` object per workflow and, after every step, merges the step's output into
 * it (`{...data, ...output}`, plain objects only). ASL (JSONPath) cannot merge a Task result into the state without
 * an extra Pass state per step, and every state is a billed transition. So the merge happens here, in the Lambda:
 * the compiled Task sends a StepInvocation and takes the returned WorkflowEnvelope as its whole output
 * (`OutputPath: $.Payload`). One transition per step, the floor.
 *
 * The entry step receives the raw execution input as both `input` and `data`; later steps receive the previous
 * envelope. This module is pure (no AWS, no middy) so the compiler, the local runner and the Lambdas share it.
 */

export type WorkflowData = Record<string, unknown>;

export interface StepRef {
  /** Step id in the workflow spec. */
  id: string;
  /** Operation reference, `key@version`. */
  operation: string;
  /** Keep this step's output under `results[id]` (the compiler sets it when compensation needs the output). */
  recordResult?: boolean;
}

/** The `Payload` a compiled Task sends to its Lambda. */
export interface StepInvocation {
  step: StepRef;
  /** `$$.Execution.Id`: lets a retried step recognise work it already did in this execution. */
  executionId?: string;
  /** The execution input, passed through untouched (ContractSpec conditions may read `input.*`). */
  input: unknown;
  /** Workflow data: the execution input merged with the output of every step completed so far. */
  data: unknown;
  /** Outputs of completed steps that asked for `recordResult`. */
  results?: Record<string, unknown>;
}

/** What a step Lambda returns; it becomes the state machine's state after the Task. */
export interface WorkflowEnvelope {
  input: unknown;
  data: WorkflowData;
  /** The last step's output, as returned by the operation (conditions read it as `output.*`). */
  output: unknown;
  results?: Record<string, unknown>;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** ContractSpec §2.2 step 8: arrays and primitives are not merged. */
export function mergeStepOutput(data: unknown, output: unknown): WorkflowData {
  const base = isPlainObject(data) ? data : {};
  return isPlainObject(output) ? { ...base, ...output } : { ...base };
}

export function isStepInvocation(value: unknown): value is StepInvocation {
  if (!isPlainObject(value) || !isPlainObject(value.step)) return false;
  return typeof value.step.id === 'string' && typeof value.step.operation === 'string' && 'data' in value;
}

/** Builds the envelope a step returns once its operation produced `output`. */
export function completeStep(invocation: StepInvocation, output: unknown): WorkflowEnvelope {
  const envelope: WorkflowEnvelope = {
    input: invocation.input,
    data: mergeStepOutput(invocation.data, output),
    output,
  };
  if (invocation.step.recordResult || invocation.results !== undefined) {
    envelope.results = { ...(invocation.results ?? {}) };
    if (invocation.step.recordResult) envelope.results[invocation.step.id] = output;
  }
  return envelope;
}
