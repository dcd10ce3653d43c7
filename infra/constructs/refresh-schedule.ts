import { Duration, Validations } from 'aws-cdk-lib';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { TimeZone } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { assertPsd2Schedule } from './schedule-expression';

export const DEFAULT_REFRESH_SCHEDULE = 'cron(0 6,18 * * ? *)';

export interface RefreshScheduleProps {
  stateMachine: IStateMachine;
  /** EventBridge Scheduler expression; default twice a day. Rejected above 4 runs/day (PSD2). */
  expression?: string;
  /** IANA zone for cron expressions, default UTC. */
  timeZone?: string;
}

/**
 * The unattended refresh: EventBridge Scheduler (the successor of scheduled rules) starts the machine with `{}`
 * (every configured user). Delivery is retried for an hour; after that the event lands in an encrypted DLQ, which
 * an alarm watches — the next run is hours away, so a stale start is worse than a skipped one.
 */
export class RefreshSchedule extends Construct {
  readonly schedule: Schedule;
  readonly deadLetterQueue: Queue;
  readonly expression: string;

  constructor(scope: Construct, id: string, props: RefreshScheduleProps) {
    super(scope, id);
    this.expression = props.expression ?? DEFAULT_REFRESH_SCHEDULE;
    assertPsd2Schedule(this.expression);

    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue IS the dead-letter queue of the schedule target; a DLQ of a DLQ would only hide failures.',
    });

    this.schedule = new Schedule(this, 'Schedule', {
      description: 'Unattended balance refresh (PSD2: at most 4 per day)',
      schedule: ScheduleExpression.expression(
        this.expression,
        props.timeZone === undefined ? undefined : TimeZone.of(props.timeZone),
      ),
      target: new StepFunctionsStartExecution(props.stateMachine, {
        input: ScheduleTargetInput.fromObject({}),
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
        deadLetterQueue: this.deadLetterQueue,
      }),
    });
  }
}
