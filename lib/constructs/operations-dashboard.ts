import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, type ModelRole } from '../../lambdas/shared/runtime/metric-names';
import { METRICS_NAMESPACE } from './workflow-function';

export interface OperationsDashboardProps {
  /** The orchestrator state machine (one execution per job). */
  readonly stateMachine: sfn.IStateMachine;
  /** Every function, by the name the dashboard and alarm names show. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /**
   * The functions whose errors include model faults that Step Functions retries (429, 529, timeouts),
   * with the model role each plays: their error alarm waits for a sustained error rate instead of
   * firing on one throttled call, and leaves out the governor's deferrals (ModelCapacityExceeded).
   * @default none
   */
  readonly modelFunctions?: Readonly<Record<string, ModelRole>>;
  /** Every model each role may call (the `model` dimension of the model metrics). */
  readonly modelsByRole: Readonly<Record<ModelRole, readonly string[]>>;
  /** The `service` dimension the functions publish under (`POWERTOOLS_SERVICE_NAME`). */
  readonly serviceName: string;
  /** @default METRICS_NAMESPACE */
  readonly namespace?: string;
  /**
   * Throttled model calls (429 and 529, all roles) in 5 minutes that raise the alarm. Step Functions
   * retries them, so a few are normal; many mean the account's rate limit is too low for the load.
   * @default 20
   */
  readonly throttledCallsThreshold?: number;
  /**
   * Share of a model function's invocations that may fail in 5 minutes (retried model faults count)
   * before its error alarm fires, two periods running.
   * @default 0.25
   */
  readonly modelFunctionErrorRate?: number;
  /**
   * Share of governed model calls deferred (no capacity under `modelLimits`) in 5 minutes that raises
   * the `ModelCallsDeferred` alarm, `deferralPeriods` periods running: the limits are too low for the load.
   * @default 0.5
   */
  readonly deferralRateThreshold?: number;
  /** @default 3 (15 minutes) */
  readonly deferralPeriods?: number;
  /**
   * Where alarms notify (for example an `SnsAction` on your team's topic).
   * @default none: the alarms show in the console and on the dashboard only
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;
}

const PERIOD = Duration.minutes(5);
const ROLES: readonly ModelRole[] = ['orchestrator', 'worker', 'synthesis'];

/**
 * A CloudWatch dashboard of the workflow (executions, model latency, tokens, throttles, retries,
 * failures, cost, and every function's errors, duration and throttles) and the alarms an operator
 * needs: failed and timed-out executions, throttled model calls, and Lambda errors per function.
 */
export class OperationsDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  /** Every alarm, by a stable name (`ExecutionsFailed`, `ModelThrottled`, `<function>Errors`, …). */
  public readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;

