import { Duration, TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type BatchDefinition, batchExecutionInput } from '../../lambdas/shared/domain/batch-schemas';

export interface BatchSchedulesProps {
  /** The batch state machine every schedule starts (the only thing the scheduler role may start). */
  readonly batchStateMachine: IStateMachine;
  readonly definitions: readonly BatchDefinition[];
  /**
   * Times Scheduler retries starting the batch before the event goes to the dead-letter queue.
   * @default 3
   */
  readonly retryAttempts?: number;
  /**
   * How long Scheduler keeps trying to start a run that is due.
   * @default Duration.hours(1)
   */
  readonly maxEventAge?: Duration;
}

/**
 * One EventBridge Scheduler schedule per batch definition, each starting the batch state machine with
 * the definition's items, inside a flexible time window, with a retry policy and a shared
 * dead-letter queue for runs that could not be started.
 */
export class BatchSchedules extends Construct {
  public readonly deadLetterQueue: sqs.Queue;
  public readonly schedules: ReadonlyMap<string, scheduler.Schedule>;

  constructor(scope: Construct, id: string, props: BatchSchedulesProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const schedules = new Map<string, scheduler.Schedule>();
    for (const definition of props.definitions) {
      const { expression, timeZone, flexibleWindowMinutes, enabled } = definition.schedule;
      schedules.set(
        definition.name,
        new scheduler.Schedule(this, `Schedule-${definition.name}`, {
          description: definition.description ?? `Runs the ${definition.name} batch`,
          schedule: scheduler.ScheduleExpression.expression(expression, TimeZone.of(timeZone)),
          timeWindow: scheduler.TimeWindow.flexible(Duration.minutes(flexibleWindowMinutes)),
          enabled,
          target: new targets.StepFunctionsStartExecution(props.batchStateMachine, {
            input: scheduler.ScheduleTargetInput.fromObject(batchExecutionInput(definition, 'schedule')),
            deadLetterQueue: this.deadLetterQueue,
            retryAttempts: props.retryAttempts ?? 3,
            maxEventAge: props.maxEventAge ?? Duration.hours(1),
          }),
        }),
      );
    }
    this.schedules = schedules;
  }
}
