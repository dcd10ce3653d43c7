/** The workflow spec this project deploys (the CDK stack and the local run compile it). */
import { refreshOpenBankingBalancesWorkflow } from './refresh-openbanking-balances';

export { refreshOpenBankingBalancesWorkflow };
