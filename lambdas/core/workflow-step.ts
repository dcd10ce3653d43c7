import type middy from '@middy/core';
import { ValidationFailedError } from './errors';
import { completeStep, isStepInvocation, type StepInvocation, type WorkflowEnvelope } from './workflow-envelope';

/** Step Functions execution ARNs are at most a few hundred characters; anything longer is not one. */
export const MAX_EXECUTION_ID_LENGTH = 2048;

/**
 * `executionId` keys the execution markers (`EXEC#<id>`): a non-string would be stringified (`{}` → `[object Object]`,
 * one marker shared by every such call), so it must be a non-empty, bounded string when present.
 */
export function executionIdProblem(executionId: unknown): string | undefined {
  if (executionId === undefined) return undefined;
  if (typeof executionId !== 'string' || executionId === '') {
    return `executionId must be a non-empty string (the Step Functions execution ARN); got ${executionId === null ? 'null' : Array.isArray(executionId) ? 'an array' : typeof executionId}.`;
  }
  if (executionId.length > MAX_EXECUTION_ID_LENGTH) return `executionId longer than ${MAX_EXECUTION_ID_LENGTH} characters.`;
  return undefined;
}

/** What the middleware exposes to the handler on `context.workflowStep`. */
export interface WorkflowStepContext {
  stepId: string;
  operation: string;
  executionId?: string;
  /** The execution input, untouched: validate it strictly (the event itself is the merged workflow data). */
  input: unknown;
}

export type WithWorkflowStep<C> = C & { workflowStep?: WorkflowStepContext };

/**
 * Adapts a step Lambda to the workflow envelope (see workflow-envelope.ts): the handler receives the workflow data
 * as its event and returns only its operation output; this middleware restores the envelope around it.
 */
export function workflowStep(): middy.MiddlewareObj<unknown, unknown> {
  const invocations = new WeakMap<object, StepInvocation>();
  return {
    before: (request) => {
      if (!isStepInvocation(request.event)) {
        throw new ValidationFailedError(
          'Expected a workflow step invocation {step:{id,operation}, input, data}; got something else. ' +
            'Invoke this function through the compiled state machine, or wrap a direct payload as {step, input, data}.',
        );
      }
      const invocation = request.event;
      const problem = executionIdProblem(invocation.executionId);
      if (problem !== undefined) throw new ValidationFailedError(problem);
      invocations.set(request.context as object, invocation);
      const step: WorkflowStepContext = {
        stepId: invocation.step.id,
        operation: invocation.step.operation,
        input: invocation.input,
      };
      if (invocation.executionId !== undefined) step.executionId = invocation.executionId;
      (request.context as WithWorkflowStep<object>).workflowStep = step;
      request.event = invocation.data;
    },
    after: (request) => {
      const invocation = invocations.get(request.context as object);
      if (!invocation) return;
      const envelope: WorkflowEnvelope = completeStep(invocation, request.response);
      request.response = envelope;
    },
  };
}
