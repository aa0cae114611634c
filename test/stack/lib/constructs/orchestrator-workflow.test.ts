import { Match } from 'aws-cdk-lib/assertions';
import aslValidator from 'asl-validator';
import { ERROR_POLICY, RETRY_TIMING, errorsOfClass } from '../../../../lambdas/shared/domain/error-policy';
import { synthesize } from '../../../helpers/synth';

import {
  functionOf,
  itemProcessor,
  retryFor,
  runSubtasksOf,
  state,
  waveProcessor,
} from '../../../helpers/asl';

const { template, json, definition } = synthesize();

describe('orchestrator state machine', () => {
  it('is a Standard state machine with tracing and full logging', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
  });

  it('passes the definition through asl-validator', () => {
    const result = aslValidator(definition as never);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('runs Plan, then the waves one after another, then Synthesize, then Done', () => {
    expect(definition.StartAt).toBe('Plan');
    expect(state(definition, 'Plan').Next).toBe('ApprovalNeeded');
    expect(state(definition, 'ApprovalNeeded')).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.plan.awaitApproval', BooleanEquals: true, Next: 'AwaitApproval' }],
      Default: 'BudgetSet',
    });
    expect(state(definition, 'BudgetSet')).toMatchObject({ Type: 'Choice', Default: 'RunWaves' });
    expect(state(definition, 'RunWaves')).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 1,
      ItemsPath: '$.plan.waves',
      Next: 'SynthesisBudgetSet',
    });
    expect(state(definition, 'SynthesisBudgetSet')).toMatchObject({ Type: 'Choice', Default: 'Synthesize' });
    expect(waveProcessor(definition).StartAt).toBe('WaveBudgetSet');
    expect(state(waveProcessor(definition), 'WaveBudgetSet')).toMatchObject({
      Choices: [{ Variable: '$.budgeted', BooleanEquals: true, Next: 'CheckWaveBudget' }],
      Default: 'RunSubtasks',
    });
    expect(state(definition, 'Synthesize').Next).toBe('Done');
    expect(state(definition, 'Done').Type).toBe('Succeed');
  });

  it('waits for a person in AwaitApproval with a task token, for approvalTimeoutHours', () => {
    const awaitApproval = state(definition, 'AwaitApproval');
    expect(awaitApproval).toMatchObject({
      Type: 'Task',
      Resource: expect.stringMatching(/:states:::lambda:invoke\.waitForTaskToken$/),
      Parameters: { Payload: { 'jobId.$': '$.jobId', 'taskToken.$': '$$.Task.Token' } },
      TimeoutSeconds: 24 * 3600,
      ResultPath: '$.plan',
      Next: 'BudgetSet',
    });
    // Only a failed invoke is retried; the wait's own timeout is the answer (ApprovalTimedOut).
    expect(awaitApproval.Retry?.flatMap((retry) => retry.ErrorEquals)).not.toContain('States.Timeout');
    expect(awaitApproval.Catch).toEqual([
      { ErrorEquals: ['PlanRejected'], ResultPath: '$.error', Next: 'Rejected' },
      {
        ErrorEquals: ['States.Timeout', 'States.HeartbeatTimeout'],
        ResultPath: '$.error',
        Next: 'ApprovalTimedOut',
      },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' },
    ]);
    expect(state(definition, 'Rejected').Type).toBe('Succeed');
    expect(state(definition, 'ApprovalTimedOut')).toMatchObject({
      Type: 'Pass',
      Parameters: { Error: 'ApprovalTimedOut' },
      Next: 'MarkFailed',
    });
    expect(synthesize({ approvalTimeoutHours: 2 }).definition.States.AwaitApproval?.TimeoutSeconds).toBe(
      7200,
    );
  });

  it("hands the deployment's approval and budget defaults, and the calls to price, to the plan function", () => {
    const { json: configured } = synthesize({
      defaults: { approval: { autoApproveUnderUsd: 0.2 }, budget: { maxCostUsd: 1 } },
    });
    const plan = Object.values(configured.Resources).find(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' &&
        String(resource.Properties?.Description ?? '').startsWith('Plans a job'),
    );
    const variables = (plan?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined)
      ?.Variables;
    expect(variables).toMatchObject({
      DEFAULT_APPROVAL: '{"autoApproveUnderUsd":0.2}',
      DEFAULT_BUDGET: '{"maxCostUsd":1}',
      WORKER_MODEL: 'claude-haiku-5-5',
      WORKER_MAX_TOKENS: '4096',
      SYNTHESIS_MODEL: 'claude-sonnet-5-5',
      SYNTHESIS_MAX_TOKENS: '8192',
    });
  });

  it('gives the execution as long again as a plan may wait for approval', () => {
    expect(definition.TimeoutSeconds).toBe((2 + 24) * 3600);
  });

  it('checks the budget as states: the synthesis reserved before the waves, each wave, then the synthesis', () => {
    expect(state(definition, 'BudgetSet')).toMatchObject({
      Choices: [{ Variable: '$.plan.budgeted', BooleanEquals: true, Next: 'ReserveSynthesis' }],
    });
    expect(state(definition, 'ReserveSynthesis')).toMatchObject({
      Parameters: { Payload: { check: 'reserve-synthesis' } },
      ResultPath: '$.budget',
      Next: 'SynthesisReserved',
    });
    expect(state(definition, 'SynthesisReserved')).toMatchObject({
      Choices: [{ Variable: '$.budget.withinBudget', BooleanEquals: true, Next: 'RunWaves' }],
      Default: 'OverBudget',
    });
    expect(state(waveProcessor(definition), 'CheckWaveBudget')).toMatchObject({
      Parameters: { Payload: { check: 'wave', 'subtaskIds.$': '$.subtaskIds' } },
      ResultPath: '$',
      Next: 'RunSubtasks',
    });
    expect(state(definition, 'CheckSynthesisBudget')).toMatchObject({
      Parameters: { Payload: { check: 'synthesis' } },
      Next: 'SynthesisAffordable',
    });
    expect(state(definition, 'SynthesisAffordable')).toMatchObject({
      Choices: [{ Variable: '$.budget.withinBudget', BooleanEquals: true, Next: 'Synthesize' }],
      Default: 'OverBudget',
    });
    expect(state(definition, 'OverBudget')).toMatchObject({
      Type: 'Pass',
      Parameters: { Error: 'BudgetExceeded', 'Cause.$': '$.budget.reason' },
      ResultPath: '$.error',
      Next: 'MarkFailed',
    });
  });

  it('fans out over the subtask ids of a wave only, with MaxConcurrency 10 by default', () => {
    const map = runSubtasksOf(definition);
    expect(map).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 10,
      ItemsPath: '$.subtaskIds',
      ItemSelector: { 'jobId.$': '$.jobId', 'subtaskId.$': '$$.Map.Item.Value' },
    });
    expect(itemProcessor(definition).StartAt).toBe('RunSubtask');
  });

  it('takes MaxConcurrency from the configuration', () => {
    const configured = synthesize({ maxConcurrency: 3 });
    expect(runSubtasksOf(configured.definition).MaxConcurrency).toBe(3);
  });

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries throttling in %s with exponential backoff and full jitter',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      for (const error of ['ModelRateLimited', 'ModelOverloaded']) {
        expect(retryFor(s, error)).toEqual(
          expect.objectContaining({
            BackoffRate: 2,
            JitterStrategy: 'FULL',
            MaxDelaySeconds: 60,
            MaxAttempts: 6,
          }),
        );
      }
      for (const error of ['ModelUnavailable', 'ModelTimeout', ...errorsOfClass('lambda-service')]) {
        expect(retryFor(s, error)).toEqual(
          expect.objectContaining({ JitterStrategy: 'FULL', MaxDelaySeconds: expect.any(Number) }),
        );
      }
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries every error the policy retries in %s with the timing of its class',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      const expected = Object.entries(ERROR_POLICY).map(([error, entry]) => {
        if (entry.class === 'final') return { error, rule: undefined };
        const timing = RETRY_TIMING[entry.class];
        return {
          error,
          rule: expect.objectContaining({
            IntervalSeconds: timing.intervalSeconds,
            BackoffRate: timing.backoffRate,
            MaxAttempts: timing.maxAttempts,
            MaxDelaySeconds: timing.maxDelaySeconds,
            JitterStrategy: 'FULL',
          }),
        };
      });
      expect(Object.keys(ERROR_POLICY).map((error) => ({ error, rule: retryFor(s, error) }))).toEqual(
        expected,
      );
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'waits out Lambda throttling in %s longer than other Lambda service errors (2 s, ×2, 6 attempts)',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      expect(retryFor(s, 'Lambda.TooManyRequestsException')).toEqual(
        expect.objectContaining({ IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 6 }),
      );
      expect(retryFor(s, 'Lambda.TooManyRequestsException')).not.toEqual(
        retryFor(s, 'Lambda.ServiceException'),
      );
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries %s when the function runs out of time (middy ends it with TimeoutError just before the deadline)',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      expect(retryFor(s, 'TimeoutError')).toEqual(retryFor(s, 'Sandbox.Timedout'));
      expect(retryFor(s, 'TimeoutError')).toEqual(expect.objectContaining({ MaxAttempts: 3 }));
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'retries a crash of the function in %s (it is idempotent), a few times with backoff',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      for (const error of ['Runtime.ExitError', 'Runtime.Unknown', 'Lambda.Unknown']) {
        expect(retryFor(s, error)).toEqual(
          expect.objectContaining({ MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL' }),
        );
      }
    },
  );

  it.each(['Plan', 'RunSubtask', 'Synthesize'])(
    'never retries rejected requests, refusals, empty answers or invalid plans in %s',
    (name) => {
      const s = name === 'RunSubtask' ? state(itemProcessor(definition), name) : state(definition, name);
      for (const error of [
        'ModelRequestRejected',
        'ModelRefused',
        'EmptyModelOutput',
        'InvalidPlan',
        'States.ALL',
      ])
        expect(retryFor(s, error)).toBeUndefined();
    },
  );

  it('catches any failure of one subtask into RecordSubtaskFailure, so the job goes on', () => {
    const worker = state(itemProcessor(definition), 'RunSubtask');
    expect(worker.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: 'RecordSubtaskFailure', ResultPath: '$.error' },
    ]);
    expect(state(itemProcessor(definition), 'RecordSubtaskFailure').End).toBe(true);
  });

  it('sends any unhandled error of Plan, RunWaves or Synthesize to MarkFailed, then fails the execution', () => {
    for (const name of ['Plan', 'RunWaves', 'Synthesize']) {
      expect(state(definition, name).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], Next: 'MarkFailed', ResultPath: '$.error' },
      ]);
    }
    expect(state(definition, 'MarkFailed').Next).toBe('JobFailed');
    expect(state(definition, 'JobFailed')).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.failure.error',
      CausePath: '$.failure.cause',
    });
  });

  it('sets an explicit timeout on every task, longer than its function timeout', () => {
    const tasks = [
      ...Object.entries(definition.States),
      ...Object.entries(waveProcessor(definition).States),
      ...Object.entries(itemProcessor(definition).States),
    ].filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBe(9);
    for (const [, s] of tasks) {
      const functionTimeout = Number(json.Resources[functionOf(s)]?.Properties?.Timeout);
      expect(s.TimeoutSeconds).toBeGreaterThan(functionTimeout);
    }
  });

  it('keeps model outputs out of the state: results are reduced to ids and statuses', () => {
    expect(state(definition, 'Plan').ResultSelector).toEqual({
      'waves.$': '$.Payload.waves',
      'planAttempts.$': '$.Payload.planAttempts',
      'budgeted.$': '$.Payload.budgeted',
      'awaitApproval.$': '$.Payload.awaitApproval',
    });
    expect(Object.keys(state(itemProcessor(definition), 'RunSubtask').ResultSelector as object)).toEqual([
      'subtaskId.$',
      'status.$',
      'attempts.$',
    ]);
  });
});
