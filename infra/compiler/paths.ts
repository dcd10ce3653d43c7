/**
 * The state layout of a compiled machine (README "Data flow"): `{steps: {<stepId>: {output}}}`, plus `error` and
 * `compensationErrors` on the failure path. The execution input is never copied into it: `$$.Execution.Input`.
 */
import { jsonPathChild } from './expression';

/** The execution input: ContractSpec's `input`, and the first layer of `data`. */
export const EXECUTION_INPUT = '$$.Execution.Input';
/** Where completed steps keep their output: `$.steps.<stepId>.output`. */
export const STEPS_PATH = '$.steps';
/**
 * Slot of a step that has not run, written up front where a later States.JsonMerge must read the slot whatever path
 * the execution took (JsonMerge needs an object; a missing path is a runtime error). `skipped` tells it from a run.
 */
export const NOT_RUN_SLOT = { output: {}, skipped: true } as const;

export function stepSlotPath(stepId: string): string {
  return jsonPathChild(STEPS_PATH, stepId);
}

export function stepOutputPath(stepId: string): string {
  return `${stepSlotPath(stepId)}.output`;
}
