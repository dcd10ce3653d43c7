/**
 * ContractSpecStateMachine deploys any workflow: here the payment-approval test spec (decision, human step with a
 * form, guard, timeout, compensation) bound to plain inline functions that know nothing of the workflow. The
 * synthesized definition is the compiler's output byte for byte, and the role may invoke exactly the bound functions.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { compileWorkflow, operationArnPlaceholder } from '../../../infra/compiler/compile';
import {
  ContractSpecStateMachine,
  OperationTimeoutRequiredError,
} from '../../../infra/constructs/contractspec-state-machine';
import { LocalWorkflow } from '../../support/asl-run';
import { paymentApprovalWorkflow } from '../../support/specs/payment-approval';

type Json = Record<string, unknown>;

const plain = (stack: Stack, id: string, body: string, timeout = Duration.seconds(30)) =>
  new LambdaFunction(stack, id, {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline(`exports.handler = async (data) => (${body});`),
    timeout,
  });

let stack: Stack;
let machine: ContractSpecStateMachine;
let template: Template;
const OPERATIONS = [
  'test.funds.reserve@1.0.0',
  'test.funds.release@1.0.0',
  'test.payments.charge@1.0.0',
  'test.payments.refund@1.0.0',
  'test.approvals.withdraw@1.0.0',
  'test.notify.send@1.0.0',
];

beforeAll(() => {
  const app = new App();
  stack = new Stack(app, 'PaymentApproval');
  const funds = plain(stack, 'Funds', "{ reservationId: 'res-1' }");
  const payments = plain(stack, 'Payments', "{ chargeId: 'ch-1' }", Duration.seconds(10));
  const approvals = plain(stack, 'Approvals', '{}');
  const notify = plain(stack, 'Notify', '{ notified: true }');
  const human = plain(stack, 'AskHuman', '{}');
  machine = new ContractSpecStateMachine(stack, 'Workflow', {
    spec: paymentApprovalWorkflow,
    operations: {
      'test.funds.reserve@1.0.0': { function: funds, executionId: true },
      'test.funds.release@1.0.0': funds,
      'test.payments.charge@1.0.0': payments,
      'test.payments.refund@1.0.0': payments,
      'test.approvals.withdraw@1.0.0': approvals,
      'test.notify.send@1.0.0': notify,
    },
    humanTask: { function: human, timeout: Duration.days(1) },
  });
  template = Template.fromStack(stack);
}, 120_000);

describe('ContractSpecStateMachine (payment-approval, plain inline functions)', () => {
  const definition = () => {
    const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as { Properties: Json }[];
    return sm?.Properties as { DefinitionString: unknown; DefinitionSubstitutions: Record<string, unknown> };
  };

  it('deploys exactly what compileWorkflow produces for the same functions', () => {
    const expected = compileWorkflow(paymentApprovalWorkflow, {
      functions: {
        'test.funds.reserve@1.0.0': { timeoutSeconds: 30, executionId: true },
        'test.funds.release@1.0.0': { timeoutSeconds: 30 },
        'test.payments.charge@1.0.0': { timeoutSeconds: 10 },
        'test.payments.refund@1.0.0': { timeoutSeconds: 10 },
        'test.approvals.withdraw@1.0.0': { timeoutSeconds: 30 },
        'test.notify.send@1.0.0': { timeoutSeconds: 30 },
      },
      humanTaskBinding: { placeholderKey: 'HumanTaskFunctionArn', timeoutSeconds: 86_400 },
    });
    expect(definition().DefinitionString === expected.json).toBe(true);
    expect(machine.compiled.json).toBe(expected.json);
  });

  it('substitutes each operation with its function and the human task with its function', () => {
    const subs = definition().DefinitionSubstitutions;
    const logicalId = (construct: string) =>
      stack.getLogicalId(stack.node.findChild(construct).node.defaultChild as never);
    expect(subs[operationArnPlaceholder('test.funds.release@1.0.0')]).toEqual({
      'Fn::GetAtt': [logicalId('Funds'), 'Arn'],
    });
    expect(subs[operationArnPlaceholder('test.payments.refund@1.0.0')]).toEqual({
      'Fn::GetAtt': [logicalId('Payments'), 'Arn'],
    });
    expect(subs.HumanTaskFunctionArn).toEqual({ 'Fn::GetAtt': [logicalId('AskHuman'), 'Arn'] });
    expect(Object.keys(subs).sort()).toEqual(
      [...OPERATIONS.map(operationArnPlaceholder), 'HumanTaskFunctionArn'].sort(),
    );
  });

  it('may invoke exactly the five distinct functions, unqualified', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
      Properties: { PolicyDocument: { Statement: Json[] } };
    }[];
    const invoke = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => s.Action === 'lambda:InvokeFunction');
    expect(invoke.map((s) => s.Resource)).toHaveLength(5);
    for (const s of invoke) expect(s.Resource).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
  });

  it('the deployed definition runs in aws-local-stepfunctions with functions that only map data to output', async () => {
    const run = await new LocalWorkflow(definition().DefinitionString as string).run(
      { amount: 5000, currency: 'EUR' },
      {
        reserve: () => ({ reservationId: 'res-1' }),
        review: () => ({ approved: true }),
        charge: (data) => ({ chargeId: `ch-for-${String(data.reservationId)}` }),
        notify: (data) => ({ notified: data.approved === true }),
      },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toMatchObject({
      steps: { charge: { output: { chargeId: 'ch-for-res-1' } }, notify: { output: { notified: true } } },
    });
  });

  it('refuses an imported function without a timeout, naming the operation', () => {
    const other = new Stack(new App(), 'Imported');
    const imported = LambdaFunction.fromFunctionArn(
      other,
      'Imported',
      'arn:aws:lambda:eu-west-1:123456789012:function:x',
    );
    expect(
      () =>
        new ContractSpecStateMachine(other, 'Workflow', {
          spec: paymentApprovalWorkflow,
          operations: Object.fromEntries(OPERATIONS.map((op) => [op, imported])),
        }),
    ).toThrow(OperationTimeoutRequiredError);
  });
});
