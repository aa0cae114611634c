import { logicalIdOf as logicalIdIn } from '../../../helpers/asl';
import { Match, Template } from 'aws-cdk-lib/assertions';
import aslValidator from 'asl-validator';
import { buildApp } from '../../../../lib/app';
import { parseConfig } from '../../../../lib/config';
import { BatchDefinitionSchema } from '../../../../lambdas/shared/domain/batch-schemas';
import { type CfnTemplate, resolveIntrinsics } from '../../../../local/runtime/synthesized-stack';
import type { AslDefinition, AslState } from '../../../helpers/synth';

const NIGHTLY = BatchDefinitionSchema.parse({
  name: 'nightly-test',
  schedule: { expression: 'cron(0 2 * * ? *)', timeZone: 'Europe/London', flexibleWindowMinutes: 20 },
  defaults: { context: { market: 'UK' } },
  maxConcurrency: 3,
  items: [{ task: 'Write a product description for a kettle' }, { task: 'Write one for a toaster' }],
});
const HOURLY_INPUT = {
  name: 'hourly-test',
  schedule: { expression: 'rate(1 hour)', timeZone: 'UTC', enabled: false },
  items: [{ task: 'Summarise the latest support tickets' }],
};
const HOURLY = BatchDefinitionSchema.parse(HOURLY_INPUT);

const { stack } = buildApp({ config: parseConfig({}), skipBundling: true, batches: [NIGHTLY, HOURLY] });
const template = Template.fromStack(stack);
const json = template.toJSON() as CfnTemplate;
const logicalIdOf = (type: string, pattern: RegExp) => logicalIdIn(template, type, pattern);
const batchMachineId = logicalIdOf('AWS::StepFunctions::StateMachine', /^Batches/);
const orchestratorId = logicalIdOf('AWS::StepFunctions::StateMachine', /^Workflow/);
const definition = JSON.parse(
  String(resolveIntrinsics(json.Resources[batchMachineId]?.Properties?.DefinitionString ?? null, json)),
) as AslDefinition;
const state = (machine: AslDefinition, name: string): AslState => {
  const found = machine.States[name];
  if (!found) throw new Error(`No state ${name}`);
  return found;
};
const itemProcessor = state(definition, 'RunItems').ItemProcessor as AslDefinition;