  private readonly namespace: string;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: OperationsDashboardProps,
  ) {
    super(scope, id);
    this.namespace = props.namespace ?? METRICS_NAMESPACE;
    const { stateMachine } = props;

    const alarms: Record<string, cloudwatch.Alarm> = {
      ExecutionsFailed: this.anyInPeriod(
        'ExecutionsFailedAlarm',
        'A job execution failed: the job record (GET /jobs/{jobId}) says why.',
        stateMachine.metricFailed({ period: PERIOD, statistic: 'Sum' }),
      ),
      ExecutionsTimedOut: this.anyInPeriod(
        'ExecutionsTimedOutAlarm',
        'A job execution hit the state machine timeout.',
        stateMachine.metricTimedOut({ period: PERIOD, statistic: 'Sum' }),
      ),
      ModelThrottled: new cloudwatch.Alarm(this, 'ModelThrottledAlarm', {
        alarmDescription:
          'Many model calls were throttled (429/529). Step Functions retries them, but jobs slow down: ' +
          'raise the rate limit or lower MaxConcurrency.',
        metric: this.sumOver(ROLES, METRIC.modelThrottled, 'Throttled model calls'),
        threshold: props.throttledCallsThreshold ?? 20,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };
    alarms.ModelCallsDeferred = new cloudwatch.Alarm(this, 'ModelCallsDeferredAlarm', {
      alarmDescription:
        'Most governed model calls were deferred for lack of capacity, periods running: jobs wait in ' +
        "Step Functions. Raise modelLimits towards the provider's quotas (or the quotas), or start fewer jobs at once.",
      metric: new cloudwatch.MathExpression({
        expression: 'deferred / (admitted + deferred)',
        usingMetrics: {
          deferred: this.sumOver(ROLES, METRIC.modelCallsDeferred, 'deferred', 'd'),
          admitted: this.sumOver(ROLES, METRIC.modelCallsAdmitted, 'admitted', 'a'),
        },
        label: 'share of governed calls deferred',
        period: PERIOD,
      }),
      threshold: props.deferralRateThreshold ?? 0.5,
      evaluationPeriods: props.deferralPeriods ?? 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const modelFunctions = props.modelFunctions ?? {};
    for (const [name, fn] of Object.entries(props.functions)) {
      const role = modelFunctions[name];
      alarms[`${name}Errors`] = role
        ? new cloudwatch.Alarm(this, `${name}ErrorsAlarm`, {
            alarmDescription: `More than ${Math.round((props.modelFunctionErrorRate ?? 0.25) * 100)}% of ${name} invocations failed, two periods running (retried model faults included, the governor's deferrals not).`,
            metric: new cloudwatch.MathExpression({
              expression: '(errors - deferred) / invocations',
              usingMetrics: {
                errors: fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
                invocations: fn.metricInvocations({ period: PERIOD, statistic: 'Sum' }),
                deferred: this.sumOver([role], METRIC.modelCallsDeferred, `${name} deferred`, 'd'),
              },
              label: `${name} error rate`,
              period: PERIOD,
            }),
            threshold: props.modelFunctionErrorRate ?? 0.25,
            evaluationPeriods: 2,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          })
        : this.anyInPeriod(
            `${name}ErrorsAlarm`,
            `${name} failed: its log group has the error line with the job id.`,
            fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
          );
    }
    if (props.alarmAction) {
      for (const alarm of Object.values(alarms)) alarm.addAlarmAction(props.alarmAction);
    }
    this.alarms = alarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.TextWidget({
            markdown:
              `# Orchestrator-workers: ${props.serviceName}\n` +
              'Jobs are executions of the orchestrator state machine (name = job id). Model metrics are ' +
              `in the \`${this.namespace}\` namespace by role and model; see the README's Operations section.`,
            width: 24,
            height: 2,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Executions',
            width: 12,
            left: [
              stateMachine.metricStarted({ period: PERIOD, label: 'started' }),
              stateMachine.metricSucceeded({ period: PERIOD, label: 'succeeded' }),
              stateMachine.metricFailed({ period: PERIOD, label: 'failed' }),
              stateMachine.metricTimedOut({ period: PERIOD, label: 'timed out' }),
              stateMachine.metricAborted({ period: PERIOD, label: 'aborted (cancelled)' }),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Execution time (job wall time)',
            width: 12,
            left: ['p50', 'p90', 'Maximum'].map((statistic) =>
              stateMachine.metricTime({ period: PERIOD, statistic, label: statistic }),
            ),
          }),
        ],
        ROLES.map(
          (role) =>
            new cloudwatch.GraphWidget({
              title: `Model latency: ${role} (p50, p90)`,
              width: 8,
              left: this.modelsOf(role).flatMap((model) =>
                ['p50', 'p90'].map((statistic) =>
                  this.modelMetric(METRIC.modelLatency, role, model, statistic, `${model} ${statistic}`),
                ),
              ),
              leftYAxis: { label: 'ms', showUnits: false },
            }),
        ),
        ROLES.map(
          (role) =>
            new cloudwatch.GraphWidget({
              title: `Tokens: ${role}`,
              width: 8,
              left: this.modelsOf(role).flatMap((model) => [
                this.modelMetric(METRIC.modelInputTokens, role, model, 'Sum', `${model} input`),
                this.modelMetric(METRIC.modelOutputTokens, role, model, 'Sum', `${model} output`),
                this.modelMetric(METRIC.modelCacheReadTokens, role, model, 'Sum', `${model} cache read`),
                this.modelMetric(METRIC.modelCacheWriteTokens, role, model, 'Sum', `${model} cache write`),
              ]),
            }),
        ),
        [
          new cloudwatch.GraphWidget({
            title: 'Throttled model calls (429/529) and subtask retries',
            width: 8,
            left: [
              ...ROLES.map((role) => this.sumOver([role], METRIC.modelThrottled, `throttled: ${role}`)),
              this.serviceMetric(METRIC.subtaskRetries, 'Sum', 'subtask retries'),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Governed model calls: admitted and deferred (modelLimits)',
            width: 8,
            left: ROLES.flatMap((role) => [
              this.sumOver([role], METRIC.modelCallsAdmitted, `admitted: ${role}`, 'a'),
              this.sumOver([role], METRIC.modelCallsDeferred, `deferred: ${role}`, 'd'),
            ]),
          }),
          new cloudwatch.GraphWidget({
            title: 'Calls in flight under each limit (peak)',
            width: 8,
            left: ROLES.flatMap((role) =>
              this.modelsOf(role).map((model) =>
                this.modelMetric(METRIC.modelInFlight, role, model, 'Maximum', `${role} ${model}`),
              ),
            ),
          }),
          new cloudwatch.GraphWidget({
            title: 'Model errors by role, model and name',
            width: 8,
            left: [
              this.search(
                METRIC.modelErrors,
                ['service', 'role', 'model', 'errorName'],
                'Sum',
                'model errors',
              ),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Subtasks and jobs failed, by error name',
            width: 8,
            left: [
              this.search(METRIC.subtasksFailed, ['service', 'errorName'], 'Sum', 'subtasks failed'),
              this.search(METRIC.jobsFailed, ['service', 'errorName'], 'Sum', 'jobs failed'),
            ],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Estimated model cost (USD)',
            width: 12,
            left: ROLES.map((role) => this.sumOver([role], METRIC.modelCostUsd, role)),
            stacked: true,
          }),
          new cloudwatch.GraphWidget({
            title: 'Estimated cost per finished job (USD)',
            width: 12,
            left: ['p50', 'p90', 'Maximum'].map((statistic) =>
              this.serviceMetric(METRIC.jobCostUsd, statistic, statistic),
            ),
            right: [this.serviceMetric(METRIC.jobCostUsd, 'Sum', 'all finished jobs')],
          }),
        ],
        ...this.functionRows(),
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            width: 24,
            alarms: Object.values(alarms),
          }),
        ],
      ],
    });
  }

  private modelsOf(role: ModelRole): readonly string[] {
    return this.props.modelsByRole[role];
  }

  private modelMetric(
    metricName: string,
    role: ModelRole,
    model: string,
    statistic: string,
    label: string,
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { service: this.props.serviceName, role, model },
      statistic,
      period: PERIOD,
      label,
    });
  }

  private serviceMetric(metricName: string, statistic: string, label: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { service: this.props.serviceName },
      statistic,
      period: PERIOD,
      label,
    });
  }

  /** The sum of a model metric over every model the roles may call (one series, usable in an alarm). */
  /** An alarm on any occurrence (sum ≥ 1) in one period. */
  private anyInPeriod(id: string, alarmDescription: string, metric: cloudwatch.IMetric): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      alarmDescription,
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** `idPrefix` keeps the ids apart when two such sums sit in one expression. */
  private sumOver(
    roles: readonly ModelRole[],
    metricName: string,
    label: string,
    idPrefix = '',
  ): cloudwatch.IMetric {
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    for (const role of roles) {
      this.modelsOf(role).forEach((model, index) => {
        usingMetrics[`${idPrefix}${role}${index}`] = this.modelMetric(
          metricName,
          role,
          model,
          'Sum',
          `${role} ${model}`,
        );
      });
    }
    return new cloudwatch.MathExpression({
      expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label,
      period: PERIOD,
    });
  }

  /** Every series of a metric whatever its dimension values (error names are not known in advance). */
  private search(metricName: string, dimensions: readonly string[], statistic: string, label: string) {
    const schema = [this.namespace, ...dimensions].join(',');
    return new cloudwatch.MathExpression({
      expression: `SEARCH('{${schema}} MetricName="${metricName}" service="${this.props.serviceName}"', '${statistic}', ${PERIOD.toSeconds()})`,
      usingMetrics: {},
      label,
      period: PERIOD,
    });
  }

  private functionRows(): cloudwatch.IWidget[][] {
    const functions = Object.entries(this.props.functions);
    const per = (title: string, metric: (fn: lambda.IFunction, name: string) => cloudwatch.IMetric) =>
      new cloudwatch.GraphWidget({
        title,
        width: 8,
        left: functions.map(([name, fn]) => metric(fn, name)),
      });
    return [
      [
        per('Lambda errors', (fn, name) =>
          fn.metricErrors({ period: PERIOD, statistic: 'Sum', label: name }),
        ),
        per('Lambda duration p90', (fn, name) =>
          fn.metricDuration({ period: PERIOD, statistic: 'p90', label: name }),
        ),
        per('Lambda throttles', (fn, name) =>
          fn.metricThrottles({ period: PERIOD, statistic: 'Sum', label: name }),
        ),
      ],
    ];
  }
}
