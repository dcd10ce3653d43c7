/**
 * The whole contract between a compiled state machine and the functions bound to its operations: a step function
 * receives the workflow data (the execution input merged with the outputs of the steps completed so far) and returns
 * its output, a JSON object. Nothing else. A function that must recognise its own work across Step Functions retries
 * asks for the execution id (ContractSpecStateMachine `executionId: true`) and finds it in this field of its input.
 */
export const EXECUTION_ID_FIELD = 'executionId';

/** Separates the execution id the state machine adds from the operation's own input. */
export function withoutExecutionId(event: unknown): { input: unknown; executionId?: string } {
  if (event === null || typeof event !== 'object' || Array.isArray(event) || !(EXECUTION_ID_FIELD in event)) return { input: event };
  const { [EXECUTION_ID_FIELD]: executionId, ...input } = event as Record<string, unknown>;
  return typeof executionId === 'string' ? { input, executionId } : { input };
}
