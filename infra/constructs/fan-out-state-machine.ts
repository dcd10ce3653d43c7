import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Errors,
  Fail,
  IntegrationPattern,
  JsonPath,
  CustomState,
  StateMachine,
  StateMachineType,
  type CfnStateMachine,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { loggedStateMachine } from './logged-state-machine';

export interface FanOutSettings {
  /** Child (seed) executions running at once (Distributed Map MaxConcurrency). Powens calls stay under the rate budget. */
  maxConcurrency: number;
  /** Share of a page's users whose refresh may fail before the fan-out itself fails. */
  toleratedFailurePercentage: number;
}

const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

export const DEFAULT_FAN_OUT: FanOutSettings = { maxConcurrency: 10, toleratedFailurePercentage: 10 };

export interface FanOutStateMachineProps extends FanOutSettings {
  /** Physical name of the compiled seed machine (in this stack): started once per user with `{userIds: [id]}`. */
  seedName: string;
  /** lambdas/fan-out-page (a NodeFunction in the stack): folds a page's results into the summary, lists the next page. */
  nextPage: { readonly function: IFunction };
  stateMachineName: string;
}

/**
 * One execution per user, for tenants of any size (the seed machine carries every user's state in one execution, so
 * it hits the 256 KB payload limit at about a hundred users):
 *
 *   NextPage (Lambda) ─ done? ─→ Done (output: summary)
 *        ↑↑              ├─→ items? PerUser: Distributed Map over the page, MaxConcurrency / ToleratedFailurePercentage,
 *        │└──────────────│──     each item = StartExecution of the seed machine (.sync:2), input
 *        │               │        {userIds:[id], maxAgeMinutes}, result kept as {userIds, status} (never the child's
 *        │               │        output: it holds balances)
 *        └───────────────┘ no items (every user examined was fresh), more to examine: NextPage again
 *
 * No state grows with the number of users: the machine holds one page of ids and results plus a fixed-size summary.
 * The schedule starts this machine; the seed machine stays the compiled spec, unchanged.
 */
