import { Validations } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

export interface LoggedStateMachineProps {
  stateMachineName?: string;
  definitionBody: DefinitionBody;
  definitionSubstitutions?: Record<string, string>;
  logRetention?: RetentionDays;
  /** Why logging stays at level ERROR for this machine (the cdk-nag AwsSolutions-SF1 acknowledgement). */
  errorLevelReason: string;
}

/**
 * A STANDARD state machine (`<scope>/StateMachine`) logging failures only, without execution data, to its own log
 * group (`<scope>/Logs`, one month by default), with X-Ray tracing, and the cdk-nag acknowledgements every such
 * machine needs: shared by the seed (ContractSpecStateMachine) and fan-out (FanOutStateMachine) machines.
 */
export function loggedStateMachine(
  scope: Construct,
  props: LoggedStateMachineProps,
): { logGroup: LogGroup; stateMachine: StateMachine } {
  const logGroup = new LogGroup(scope, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
  const stateMachine = new StateMachine(scope, 'StateMachine', {
    stateMachineName: props.stateMachineName,
    stateMachineType: StateMachineType.STANDARD,
    definitionBody: props.definitionBody,
    ...(props.definitionSubstitutions === undefined ? {} : { definitionSubstitutions: props.definitionSubstitutions }),
    logs: { destination: logGroup, level: LogLevel.ERROR, includeExecutionData: false },
    tracingEnabled: true,
  });
  Validations.of(stateMachine).acknowledge({ id: 'AwsSolutions-SF1', reason: props.errorLevelReason });
  Validations.of(stateMachine).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'AWS requires Resource "*" for the CloudWatch Logs vended-delivery actions Step Functions logging uses ' +
      '(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, ' +
      'PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and for X-Ray (PutTraceSegments, ' +
      'PutTelemetryRecords, GetSamplingRules, GetSamplingTargets).',
  });
  return { logGroup, stateMachine };
}
