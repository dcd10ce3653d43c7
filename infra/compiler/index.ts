/** Public API of the workflow compiler (see README.md). */
export * from './spec';
export * from './asl';
export { compileWorkflow, type CompileOptions, type CompiledWorkflow, LAMBDA_INVOKE, LAMBDA_INVOKE_WAIT_FOR_TOKEN, TASK_TIMEOUT_MARGIN_SECONDS, STATE_SUFFIX, WORKFLOW_FAILED, WORKFLOW_SUCCEEDED, NO_TRANSITION_MATCHED, GUARD_REJECTED } from './compile';
export * from './validate';
export * from './expression';
export { renderFidelityReport, buildFidelityReport, type FidelityReport, type StepFidelity, type RetryFidelity, type FidelityNote } from './report';
export { renderMermaid } from './diagram';
export { contractSpecRetryDelaysMs, aslRetryDelaysSeconds, aslRetryWaitSeconds, toAslRetrier, msToSecondsCeil } from './retry';
