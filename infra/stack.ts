/**
 * The open-banking refresh stack, top to bottom:
 *   storage (table, Powens secret) → one Lambda per bound operation → the state machine compiled from the spec →
 *   who starts it (schedule, API) → who is told when it breaks (alarms) → outputs.
 */
import { Annotations, CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ENV } from '../lambdas/core/env-names';
import { BalancesTable } from './constructs/balances-table';
import { UserTokenKey } from './constructs/user-token-key';
import { DEFAULT_FAN_OUT, FanOutStateMachine } from './constructs/fan-out-state-machine';
import { OperationsAlarms } from './constructs/alarms';
import { NodeFunction } from './constructs/node-function';
import { PowensSecret } from './constructs/powens-secret';
import { RefreshApi } from './constructs/refresh-api';
import { RefreshSchedule } from './constructs/refresh-schedule';
import { ContractSpecStateMachine, type OperationBinding } from './constructs/contractspec-state-machine';
import type { AppSettings } from './context';
import type { WorkflowSpec } from './compiler/spec';
import { STEP_FUNCTIONS, type StepFunctionBinding, type TableAction } from './specs/bindings';
import { refreshOpenBankingBalancesWorkflow } from './specs';

/**
 * The API reads balances, positions and history (one Query per page) and GetItem to tell an unknown account (404)
 * from an empty history range; it writes nothing.
 */
export const REFRESH_API_TABLE_ACTIONS: readonly TableAction[] = ['dynamodb:GetItem', 'dynamodb:Query'];

/**
 * The API's user routes: UpdateItem (PUT /users/{id}), DeleteItem (DELETE), Query (GET /users); DELETE also takes the
 * user's latest balances out of positions (Query of the latest items, conditional UpdateItem each) and deletes its
 * connection-health items (Query, DeleteItem each).
 */
export const USER_REGISTRY_API_TABLE_ACTIONS: readonly TableAction[] = [
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];

/**
 * The fan-out's NextPage lists registry users page by page (Query; it never reads a token), then whether each user of
 * the Powens secret's deprecated list has a registry item (GetItem, public attributes only), and the listed users'
 * connection-health items (one Query per user) to skip users whose connections need no forced sync. It writes nothing.
 */
export const FAN_OUT_PAGE_TABLE_ACTIONS: readonly TableAction[] = ['dynamodb:GetItem', 'dynamodb:Query'];

/**
 * The Powens webhook receiver: delivery dedup (conditional put, then update), balances (history batches, conditional
 * latest puts), exclusion of disabled/deleted accounts (Query latest, conditional updates), connection health
 * (conditional put, Query), Powens' own syncs counted in the PSD2 budget (conditional put, Query, update) and the
 * user registry's status of the delivery's user (GetItem; no KMS grant: it never reads a token).
 */
