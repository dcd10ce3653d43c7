/**
 * This project's step functions: which handler implements which spec operation, with its size. The stack builds one
 * Lambda per entry and hands them to ContractSpecStateMachine; the CLI, the local runner and the bench compile with
 * the same table (stepFunctionsByOperation), so they all produce the ASL the stack deploys.
 */
import type { OperationFunction } from '../compiler/compile';

export interface StepFunctionBinding {
  /** CDK construct id of the function. */
  id: string;
  /** Handler source, relative to the repository root (bundled by esbuild). */
  entry: string;
  /** Spec operations (`key@version`) this function implements. */
  operations: readonly string[];
  /** Lambda timeout. A forced Powens sync can take minutes; the Task timeout is derived from this. */
  timeoutSeconds: number;
  memoryMb: number;
  /** The function reads `executionId` from its input (see lambdas/core/workflow-contract.ts). */
  executionId?: boolean;
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
    // Execution markers: a retried refresh never forces a second Powens sync (PSD2 budget) for one execution.
    executionId: true,
    // Execution markers (read, then conditional updates), the PSD2 budget (conditional update; Powens' own syncs:
    // conditional put + slot query), connection health (conditional put) and the Powens rate budget (a conditional
    // update reserves each call's slot).
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
  },
  {
    id: 'FetchBalances',
    entry: 'lambdas/fetch-balances/handler.ts',
    operations: ['openbanking.balances.get@1.0.0'],
    timeoutSeconds: 120,
    memoryMb: 512,
    // History in batches, latest as conditional puts; the Powens rate budget (a conditional update per call).
    tableActions: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  },
];

/** The compiler's view of a binding table: operation → {timeoutSeconds, executionId}. */
export function stepFunctionsByOperation(
  bindings: readonly StepFunctionBinding[] = STEP_FUNCTIONS,
): Record<string, OperationFunction> {
  const functions: Record<string, OperationFunction> = {};
  for (const binding of bindings) {
    for (const operation of binding.operations) {
      functions[operation] = binding.executionId
        ? { timeoutSeconds: binding.timeoutSeconds, executionId: true }
        : { timeoutSeconds: binding.timeoutSeconds };
    }
  }
  return functions;
}
