import { Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { functionArnPlaceholderKey, type StepFunctionBinding } from '../specs/bindings';
import type { NodeFunction } from './node-function';

/** The part of the compiler's result the stack deploys (infra/compiler/compile.ts). */
export interface CompiledDefinition {
  /** ASL JSON, deployed byte for byte. */
  json: string;
  /** `${...}` placeholder keys the JSON contains, e.g. RefreshBalancesFunctionArn. */
  substitutions: readonly string[];
}

export interface WorkflowStateMachineProps {
  compiled: CompiledDefinition;
  /** One deployed function per binding; placeholders are resolved through functionArnPlaceholderKey. */
  functions: ReadonlyMap<StepFunctionBinding, NodeFunction>;
  /** Physical name; the API's DescribeExecution grant is scoped to `execution:<name>:*`. */
  stateMachineName: string;
}

/** Raised at synth when the compiled ASL names a placeholder no deployed function provides. */
export class UnboundPlaceholderError extends Error {
  override readonly name = 'UnboundPlaceholderError';
}

/**
 * A Standard state machine whose definition is exactly the compiler's JSON (the same artefact the local runner
 * executes); the stack only substitutes Lambda ARNs. Standard: exactly-once, up to a year, full history — a refresh
 * mutates PSD2 budgets and lasts minutes. Logs at ERROR without execution data: inputs and outputs carry bank
 * balances, and the execution history already holds them for the console.
 */
export class WorkflowStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;
  readonly stateMachineName: string;

  constructor(scope: Construct, id: string, props: WorkflowStateMachineProps) {
    super(scope, id);
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(props.stateMachineName)) {
      throw new Error(`State machine name "${props.stateMachineName}" must be 1-80 of A-Z a-z 0-9 _ -.`);
    }
    this.stateMachineName = props.stateMachineName;
    const byKey = new Map([...props.functions].map(([binding, fn]) => [functionArnPlaceholderKey(binding), fn]));
    const definitionSubstitutions: Record<string, string> = {};
    for (const key of props.compiled.substitutions) {
      const fn = byKey.get(key);
      if (fn === undefined) {
        throw new UnboundPlaceholderError(
          `The compiled workflow references \${${key}} but no function provides it (available: ${[...byKey.keys()].join(', ')}). ` +
            'Add a STEP_FUNCTIONS entry in infra/specs/bindings.ts for the operation.',
        );
      }
      definitionSubstitutions[key] = fn.functionArn;
    }

    this.logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(props.compiled.json),
      definitionSubstitutions,
      logs: { destination: this.logGroup, level: LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
    });

    // fromString cannot see the ARNs, so invoke rights are explicit: only the functions the ASL uses, unqualified
    // ARNs only (the Tasks call `$LATEST` by ARN; grantInvoke would also add `:*` for every version and alias).
    for (const key of props.compiled.substitutions) {
      const fn = byKey.get(key);
      if (fn === undefined) continue;
      this.stateMachine.addToRolePolicy(
        new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
      );
    }

    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'Level ERROR on purpose: "ALL" would copy every state input/output (bank balances, Powens ids) into CloudWatch ' +
        'Logs. Failures are logged; the full history stays in Step Functions (90 days, IAM-protected).',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'AWS requires Resource "*" for the CloudWatch Logs vended-delivery actions Step Functions logging uses ' +
        '(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, ' +
        'PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and for X-Ray (PutTraceSegments, ' +
        'PutTelemetryRecords, GetSamplingRules, GetSamplingTargets).',
    });
  }
}
