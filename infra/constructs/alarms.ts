import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import type { NodeFunction } from './node-function';

export interface OperationsAlarmsProps {
  stateMachine: StateMachine;
  /**
   * The fan-out machine (the schedule's and `POST /refreshes` for everyone). Watched on its own: a fan-out can fail
   * before starting any seed execution (NextPage failing, too many users failing), which no seed alarm would see.
   */
  fanOutStateMachine?: StateMachine;
  functions: readonly NodeFunction[];
  deadLetterQueue: IQueue;
  api: RestApi;
  /** Optional e-mail subscriber (confirm the subscription mail after deploy). */
  email?: string;
}

/**
 * Seed executions that ended in a 5-minute period and failed, in percent, above which the seed machine's failure alarm
 * fires. A rate, not a count: a fan-out runs one seed execution per user, and at thousands of users one family with a
 * revoked consent would otherwise page on every scheduled run. A single refresh (API with userIds, console) that fails
 * is 100 %; failed users within a fan-out are named in its summary (`failedUserIds`), and a fan-out whose failures pass
 * its ToleratedFailurePercentage fails and fires FanOutExecutionsFailed.
 */
export const SEED_FAILURE_RATE_ALARM_PERCENT = 5;

/**
 * Every other alarm fires on the first occurrence (threshold 1, one 5-minute period): a refresh runs twice a day, so one
 * failure is already a missed refresh. Missing data is "not breaching" (no run, no problem).
 * The topic is encrypted with a customer-managed key because CloudWatch cannot publish to a topic encrypted with
 * the AWS-managed SNS key (its key policy does not admit cloudwatch.amazonaws.com).
 */
export class OperationsAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsAlarmsProps) {
    super(scope, id);
    const key = new Key(this, 'TopicKey', {
      description: 'Encrypts the operations alarm topic',
      enableKeyRotation: true,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'Topic', { enforceSSL: true, masterKey: key, displayName: 'Balance refresh alarms' });
    if (props.email !== undefined) this.topic.addSubscription(new EmailSubscription(props.email));

    const sm = props.stateMachine;
    const failureRate = new MathExpression({
      // Of the executions that ended (succeeded or failed) in the period; 0 when none ended.
      expression: 'IF((FILL(ok, 0) + FILL(failed, 0)) > 0, 100 * FILL(failed, 0) / (FILL(ok, 0) + FILL(failed, 0)), 0)',
      usingMetrics: { ok: sm.metricSucceeded(), failed: sm.metricFailed() },
      label: 'Failed refresh executions (% of those that ended)',
    });
    this.add(
      'ExecutionsFailed',
      failureRate,
      `More than ${SEED_FAILURE_RATE_ALARM_PERCENT} % of the balance refresh executions that ended in 5 minutes failed.`,
      { threshold: SEED_FAILURE_RATE_ALARM_PERCENT, comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD },
    );
    this.add('ExecutionsTimedOut', sm.metricTimedOut(), 'A balance refresh execution timed out.');
    this.add('ExecutionThrottled', sm.metricThrottled(), 'Step Functions throttled the refresh state machine.');
    const fanOut = props.fanOutStateMachine;
    if (fanOut !== undefined) {
      this.add('FanOutExecutionsFailed', fanOut.metricFailed(), 'A fan-out (refresh of every user) failed.');
      this.add('FanOutExecutionsTimedOut', fanOut.metricTimedOut(), 'A fan-out (refresh of every user) timed out.');
      this.add('FanOutExecutionThrottled', fanOut.metricThrottled(), 'Step Functions throttled the fan-out machine.');
    }
    for (const fn of props.functions) {
      const name = fn.node.id;
      this.add(`${name}Errors`, fn.function.metricErrors(), `Lambda ${name} returned errors.`);
      this.add(`${name}Throttles`, fn.function.metricThrottles(), `Lambda ${name} was throttled.`);
    }
    this.add(
      'ScheduleDeadLetters',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
      'A scheduled refresh could not be started (message in the schedule DLQ).',
    );
    this.add('Api5xx', props.api.metricServerError(), 'The refresh API answered 5xx.');

    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new GraphWidget({
            title: 'Refresh executions',
            left: [sm.metricStarted(), sm.metricSucceeded(), sm.metricFailed(), sm.metricTimedOut()],
          }),
          ...(fanOut === undefined
            ? []
            : [
                new GraphWidget({
                  title: 'Fan-out executions',
                  left: [
                    fanOut.metricStarted(),
                    fanOut.metricSucceeded(),
                    fanOut.metricFailed(),
                    fanOut.metricTimedOut(),
                  ],
                }),
              ]),
          new GraphWidget({
            title: 'Lambda errors / duration p90',
            left: props.functions.map((fn) => fn.function.metricErrors()),
            right: props.functions.map((fn) => fn.function.metricDuration({ statistic: 'p90' })),
          }),
          new GraphWidget({
            title: 'API requests / 4xx / 5xx',
            left: [props.api.metricCount(), props.api.metricClientError(), props.api.metricServerError()],
          }),
        ],
      ],
    });
  }

  private add(
    id: string,
    metric: IMetric,
    description: string,
    trigger: { threshold: number; comparisonOperator: ComparisonOperator } = {
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    },
  ): void {
    const alarm = new Alarm(this, id, {
      metric,
      alarmDescription: description,
      ...trigger,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