export const WEBHOOK_TABLE_ACTIONS: readonly TableAction[] = [
  'dynamodb:BatchWriteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];

/** What a step Lambda reads from the user registry: GetItem per requested user, Query for "everyone". */
export const USER_REGISTRY_STEP_TABLE_ACTIONS: readonly TableAction[] = ['dynamodb:GetItem', 'dynamodb:Query'];

export interface OpenBankingStackProps extends StackProps {
  settings: AppSettings;
  /** The workflow to deploy; default the seed refresh workflow. Its operations must be bound in STEP_FUNCTIONS. */
  workflow?: WorkflowSpec;
}

export class OpenBankingStack extends Stack {
  readonly table: BalancesTable;
  readonly powensSecret: PowensSecret;
  readonly userTokenKey: UserTokenKey;
  readonly stepFunctions: ReadonlyMap<StepFunctionBinding, NodeFunction>;
  readonly workflow: ContractSpecStateMachine;
  /** Physical state machine name; the API's DescribeExecution grant is scoped to `execution:<name>:*`. */
  readonly stateMachineName: string;
  readonly fanOutFunction: NodeFunction;
  /** Physical name of the fan-out machine; the API's DescribeExecution grant on it is `execution:<name>:*`. */
  readonly fanOutStateMachineName: string;
  readonly fanOut: FanOutStateMachine;
  readonly schedule: RefreshSchedule;
  readonly cursorKey: Secret;
  readonly apiFunction: NodeFunction;
  readonly webhookFunction: NodeFunction;
  readonly api: RefreshApi;
  readonly alarms: OperationsAlarms;

  constructor(scope: Construct, id: string, props: OpenBankingStackProps) {
    super(scope, id, props);
    const { settings } = props;
    if (settings.powensBaseUrl.includes('your-domain')) {
      Annotations.of(this).addWarningV2(
        'openbanking:powensBaseUrl',
        `powensBaseUrl is the placeholder ${settings.powensBaseUrl}; deploy with -c powensBaseUrl=https://<domain>.biapi.pro/2.0`,
      );
    }

    // 1. Where balances and credentials live.
    this.table = new BalancesTable(this, 'Balances');
    this.powensSecret = new PowensSecret(this, 'Powens', { existingSecretName: settings.powensSecretName });
    this.userTokenKey = new UserTokenKey(this, 'UserTokens');

    // 2. One function per operation binding. Memory and timeout come from the binding: a forced Powens sync can take
    //    minutes (RefreshBalances 300 s), reading and storing accounts is short but JSON-heavy (FetchBalances 512 MB).
    const stepFunctions = new Map<StepFunctionBinding, NodeFunction>();
    for (const binding of STEP_FUNCTIONS) {
      const fn = new NodeFunction(this, binding.id, {
        entry: binding.entry,
        description: `Workflow step: ${binding.operations.join(', ')}`,
        serviceName: binding.id,
        memorySize: binding.memoryMb,
        timeout: Duration.seconds(binding.timeoutSeconds),
        environment: {
          [ENV.powensBaseUrl]: settings.powensBaseUrl,
          [ENV.tenantId]: settings.tenantId,
          ...(settings.powensCallsPerMinute === undefined
            ? {}
            : { [ENV.powensCallsPerMinute]: String(settings.powensCallsPerMinute) }),
        },
      })
        .useTable(this.table.table, [...(binding.tableActions ?? []), ...USER_REGISTRY_STEP_TABLE_ACTIONS])
        .readSecret(this.powensSecret.secret, this.powensSecret.secretId)
        .useTokenKey(this.userTokenKey.key, 'kms:Decrypt', settings.tenantId);
      stepFunctions.set(binding, fn);
    }
    this.stepFunctions = stepFunctions;

    // 3. The state machine: the compiler's JSON, byte for byte, with function ARNs substituted.
    const workflow = props.workflow ?? refreshOpenBankingBalancesWorkflow;
    const operations: Record<string, OperationBinding> = {};
    for (const [binding, fn] of stepFunctions) {
      for (const operation of binding.operations) {
        operations[operation] = { function: fn.function, executionId: binding.executionId ?? false };
      }
    }
    this.stateMachineName = `${this.stackName}-${workflow.meta.key}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
    this.workflow = new ContractSpecStateMachine(this, 'Workflow', {
      spec: workflow,
      operations,
      stateMachineName: this.stateMachineName,
    });
    const stateMachine = this.workflow.stateMachine;

    // 3b. The fan-out: one seed execution per user (Distributed Map), for tenants of any size.
    this.fanOutFunction = new NodeFunction(this, 'FanOutPage', {
      entry: 'lambdas/fan-out-page/handler.ts',
      description: 'Fan-out: fold a page of per-user results, list the next page of users',
      serviceName: 'fan-out-page',
      timeout: Duration.seconds(55),
      environment: {
        [ENV.powensBaseUrl]: settings.powensBaseUrl,
        [ENV.tenantId]: settings.tenantId,
        [ENV.fanOutPageSize]: String(settings.fanOutPageSize ?? 500),
        // Lists registry users (no Decrypt: it never reads a token), hence the key id without a KMS grant. The secret
        // grant is for its deprecated user list, listed after the registry's users (users not imported yet).
        [ENV.tokenKmsKeyId]: this.userTokenKey.key.keyArn,
      },
    })
      .useTable(this.table.table, FAN_OUT_PAGE_TABLE_ACTIONS)
      .readSecret(this.powensSecret.secret, this.powensSecret.secretId);
    this.fanOutStateMachineName = `${this.stackName}-fan-out`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
    this.fanOut = new FanOutStateMachine(this, 'FanOut', {
      seedName: this.stateMachineName,
      nextPage: this.fanOutFunction,
      stateMachineName: this.fanOutStateMachineName,
      maxConcurrency: settings.fanOutMaxConcurrency ?? DEFAULT_FAN_OUT.maxConcurrency,
      toleratedFailurePercentage:
        settings.fanOutToleratedFailurePercentage ?? DEFAULT_FAN_OUT.toleratedFailurePercentage,
    });

    // 4. Who starts it: the unattended schedule (PSD2-capped) starts the fan-out; the IAM-authenticated API starts
    //    the seed machine for chosen users or connections and the fan-out for everyone.
    this.schedule = new RefreshSchedule(this, 'Schedule', {
      stateMachine: this.fanOut.stateMachine,
      expression: settings.refreshSchedule,
      timeZone: settings.refreshScheduleTimeZone,
    });
    this.cursorKey = new Secret(this, 'CursorKey', {
      description: 'HMAC key signing the read API pagination cursors (generated; never leaves the API Lambda)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.cursorKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Only signs pagination cursors (no data access). Rotating it just invalidates cursors in flight, so a ' +
        'rotation Lambda is not worth its cost; replace the value by hand if it ever leaks.',
    });
    this.apiFunction = new NodeFunction(this, 'RefreshApiFunction', {
      entry: 'lambdas/api/handler.ts',
      description: 'Refresh API: start/describe refreshes, balances, positions, history',
      serviceName: 'refresh-api',
      environment: { [ENV.tenantId]: settings.tenantId },
    })
      .startAndDescribeExecutions(stateMachine, this.stateMachineName)
      .startAndDescribeExecutions(this.fanOut.stateMachine, this.fanOutStateMachineName, ENV.fanOutStateMachineArn)
      .useTable(this.table.table, [...REFRESH_API_TABLE_ACTIONS, ...USER_REGISTRY_API_TABLE_ACTIONS])
      .readCursorKey(this.cursorKey)
      .useTokenKey(this.userTokenKey.key, 'kms:Encrypt', settings.tenantId);
    // Powens pushes CONNECTION_SYNCED (its own daily sync) and deletions: most fresh balances arrive this way.
    this.webhookFunction = new NodeFunction(this, 'PowensWebhookFunction', {
      entry: 'lambdas/powens-webhooks/handler.ts',
      description:
        'Powens webhook receiver (HMAC-verified): CONNECTION_SYNCED, ACCOUNT_DISABLED, CONNECTION_DELETED, USER_DELETED',
      serviceName: 'powens-webhooks',
      // Large first-sync payloads (several MB of JSON, gzip) are parsed in memory.
      memorySize: 512,
      environment: { [ENV.tenantId]: settings.tenantId },
    })
      .useTable(this.table.table, WEBHOOK_TABLE_ACTIONS)
      .readSecret(this.powensSecret.secret, this.powensSecret.secretId);
    this.api = new RefreshApi(this, 'RefreshApi', { handler: this.apiFunction, webhooks: this.webhookFunction });

    // 5. Who is told when it breaks.
    this.alarms = new OperationsAlarms(this, 'Alarms', {
      stateMachine,
      fanOutStateMachine: this.fanOut.stateMachine,
      functions: [...stepFunctions.values(), this.fanOutFunction, this.apiFunction, this.webhookFunction],
      deadLetterQueue: this.schedule.deadLetterQueue,
      api: this.api.api,
      email: settings.alarmEmail,
    });

    // 6. What an operator needs after deploy.
    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });
    new CfnOutput(this, 'FanOutStateMachineArn', { value: this.fanOut.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName });
    new CfnOutput(this, 'PowensSecretArn', { value: this.powensSecret.secret.secretArn });
    new CfnOutput(this, 'UserTokenKeyArn', { value: this.userTokenKey.key.keyArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
