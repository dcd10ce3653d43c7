/**
 * The whole contract between a compiled state machine and the functions bound to its operations: a step function
 * receives the workflow data (the execution input merged with the outputs of the steps completed so far) and returns
 * its output, a JSON object. Nothing else. A function that must recognise its own work across Step Functions retries
 * asks for the execution id (ContractSpecStateMachine `executionId: true`) and finds it in this field of its input.
 */
import { ValidationFailedError } from './errors';

export const EXECUTION_ID_FIELD = 'executionId';

/** Step Functions execution ARNs are at most a few hundred characters; anything longer is not one. */
export const MAX_EXECUTION_ID_LENGTH = 2048;

/**
 * Separates the execution id the state machine adds from the operation's own input. The id keys the execution
 * markers (`EXEC#<id>`): a non-string would be stringified (`{}` → `[object Object]`, one marker shared by every such
 * call), so when present it must be a non-empty, bounded string, else ValidationFailed.
 */
export function withoutExecutionId(event: unknown): { input: unknown; executionId?: string } {
  if (event === null || typeof event !== 'object' || Array.isArray(event) || !(EXECUTION_ID_FIELD in event))
    return { input: event };
  const { [EXECUTION_ID_FIELD]: executionId, ...input } = event as Record<string, unknown>;
  if (typeof executionId !== 'string' || executionId === '') {
    const got = executionId === null ? 'null' : Array.isArray(executionId) ? 'an array' : typeof executionId;
    throw new ValidationFailedError(
      `executionId must be a non-empty string (the Step Functions execution ARN); got ${got}.`,
    );
  }
  if (executionId.length > MAX_EXECUTION_ID_LENGTH)
    throw new ValidationFailedError(`executionId longer than ${MAX_EXECUTION_ID_LENGTH} characters.`);
  return { input, executionId };
}