/** Every statement of the policies attached to a role. */
function statementsOf(roleId: string): { Action: string | string[]; Resource: unknown }[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap(
      (policy) =>
        policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
}
const allows = (statement: { Action: string | string[] }, action: string) =>
  ([] as string[]).concat(statement.Action).includes(action);

describe('batch schedules', () => {
  it('creates one schedule per definition, in its time zone, with a flexible window', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/London',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 20 },
      State: 'ENABLED',
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
      State: 'DISABLED',
    });
  });

  it('targets the batch state machine with the batch name only (never its items), a retry policy and a dead-letter queue', () => {
    const queueId = logicalIdOf('AWS::SQS::Queue', /^BatchSchedulesDeadLetterQueue/);
    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule')).find(
      (resource) => resource.Properties.ScheduleExpression === 'cron(0 2 * * ? *)',
    );
    const target = schedule?.Properties.Target as Record<string, unknown>;

    expect(target.Arn).toEqual({ Ref: batchMachineId });
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 });
    expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } });
    expect(JSON.parse(String(target.Input))).toEqual({
      batchName: 'nightly-test',
      maxConcurrency: 3,
      modelCalls: 'on-demand',
      batchDeadlineMinutes: 720,
      trigger: 'schedule',
    });
  });

  it("bundles the definitions with StartBatchRun, which reads a scheduled run's items from them", () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((candidate) =>
      String(candidate.Properties.Description).startsWith('Records a batch run'),
    );
    expect(fn?.Properties.Environment.Variables).toMatchObject({ BATCHES_DIR: 'batches' });
  });

  it('keeps every schedule input far below the 256 KiB execution input, however large the batch', () => {
    const items = Array.from({ length: 200 }, (_, index) => ({
      task: `${index} ${'x'.repeat(7_990)}`,
      context: { notes: 'y'.repeat(15_900) },
    }));
    const big = BatchDefinitionSchema.parse({ ...HOURLY_INPUT, name: 'big-test', items });
    const synthesized = Template.fromStack(
      buildApp({ config: parseConfig({}), skipBundling: true, batches: [big] }).stack,
    );
    const [schedule] = Object.values(synthesized.findResources('AWS::Scheduler::Schedule'));
    expect(Buffer.byteLength(JSON.stringify(items))).toBeGreaterThan(4_000_000);
    expect(Buffer.byteLength(String((schedule?.Properties.Target as { Input: string }).Input))).toBeLessThan(
      200,
    );
  });

  it('refuses at synth a definition with more items than the batch Map takes, naming it and the limit', () => {
    const items = Array.from({ length: 201 }, (_, index) => ({ task: `Task ${index}` }));
    const big = BatchDefinitionSchema.parse({ ...HOURLY_INPUT, name: 'big-test', items });
    expect(() => buildApp({ config: parseConfig({}), skipBundling: true, batches: [big] })).toThrow(
      'Invalid batch definition big-test: items: has 201 items; batchMap "inline" runs at most 200 per run (set batchMap "distributed" for up to 10000)',
    );
    expect(() =>
      buildApp({ config: parseConfig({ batchMap: 'distributed' }), skipBundling: true, batches: [big] }),
    ).not.toThrow();
  });

  it('lets the scheduler role start only the batch state machine (and send to its dead-letter queue)', () => {
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    const roleIds = new Set(
      schedules.map(
        (schedule) =>
          (schedule.Properties.Target as { RoleArn: { 'Fn::GetAtt': string[] } }).RoleArn['Fn::GetAtt'][0],
      ),
    );
    expect(roleIds.size).toBe(1);
    const [roleId] = [...roleIds];
    const statements = statementsOf(String(roleId));

    const actions = statements.flatMap((statement) => ([] as string[]).concat(statement.Action)).sort();
    expect(actions).toEqual(['sqs:SendMessage', 'states:StartExecution']);
    expect(statements.find((statement) => allows(statement, 'states:StartExecution'))?.Resource).toEqual({
      Ref: batchMachineId,
    });
  });

  it('keeps the dead-letter queue encrypted and TLS-only', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('batch state machine', () => {
  it('passes the definition through asl-validator', () => {
    const result = aslValidator(definition as never);
    expect(result.errors).toEqual([]);
  });

  it('records the run, maps over the items (on demand), then finishes with a summary', () => {
    expect(definition.StartAt).toBe('StartBatchRun');
    expect(state(definition, 'StartBatchRun').Next).toBe('ChooseModelCalls');
    expect(state(definition, 'ChooseModelCalls')).toMatchObject({
      Choices: [{ Variable: '$.modelCalls', StringEquals: 'batch', Next: 'SubmitPlans' }],
      Default: 'RunItems',
    });
    expect(state(definition, 'RunItems').Next).toBe('FinishBatchRun');
    expect(state(definition, 'FinishBatchRun').Next).toBe('Done');
  });

  it('runs items at the concurrency the definition asks for, keeping only ids in the state', () => {
    expect(state(definition, 'RunItems')).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.items',
      MaxConcurrencyPath: '$.maxConcurrency',
      ItemSelector: { 'runId.$': '$.runId', 'item.$': '$$.Map.Item.Value' },
      ResultPath: null,
    });
  });

  it('starts the orchestrator per item with .sync:2, named after the job, linked to the batch execution', () => {
    const runJob = state(itemProcessor, 'RunJob');
    expect(runJob.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect(runJob.Parameters).toEqual({
      StateMachineArn: `arn:aws:states:us-east-1:000000000000:stateMachine:${orchestratorId}`,
      'Name.$': '$.item.jobId',
      Input: { 'jobId.$': '$.item.jobId', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
    });
    expect(runJob.Next).toBe('RecordItemResult');
  });

  it('catches any failure of one item into RecordItemFailure, so one item never fails the batch', () => {
    const runJob = state(itemProcessor, 'RunJob');
    expect(runJob.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: 'RecordItemFailure', ResultPath: '$.error' },
    ]);
    expect(runJob.Retry?.[0]?.ErrorEquals).toContain('StepFunctions.ExecutionLimitExceededException');
    expect(runJob.Retry?.flatMap((retry) => retry.ErrorEquals)).not.toContain('States.TaskFailed');
    expect(state(itemProcessor, 'RecordItemFailure').End).toBe(true);
    expect(state(itemProcessor, 'RecordItemResult').End).toBe(true);
  });

  it('ends the run FAILED when the map itself fails', () => {
    expect(state(definition, 'RunItems').Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: 'RecordBatchFailure', ResultPath: '$.error' },
    ]);
    expect(state(definition, 'RecordBatchFailure').Next).toBe('BatchFailed');
  });

  it('may start only the orchestrator state machine', () => {
    const roleId = (json.Resources[batchMachineId]?.Properties?.RoleArn as { 'Fn::GetAtt': string[] })[
      'Fn::GetAtt'
    ][0];
    const starts = statementsOf(String(roleId)).filter((statement) =>
      allows(statement, 'states:StartExecution'),
    );
    expect(starts.map((statement) => statement.Resource)).toEqual([{ Ref: orchestratorId }]);
    const executionScoped = statementsOf(String(roleId)).find((statement) =>
      allows(statement, 'states:DescribeExecution'),
    );
    expect(JSON.stringify(executionScoped?.Resource)).toContain(`"Ref":"${orchestratorId}"`);
  });

  it('gives each batch function only the table operations its code performs', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const actionsOf = (description: string) => {
      const fn = Object.values(functions).find((candidate) =>
        String(candidate.Properties.Description).startsWith(description),
      );
      const roleId = (fn?.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      return statementsOf(String(roleId))
        .flatMap((statement) => ([] as string[]).concat(statement.Action))
        .filter((action) => !action.startsWith('xray:') && !action.startsWith('logs:'))
        .sort();
    };
    expect(actionsOf('Records a batch run')).toEqual([
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(actionsOf("Records a batch item's outcome")).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(actionsOf('Ends a batch run')).toEqual(['dynamodb:Query', 'dynamodb:UpdateItem']);
  });

  it('may be started by the api function, which may start nothing but the two state machines', () => {
    const api = Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
      String(fn.Properties.Description).startsWith('Jobs API'),
    );
    const roleId = (api?.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
    const starts = statementsOf(String(roleId)).filter((statement) =>
      allows(statement, 'states:StartExecution'),
    );
    expect(starts.map((statement) => statement.Resource)).toEqual(
      expect.arrayContaining([{ Ref: orchestratorId }, { Ref: batchMachineId }]),
    );
    expect(starts).toHaveLength(2);
  });
});
