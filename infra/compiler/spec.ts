/**
 * ContractSpec's WorkflowSpec model (`@contractspec/lib.contracts-spec/workflow/spec`, commit 246900b6), restated
 * so specs written for ContractSpec type-check here unchanged. Fields the ASL compiler does not use (modelHints,
 * runtime, results, experiments...) are kept loosely typed: they must be tolerated, not interpreted.
 * See docs/contractspec-semantics.md §1.
 */

/** `{key, version}`: operations, forms and capabilities are all referenced this way. */
export interface VersionedSpecRef {
  key: string;
  version: string;
}
export type OpRef = VersionedSpecRef;
export type FormRef = VersionedSpecRef;
export type CapabilityRef = VersionedSpecRef;

export type Stability = 'idea' | 'in_creation' | 'experimental' | 'beta' | 'stable' | 'deprecated' | (string & {});
export type Owner = string;
export type Tag = string;
export type DocId = string;

/** ContractSpec `OwnerShipMeta`. */
export interface OwnerShipMeta {
  key: string;
  version: string;
  title?: string;
  description: string;
  domain?: string;
  stability: Stability;
  owners: Owner[];
  tags: Tag[];
  docId?: DocId[];
}
export type WorkflowMeta = OwnerShipMeta;

export type StepType = 'human' | 'automation' | 'decision';

export interface StepAction {
  operation?: OpRef;
  form?: FormRef;
}

export interface GuardCondition {
  type: 'policy' | 'expression';
  value: string;
}

export interface RetryPolicy {
  /** Retries after the first attempt (ContractSpec and ASL agree: 3 → up to 4 calls). */
  maxAttempts: number;
  /** 'linear' is a CONSTANT delay in ContractSpec (delayMs every time), not delayMs·n. */
  backoff: 'linear' | 'exponential';
  delayMs: number;
  /** Caps every computed delay (both kinds). */
  maxDelayMs?: number;
}

export interface StepModelHints {
  dimension?: string;
  priorities?: { dimension: string; weight: number }[];
  constraints?: Record<string, unknown>;
}

export interface WorkflowStepRuntimeConfig {
  workflowDevkit?: {
    behavior?: 'approvalWait' | 'hookWait' | 'sleep' | 'streamSession' | 'webhookWait';
    idempotencyKey?: string;
    [other: string]: unknown;
  };
  [other: string]: unknown;
}

export interface Step {
  id: string;
  type: StepType;
  label: string;
  description?: string;
  action?: StepAction;
  guard?: GuardCondition;
  /** Per attempt. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Integration slot ids (pre-flight only; no ASL counterpart). */
  requiredIntegrations?: string[];
  requiredCapabilities?: CapabilityRef[];
  modelHints?: StepModelHints;
  runtime?: WorkflowStepRuntimeConfig;
}

export interface Transition {
  from: string;
  to: string;
  label?: string;
  /** ContractSpec expression (§1.4), e.g. `data.approved === true`. Absent or empty → always true. */
  condition?: string;
}

export interface SLA {
  totalDurationMs?: number;
  stepDurationMs?: Record<string, number>;
}

export interface CompensationStep {
  stepId: string;
  operation: OpRef;
  description?: string;
}

export interface CompensationStrategy {
  /** Only 'on_failure' runs automatically; absent behaves like 'manual' (ContractSpec checks `=== 'on_failure'`). */
  trigger?: 'on_failure' | 'manual';
  steps: CompensationStep[];
}

export interface WorkflowDefinition {
  steps: Step[];
  transitions: Transition[];
  /** Defaults to the first step. */
  entryStepId?: string;
  sla?: SLA;
  compensation?: CompensationStrategy;
}

export type WorkflowAdapterName = 'langgraph' | 'langchain' | 'workflow-devkit';

export interface WorkflowRuntimeConfig {
  capabilities?: {
    adapters?: Partial<Record<WorkflowAdapterName, boolean>>;
    checkpointing?: boolean;
    suspendResume?: boolean;
    approvalGateway?: boolean;
  };
  ports?: {
    checkpointStore?: string;
    suspension?: string;
    retryClassifier?: string;
    approvalGateway?: string;
  };
  workflowDevkit?: Record<string, unknown>;
}

export interface WorkflowSpec {
  meta: WorkflowMeta;
  definition: WorkflowDefinition;
  results?: Record<string, unknown>;
  runtime?: WorkflowRuntimeConfig;
  metadata?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  policy?: { flags?: string[] };
  experiments?: VersionedSpecRef[];
}

/** ContractSpec's `defineWorkflow` is the identity and validates nothing; so is this one. */
export const defineWorkflow = (spec: WorkflowSpec): WorkflowSpec => spec;

/** `key@version`: how operations are named in the compiler's `functions`, the construct's `operations` and error messages. */
export function opRefId(ref: VersionedSpecRef): string {
  return `${ref.key}@${ref.version}`;
}

/** Loose structural check used by the CLI to find a spec among a module's exports. */
export function looksLikeWorkflowSpec(value: unknown): value is WorkflowSpec {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { meta?: { key?: unknown }; definition?: { steps?: unknown } };
  return typeof candidate.meta?.key === 'string' && Array.isArray(candidate.definition?.steps);
}
