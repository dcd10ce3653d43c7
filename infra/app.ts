/**
 * CDK entry (`cdk.json` → `npx tsx infra/app.ts`). cdk-nag's AwsSolutions pack runs on every synth: an
 * unacknowledged finding fails `cdk synth` (see validation-report.json in cdk.out). Acknowledgements live next to
 * the construct that causes them, each with its reason.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings } from './context';
import { OpenBankingStack } from './stack';

export function createApp(app: App = new App()): { app: App; stack: OpenBankingStack } {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new OpenBankingStack(app, 'OpenBankingRefresh', {
    settings: readSettings(app.node),
    description: 'Open-banking balance refresh: Step Functions workflow compiled from a ContractSpec spec',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  return { app, stack };
}

if (require.main === module) {
  createApp().app.synth();
}
