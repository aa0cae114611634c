import type { Context } from 'aws-lambda';
import { createHandler as createRecordFailureHandler } from '../../../../../lambdas/record-subtask-failure/handler';
import { correlationKeys, ObservabilityEnvSchema } from '../../../../../lambdas/shared/runtime/observability';
import { priced, sumUsage } from '../../../../../lambdas/shared/domain/pricing';
import { createHandler as createSynthesizeHandler } from '../../../../../lambdas/synthesize/handler';
import { createHandler as createWorkerHandler } from '../../../../../lambdas/worker/handler';
import { type SimulatedModel, startSimulatedModel } from '../../../../../local/simulated-model';
import { captureOutput, type CapturedOutput } from '../../../../helpers/captured-output';
import { startTestTable, type TestTable } from '../../../../helpers/local-table';
import { planWith } from '../../../../helpers/plans';

let table: TestTable;
let model: SimulatedModel;
let output: CapturedOutput;
let jobCounter = 0;

beforeAll(async () => {
  [table, model] = await Promise.all([startTestTable(), startSimulatedModel()]);
});
afterAll(async () => {
  await Promise.all([table.close(), model.close()]);
});
beforeEach(() => {
  output = captureOutput();
});
afterEach(() => output.restore());

/** The environment the stack gives a worker, pointed at the local table and the simulated model. */
const functionEnvironment = () => ({
  TABLE_NAME: table.tableName,
  DYNAMODB_ENDPOINT: table.dynamodb.endpoint,
  MODEL: 'claude-haiku-5-5',
  ANTHROPIC_API_KEY: 'sk-test-not-a-key',
  ANTHROPIC_BASE_URL: model.url,
  POWERTOOLS_SERVICE_NAME: 'orchestrator-test',
  POWERTOOLS_METRICS_NAMESPACE: 'OrchestratorTest',
  LOG_LEVEL: 'INFO',
});

