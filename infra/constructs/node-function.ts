import path from 'node:path';
import { Arn, ArnFormat, Aws, Duration, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/core/env-names';
import { LAMBDA_BUNDLING, PROJECT_ROOT } from '../bundling';
import type { TableAction } from '../specs/bindings';

export interface NodeFunctionProps {
  /** Handler source relative to the repository root (bindings use this form). */
  entry: string;
  description: string;
  /** POWERTOOLS_SERVICE_NAME: the `service` field of every log line and metric. */
  serviceName: string;
  /** Default 256 MB: enough for the SDK + JSON work; arm64 cost scales with it. */
  memorySize?: number;
  /** Default 30 s (API-sized). */
  timeout?: Duration;
  environment?: Record<string, string>;
}

/**
 * A Node 22 / arm64 Lambda with this project's defaults: one bundling definition (infra/bundling.ts), X-Ray active,
 * its own log group (retention, JSON logs) and its own role with no managed policy: the role may only write to that
 * log group. Every dependency is attached by one method that grants access AND sets the environment variable the
 * code reads, so the two never drift.
 */
export class NodeFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    // One month: enough to investigate an incident, short enough for bank-adjacent data.
    this.logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH });
    // No AWSLambdaBasicExecutionRole: it allows logs:CreateLogGroup/PutLogEvents on every log group of the account.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.resolve(PROJECT_ROOT, props.entry),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel.INFO,
      systemLogLevelV2: SystemLogLevel.WARN,
      bundling: LAMBDA_BUNDLING,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        // No NODE_OPTIONS=--enable-source-maps: Node would read and parse the ~0.5 MB .map during INIT on every cold
        // start (≈ 15–20% of the import, bench/cold-start.ts) for stack traces only InternalErrors print. The .map
        // stays in the asset to decode such a trace offline; set the flag on a function while debugging.
        ...props.environment,
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Tracing.ACTIVE: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions ' +
        '(AWS requires Resource "*").',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node 22 is deliberate: bundles target node22 (infra/bundling.ts) and tests run on Node >= 20 with the same ' +
        'APIs. Moving to nodejs24.x is a one-line change in LAMBDA_NODE_MAJOR once tested.',
    });
  }

  get functionArn(): string {
    return this.function.functionArn;
  }

  setEnvironment(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }

  /**
   * Exactly `actions` on the table (no index, no stream: the code uses neither) and its name in the environment.
   * Not grantReadWriteData: that adds DeleteItem, Scan, BatchGetItem, ConditionCheckItem... which no function calls.
   */
  useTable(table: ITableV2, actions: readonly TableAction[]): this {
    if (actions.length === 0) throw new Error(`${this.node.path}: useTable needs at least one action`);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...new Set(actions)].sort(), resources: [table.tableArn] }),
    );
    return this.setEnvironment(ENV.tableName, table.tableName);
  }

  /**
   * The user-token KMS key for ONE tenant: `action` on the key only when the encryption context's `tenant` is
   * `tenantId` (what the code always sends: lambdas/core/adapters/keys), and the key ARN in TOKEN_KMS_KEY_ID.
   */
  useTokenKey(key: IKey, action: 'kms:Encrypt' | 'kms:Decrypt', tenantId: string): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [action],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:EncryptionContext:tenant': tenantId } },
      }),
    );
    return this.setEnvironment(ENV.tokenKmsKeyId, key.keyArn);
  }

  /** `secretId`: ARN or name as GetSecretValue should receive it (default the secret's ARN). */
  readSecret(secret: ISecret, secretId: string = secret.secretArn): this {
    secret.grantRead(this.function);
    return this.setEnvironment(ENV.powensSecretId, secretId);
  }

  /** The API: GetSecretValue on the pagination cursor key only. */
  readCursorKey(secret: ISecret): this {
    secret.grantRead(this.function);
    return this.setEnvironment(ENV.cursorSecretId, secret.secretArn);
  }

  /**
   * StartExecution on the machine; DescribeExecution on its executions; its ARN in `envName` (default
   * STATE_MACHINE_ARN). Execution names are chosen per request, so the resource ends in `:*` (which excludes a
   * Distributed Map's child executions, `<name>/<map run>:…`); the state machine has a physical name so that resource
   * (and its cdk-nag acknowledgement) is a readable literal.
   */
  startAndDescribeExecutions(
    stateMachine: IStateMachine,
    stateMachineName: string,
    envName: typeof ENV.stateMachineArn | typeof ENV.fanOutStateMachineArn = ENV.stateMachineArn,
  ): this {
    stateMachine.grantStartExecution(this.function);
    const executions = Arn.format({
      partition: Aws.PARTITION,
      region: Aws.REGION,
      account: Aws.ACCOUNT_ID,
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
    );
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*]`,
      reason: `DescribeExecution only on executions of the ${stateMachineName} state machine; execution names are per request.`,
    });
    return this.setEnvironment(envName, stateMachine.stateMachineArn);
  }
}
