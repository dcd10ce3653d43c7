/**
 * The subset of Amazon States Language (JSONPath flavour) the compiler emits. Field order in these objects is the
 * order in the emitted JSON, so keep construction sites consistent for deterministic output.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A Choice rule without `Next` (used inside And / Or / Not). */
export type ChoiceRuleBody = { [key: string]: JsonValue } & (
  { Variable: string } | { And: ChoiceRuleBody[] } | { Or: ChoiceRuleBody[] } | { Not: ChoiceRuleBody }
);

export type ChoiceRule = ChoiceRuleBody & { Next: string };

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds: number;
  MaxAttempts: number;
  BackoffRate: number;
  MaxDelaySeconds?: number;
  JitterStrategy: 'NONE';
}

export interface Catcher {
  ErrorEquals: string[];
  ResultPath: string;
  Next: string;
}

interface Flow {
  Next?: string;
  End?: true;
}

export interface TaskState extends Flow {
  Type: 'Task';
  Comment?: string;
  Resource: string;
  Parameters: { [key: string]: JsonValue };
  ResultSelector?: { [key: string]: JsonValue };
  ResultPath?: string | null;
  TimeoutSeconds: number;
  Retry?: Retrier[];
  Catch?: Catcher[];
}

export interface PassState extends Flow {
  Type: 'Pass';
  Comment?: string;
  InputPath?: string;
  Parameters?: { [key: string]: JsonValue };
  Result?: JsonValue;
  ResultPath?: string | null;
}

export interface ChoiceState {
  Type: 'Choice';
  Comment?: string;
  Choices: ChoiceRule[];
  Default: string;
}

export interface SucceedState {
  Type: 'Succeed';
  Comment?: string;
}

export interface FailState {
  Type: 'Fail';
  Comment?: string;
  Error?: string;
  Cause?: string;
  ErrorPath?: string;
  CausePath?: string;
}

export type State = TaskState | PassState | ChoiceState | SucceedState | FailState;

export interface StateMachineDefinition {
  Comment?: string;
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, State>;
}

/** ASL / AWS schema limits (docs/step-functions-notes.md A1, B2). */
export const ASL_LIMITS = {
  stateNameMaxLength: 80,
  /** IntervalSeconds, MaxAttempts, TimeoutSeconds: integers up to 99 999 999 in AWS's schema. */
  integerMax: 99_999_999,
  /** MaxDelaySeconds: 1..31 622 400 (366 days). */
  maxDelaySecondsMax: 31_622_400,
  /** A Standard execution lasts at most one year. */
  executionTimeoutSecondsMax: 31_536_000,
  /** Intrinsic functions one field may nest (AWS Step Functions developer guide, "Intrinsic functions"). */
  intrinsicFunctionsPerFieldMax: 10,
} as const;