const lambdaContext = (functionName: string): Context => ({
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
  memoryLimitInMB: '512',
  awsRequestId: `request-${Math.random().toString(16).slice(2)}`,
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'test',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

async function plannedJob(): Promise<string> {
  const jobId = `observed-job-${++jobCounter}`;
  await table.repository.createJob({
    jobId,
    status: 'QUEUED',
    task: 'Research tidal power',
    context: {},
    profile: 'research',
  });
  const usage = priced('claude-sonnet-5-5', {
    inputTokens: 1,
    outputTokens: 1,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
  });
  await table.repository.savePlan(jobId, planWith(['history', 'costs']), [['history', 'costs']], usage, 1);
  return jobId;
}

describe('a worker invocation under Powertools', () => {
  it('logs JSON lines carrying the job id, subtask id and attempt, and counts the retry', async () => {
    // Arrange: the first worker call is throttled, so Step Functions would retry the subtask
    const jobId = await plannedJob();
    model.setFaults([{ kind: 'rate_limit', role: 'worker', times: 1 }]);
    const handler = createWorkerHandler(functionEnvironment());
    const event = { jobId, subtaskId: 'history' };

    // Act: the first attempt fails, the retry succeeds
    await expect(handler(event, lambdaContext('WorkerFunction'))).rejects.toMatchObject({
      name: 'ModelRateLimited',
    });
    await handler(event, lambdaContext('WorkerFunction'));

    // Assert: every log line names the job and subtask, and which attempt it belongs to
    const logs = output.logs();
    expect(logs.map((log) => [log.message, log.attempt])).toEqual([
      ['Model call failed', 1],
      ['Invocation failed', 1],
      ['Model call succeeded', 2],
    ]);
    for (const log of logs) {
      expect(log).toMatchObject({
        jobId,
        subtaskId: 'history',
        service: 'orchestrator-test',
        function_name: 'WorkerFunction',
      });
    }
    expect(logs[1]).toMatchObject({ level: 'ERROR', error: { name: 'ModelRateLimited' } });

    const metrics = output.metrics();
    expect(metrics.filter((record) => 'ModelThrottled' in record)).toEqual([
      expect.objectContaining({ role: 'worker', model: 'claude-haiku-5-5', ModelThrottled: 1 }),
    ]);
    expect(metrics.filter((record) => 'SubtaskRetries' in record)).toEqual([
      expect.objectContaining({ service: 'orchestrator-test', SubtaskRetries: 1 }),
    ]);
    expect(metrics.filter((record) => 'ModelLatency' in record)).toHaveLength(1);
  });

  it('does not carry one invocation’s ids over to the next', async () => {
    const jobId = await plannedJob();
    model.setFaults([]);
    const handler = createWorkerHandler(functionEnvironment());

    await handler({ jobId, subtaskId: 'costs' }, lambdaContext('WorkerFunction'));
    await expect(handler({ jobId }, lambdaContext('WorkerFunction'))).rejects.toMatchObject({
      name: 'InvalidEvent',
    });

    const failed = output.logs().find((log) => log.message === 'Invocation failed');
    expect(failed).toBeDefined();
    expect(failed).not.toHaveProperty('jobId');
    expect(failed).not.toHaveProperty('subtaskId');
    expect(failed).not.toHaveProperty('attempt');
  });
});

describe('synthesizing under Powertools', () => {
  it('publishes the finished job’s estimated cost: planning, every worker and the synthesis', async () => {
    // Arrange: both subtasks done by the worker
    const jobId = await plannedJob();
    model.setFaults([]);
    const worker = createWorkerHandler(functionEnvironment());
    for (const subtaskId of ['history', 'costs'])
      await worker({ jobId, subtaskId }, lambdaContext('WorkerFunction'));
    const synthesize = createSynthesizeHandler({ ...functionEnvironment(), MODEL: 'claude-sonnet-5-5' });

    // Act
    const result = await synthesize({ jobId }, lambdaContext('SynthesizeFunction'));

    // Assert
    expect(result).toMatchObject({ status: 'SUCCEEDED' });
    const stored = await table.repository.getJobWithSubtasks(jobId);
    const expected = sumUsage([
      stored?.job.planUsage,
      ...(stored?.subtasks ?? []).map((subtask) => subtask.usage),
      stored?.job.synthesisUsage,
    ]).costUsd;
    expect(expected).toBeGreaterThan(0);
    expect(output.metrics().filter((record) => 'JobCostUsd' in record)).toEqual([
      expect.objectContaining({ service: 'orchestrator-test', JobCostUsd: expected }),
    ]);
    expect(output.logs().find((log) => log.message === 'Job finished')).toMatchObject({
      jobId,
      status: 'SUCCEEDED',
      costUsd: expected,
      function_name: 'SynthesizeFunction',
    });
    // A retried Synthesize finds the job finished and does not count its cost again.
    await synthesize({ jobId }, lambdaContext('SynthesizeFunction'));
    expect(output.metrics().filter((record) => 'JobCostUsd' in record)).toHaveLength(1);
  });
});

describe('recording a subtask failure under Powertools', () => {
  it('counts the failed subtask by error name', async () => {
    const jobId = await plannedJob();
    const handler = createRecordFailureHandler(functionEnvironment());

    await handler(
      {
        jobId,
        subtaskId: 'costs',
        error: { Error: 'ModelRequestRejected', Cause: '{"errorMessage":"400"}' },
      },
      lambdaContext('RecordSubtaskFailureFunction'),
    );

    expect(output.metrics().filter((record) => 'SubtasksFailed' in record)).toEqual([
      expect.objectContaining({ errorName: 'ModelRequestRejected', SubtasksFailed: 1 }),
    ]);
    expect(output.logs()).toEqual([
      expect.objectContaining({ level: 'WARN', jobId, subtaskId: 'costs', error: 'ModelRequestRejected' }),
    ]);
  });
});

describe('observability settings', () => {
  it('are silent without configuration and read LOG_LEVEL case-insensitively', () => {
    expect(ObservabilityEnvSchema.parse({})).toMatchObject({
      LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: false,
      POWERTOOLS_TRACE_ENABLED: true,
    });
    expect(ObservabilityEnvSchema.parse({ LOG_LEVEL: 'debug' }).LOG_LEVEL).toBe('DEBUG');
  });

  it('fail fast on a log level Powertools does not know', () => {
    expect(() => ObservabilityEnvSchema.parse({ LOG_LEVEL: 'verbose' })).toThrow();
  });

  it('take the ids a log line is correlated by from job, subtask and batch events', () => {
    expect(correlationKeys({ jobId: 'j', subtaskId: 's', error: {} })).toEqual({
      jobId: 'j',
      subtaskId: 's',
    });
    expect(correlationKeys({ runId: 'r', item: { index: 3, jobId: 'j' } })).toEqual({
      runId: 'r',
      jobId: 'j',
      itemIndex: 3,
    });
    expect(correlationKeys('not an event')).toEqual({});
  });
});