export class FanOutStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;
  readonly map: DistributedMap;

  constructor(scope: Construct, id: string, props: FanOutStateMachineProps) {
    super(scope, id);
    if (!Number.isInteger(props.maxConcurrency) || props.maxConcurrency < 1 || props.maxConcurrency > 10_000) {
      throw new Error(`fan-out maxConcurrency must be an integer 1..10000, got ${props.maxConcurrency}`);
    }
    if (!(props.toleratedFailurePercentage >= 0 && props.toleratedFailurePercentage <= 100)) {
      throw new Error(`fan-out toleratedFailurePercentage must be 0..100, got ${props.toleratedFailurePercentage}`);
    }

    // A CustomState rather than LambdaInvoke: LambdaInvoke would also grant `function:*` (every version and alias);
    // this machine calls the unqualified ARN only, granted below.
    const nextPage = new CustomState(this, 'NextPage', {
      stateJson: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: props.nextPage.function.functionArn, 'Payload.$': '$' },
        OutputPath: '$.Payload',
        TimeoutSeconds: 60,
        Retry: [
          {
            ErrorEquals: ['RateLimited', 'ServiceUnavailable', 'Timeout', 'States.Timeout', ...LAMBDA_SERVICE_ERRORS],
            IntervalSeconds: 2,
            MaxAttempts: 3,
            BackoffRate: 2,
          },
        ],
      },
    });

    const refreshUser = new StepFunctionsStartExecution(this, 'RefreshUser', {
      // By name, so the grants CDK derives (DescribeExecution/StopExecution on `execution:<name>*`) are literal.
      stateMachine: StateMachine.fromStateMachineName(this, 'Seed', props.seedName),
      integrationPattern: IntegrationPattern.RUN_JOB,
      // The fan-out's freshness threshold, so the child judges each connection as NextPage judged the user.
      input: TaskInput.fromObject({
        userIds: JsonPath.array(JsonPath.stringAt('$.userId')),
        maxAgeMinutes: JsonPath.numberAt('$.maxAgeMinutes'),
      }),
      // The child's output holds balances: keep only who and how.
      resultSelector: { 'userIds.$': '$.Input.userIds', 'status.$': '$.Status' },
    });

    this.map = new DistributedMap(this, 'PerUser', {
      itemsPath: '$.items',
      // `$` here is the Map's input (NextPage's output): every item gets the fan-out's maxAgeMinutes.
      itemSelector: { 'userId.$': '$$.Map.Item.Value.userId', 'maxAgeMinutes.$': '$.maxAgeMinutes' },
      maxConcurrency: props.maxConcurrency,
      toleratedFailurePercentage: props.toleratedFailurePercentage,
      mapExecutionType: StateMachineType.STANDARD,
      resultPath: '$.results',
    });
    // A failed child still fails its item (the Map's ToleratedFailurePercentage counts it), but through a Fail state
    // whose error keeps the child's and whose cause is one short sentence: the Map's result array holds one entry per
    // item, and a failed `.sync:2` task's own Cause is the child's whole description (input, error, cause: kilobytes
    // each), so a page of 500 with its tolerated failures could pass the 256 KB state limit and fail the fan-out.
    refreshUser.addCatch(
      new Fail(this, 'UserRefreshFailed', {
        errorPath: '$.failure.Error',
        // Static: a CausePath with States.Format would name the user, but aws-local-stepfunctions does not evaluate
        // intrinsic functions there, and the local run must execute this very definition. The item's input names it.
        cause: 'The seed execution of this item failed (its error is the item error).',
      }),
      { errors: [Errors.ALL], resultPath: '$.failure' },
    );
    this.map.itemProcessor(refreshUser);

    const done = new Succeed(this, 'Done', { outputPath: '$.summary' });
    // Started with {} or {"maxAgeMinutes": n} (the schedule's input, the API's): NextPage reads that as "first page,
    // empty summary". A call whose users were all fresh returns no items but a cursor: straight back to NextPage,
    // without a Map Run over nothing.
    const definition = nextPage.next(
      new Choice(this, 'AnyUsersLeft')
        .when(Condition.booleanEquals('$.done', true), done)
        .when(Condition.isPresent('$.items[0]'), this.map.next(nextPage))
        .otherwise(nextPage),
    );

    ({ logGroup: this.logGroup, stateMachine: this.stateMachine } = loggedStateMachine(this, {
      stateMachineName: props.stateMachineName,
      definitionBody: DefinitionBody.fromChainable(definition),
      errorLevelReason:
        'Level ERROR on purpose, as the seed machine: "ALL" would copy state data into CloudWatch Logs. The fan-out ' +
        'carries user ids and outcomes only, but its child executions carry balances.',
    }));
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [props.nextPage.function.functionArn] }),
    );

    // The grants below come from CDK (StepFunctionsStartExecution, DistributedMap), which builds the ARNs from the
    // stack's partition/region/account: literals once the stack has an environment (`cdk synth`/`deploy` set one from
    // the CLI's profile), tokens otherwise. cdk-nag names a finding by the rendered ARN, so the ids must follow suit.
    const stack = Stack.of(this);
    const part = (value: string, token: string) => (Token.isUnresolved(value) ? `<${token}>` : value);
    const executions = `arn:${part(stack.partition, 'AWS::Partition')}:states:${part(stack.region, 'AWS::Region')}:${part(stack.account, 'AWS::AccountId')}:execution`;
    Validations.of(this.stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${executions}:${props.seedName}*]`,
      reason:
        'startExecution.sync:2 polls and may stop the child executions it starts, whose names Step Functions ' +
        'generates: DescribeExecution/StopExecution on the seed machine executions only.',
    });
    const self = `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(this.stateMachine.node.defaultChild as CfnStateMachine)}"}]}]}`;
    for (const suffix of [':*', '/*:*']) {
      Validations.of(this.stateMachine).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${executions}:${self}${suffix}]`,
        reason:
          'Distributed Map runs its items as child executions of this machine (map runs): AWS requires ' +
          'DescribeExecution/StopExecution on them and RedriveExecution on `<machine>/<map run>:*` (CDK DistributedMap).',
      });
    }
  }
}
