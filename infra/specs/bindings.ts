/**
 * Operation bindings: which Lambda implements which spec operation. The compiler reads this table to emit Task
 * states (the Resource placeholder and the Task timeout); the CDK stack reads it to create one function per entry
 * and to substitute its ARN. Any spec whose operations are bound here can be deployed.
 */
export interface StepFunctionBinding {
  /** CDK construct id of the function and name of the `${...}` ASL placeholder stem. */
  id: string;
  /** Handler source, relative to the repository root (bundled by esbuild). */
  entry: string;
  /** Spec operations (`key@version`) this function implements. */
  operations: readonly string[];
  /** Lambda timeout. A forced Powens sync can take minutes; the Task timeout is derived from this. */
  timeoutSeconds: number;
  memoryMb: number;
  /**
   * Exactly the DynamoDB actions the function's code calls on the balances table (least privilege: the role gets
   * these and nothing else; none when absent). test/integration/lambdas/handlers.test.ts checks the code against it.
   */
  tableActions?: readonly TableAction[];
}

/** The DynamoDB data-plane actions this project's code uses. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:Query';

export const STEP_FUNCTIONS: readonly StepFunctionBinding[] = [
  {
    id: 'RefreshBalances',
    entry: 'lambdas/refresh-balances/handler.ts',
    operations: ['openbanking.balances.refresh@1.0.0'],
    // Connections are synced concurrently, each PUT may take ~2 min (Powens: "up to a few minutes").
    timeoutSeconds: 300,
    memoryMb: 256,
    // Execution markers (read, then conditional updates), the PSD2 budget (conditional update) and the Powens rate
    // budget (read, then conditional update).
    tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
  },
  {
    id: 'FetchBalances',
    entry: 'lambdas/fetch-balances/handler.ts',
    operations: ['openbanking.balances.get@1.0.0'],
    timeoutSeconds: 120,
    memoryMb: 512,
    // History in batches, latest as conditional puts; the Powens rate budget (read, then conditional update).
    tableActions: ['dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  },
];

/** `${RefreshBalancesFunctionArn}`: the DefinitionSubstitutions key CDK fills with the function ARN. */
export function functionArnPlaceholderKey(binding: Pick<StepFunctionBinding, 'id'>): string {
  return `${binding.id}FunctionArn`;
}
