import { Match } from 'aws-cdk-lib/assertions';
import { modelsForRole, parseConfig } from '../../../../lib/config';
import { METRICS_NAMESPACE } from '../../../../lib/constructs/workflow-function';
import { METRIC } from '../../../../lambdas/shared/runtime/metric-names';
import { synthesize } from '../../../helpers/synth';

const { template, json } = synthesize();
const config = parseConfig({});
const STACK_NAME = 'OrchestratorWorkers';

const logicalIdOf = (type: string, pathPart: string): string => {
  const found = Object.entries(json.Resources).find(
    ([, resource]) =>
      resource.Type === type &&
      String((resource as { Metadata?: Record<string, unknown> }).Metadata?.['aws:cdk:path'] ?? '').includes(
        pathPart,
      ),
  );
  if (!found) throw new Error(`No ${type} at a path containing ${pathPart}`);
  return found[0];
};
const stateMachineId = logicalIdOf('AWS::StepFunctions::StateMachine', '/Workflow/StateMachine/');
const functionIds = Object.entries(json.Resources)
  .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
  .map(([id]) => id);
const alarmNamed = (name: string) => logicalIdOf('AWS::CloudWatch::Alarm', `/Operations/${name}Alarm/`);

describe('operations alarms', () => {
  it('fires on any failed or timed-out execution of the orchestrator state machine', () => {
    for (const metricName of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/States',
        MetricName: metricName,
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachineId } }],
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('sums throttled model calls over every role and model the functions may call', () => {
    const alarm = json.Resources[alarmNamed('ModelThrottled')]?.Properties as {
      Threshold: number;
      Metrics: {
        Expression?: string;
        MetricStat?: {
          Metric: { MetricName: string; Namespace: string; Dimensions: { Name: string; Value: string }[] };
        };
      }[];
    };
    expect(alarm.Threshold).toBe(20);
    const series = alarm.Metrics.flatMap((metric) => (metric.MetricStat ? [metric.MetricStat.Metric] : []));
    const expected = (['orchestrator', 'worker', 'synthesis'] as const).flatMap((role) =>
      modelsForRole(config, role).map((model) => ({ role, model })),
    );
    expect(
      series.map((metric) => {
        const dimensions = Object.fromEntries(metric.Dimensions.map((d) => [d.Name, d.Value]));
        return { name: metric.MetricName, namespace: metric.Namespace, ...dimensions };
      }),
    ).toEqual(
      expected.map(({ role, model }) => ({
        name: METRIC.modelThrottled,
        namespace: METRICS_NAMESPACE,
        service: STACK_NAME,
        role,
        model,
      })),
    );
    expect(alarm.Metrics.find((metric) => metric.Expression)?.Expression).toMatch(/^SUM\(\[/);
  });

  it('has a Lambda error alarm per function: any error for bookkeeping, a sustained rate for model functions', () => {
    const errorAlarms = Object.entries(json.Resources).filter(
      ([id, resource]) => resource.Type === 'AWS::CloudWatch::Alarm' && /ErrorsAlarm/.test(id),
    );
    expect(errorAlarms).toHaveLength(functionIds.length);
    for (const functionId of functionIds) {
      expect(JSON.stringify(errorAlarms.map(([, alarm]) => alarm))).toContain(`"Ref":"${functionId}"`);
    }

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [
        {
          Name: 'FunctionName',
          Value: { Ref: logicalIdOf('AWS::Lambda::Function', '/MarkFailedFunction/') },
        },
      ],
      Threshold: 1,
      EvaluationPeriods: 1,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('^More than 25% of Worker invocations failed'),
      // The governor's deferrals are failed invocations too, by design: they are left out.
      Metrics: Match.arrayWith([Match.objectLike({ Expression: '(errors - deferred) / invocations' })]),
      Threshold: 0.25,
      EvaluationPeriods: 2,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});

describe('operations dashboard', () => {
  const body = JSON.stringify(
    Object.values(json.Resources).find((resource) => resource.Type === 'AWS::CloudWatch::Dashboard')
      ?.Properties,
  );

  it('fires when most governed model calls stay deferred, three periods running', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: Match.stringLikeRegexp('^Most governed model calls were deferred'),
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'deferred / (admitted + deferred)' })]),
      Threshold: 0.5,
      EvaluationPeriods: 3,
    });
    const alarm = JSON.stringify(
      Object.values(json.Resources).find((resource) =>
        String(resource.Properties?.AlarmDescription ?? '').startsWith('Most governed'),
      ),
    );
    expect(alarm).toContain('"ModelCallsDeferred"');
    expect(alarm).toContain('"ModelCallsAdmitted"');
  });

  it('shows the state machine and every function', () => {
    expect(body).toContain(`{"Ref":"${stateMachineId}"}`);
    for (const functionId of functionIds) expect(body).toContain(`{"Ref":"${functionId}"}`);
  });

  it('shows the model metrics the functions publish, the retries, failures and job cost', () => {
    for (const metricName of Object.values(METRIC)) expect(body).toContain(metricName);
    expect(body).toContain(`\\"${METRICS_NAMESPACE}\\",\\"${METRIC.modelLatency}\\"`);
    expect(body).toContain('\\"stat\\":\\"p90\\"');
  });
});

describe('every function', () => {
  it('is configured for Powertools: service name, metrics namespace and log level', () => {
    for (const functionId of functionIds) {
      expect(json.Resources[functionId]?.Properties).toMatchObject({
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: {
            POWERTOOLS_SERVICE_NAME: STACK_NAME,
            POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
            LOG_LEVEL: 'INFO',
          },
        },
      });
    }
    expect(functionIds.length).toBeGreaterThanOrEqual(9);
  });
});
