/** Workflow specs this project deploys. The CDK stack and the local runner compile each of them. */
import type { WorkflowSpec } from '../compiler/spec';
import { refreshOpenBankingBalancesWorkflow } from './refresh-openbanking-balances';

export { refreshOpenBankingBalancesWorkflow };

export const WORKFLOWS: readonly WorkflowSpec[] = [refreshOpenBankingBalancesWorkflow];
