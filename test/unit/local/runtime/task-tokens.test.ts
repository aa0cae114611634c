import { LocalStepFunctions, type TaskHandlers } from '../../../../local/runtime/step-functions';
import { stateMachineNameOfToken, waitForTaskTokenIntegration } from '../../../../local/runtime/task-tokens';
import { MAX_LOCAL_TIMER_SECONDS, withTaskTokenTimeouts } from '../../../../local/runtime/engine';

/** `.waitForTaskToken`, which aws-local-stepfunctions does not run, emulated as AWS runs it. */
const RESOURCE = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

function callbackMachine(state: Record<string, unknown> = {}) {
  const service = new LocalStepFunctions();
  const started: unknown[] = [];
  const ask = {
    Type: 'Task',
    Resource: RESOURCE,
    Parameters: { FunctionName: 'ask', Payload: { 'token.$': '$$.Task.Token', 'job.$': '$.job' } },
    ResultPath: '$.answer',
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
    Next: 'Done',
    ...state,
  };
  const handlers: TaskHandlers = {
    Ask: waitForTaskTokenIntegration(
      service.taskTokens,
      async (input) => void started.push(input),
      ask,
    ) as unknown as TaskHandlers[string],
  };
  const arn = service.register({
    name: 'callbacks',
    definition: {
      StartAt: 'Ask',
      States: { Ask: ask, Done: { Type: 'Succeed' }, Caught: { Type: 'Succeed' } },
    },
    taskHandlers: handlers,
  });
  const start = async () => {
    const execution = await service.startExecution({
      stateMachineArn: arn,
      input: JSON.stringify({ job: 'j1' }),
    });
    await until(() => started.length > 0 && service.taskTokens.waitingCount() > 0);
    const token = (started.at(-1) as { Payload: { token: string } }).Payload.token;
    return {
      token,
      finished: service.waitForExecution(execution.executionArn),
      executionArn: execution.executionArn,
    };
  };
  return { service, start, started };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const outputOf = (record: { output?: string }) =>
  JSON.parse(record.output ?? '{}') as Record<string, unknown>;

describe('a .waitForTaskToken task run locally', () => {
  it('starts its work with a fresh token naming the state machine, then parks until SendTaskSuccess', async () => {
    const { service, start, started } = callbackMachine();
    const { token, finished } = await start();

    expect(started[0]).toMatchObject({ FunctionName: 'ask', Payload: { job: 'j1' } });
    expect(stateMachineNameOfToken(token)).toBe('callbacks');
    service.taskTokens.sendTaskSuccess(token, JSON.stringify({ approved: true }));
    const record = await finished;

    expect(record.status).toBe('SUCCEEDED');
    expect(outputOf(record).answer).toEqual({ approved: true });
  });

  it('fails the task with the error and cause of SendTaskFailure, for Catch to match', async () => {
    const { service, start } = callbackMachine();
    const { token, finished } = await start();

    service.taskTokens.sendTaskFailure(token, 'PlanRejected', 'no thanks');
    const record = await finished;

    expect(outputOf(record).error).toEqual({ Error: 'PlanRejected', Cause: 'no thanks' });
  });

  it('times out with States.Timeout after TimeoutSeconds; a late answer gets TaskTimedOut', async () => {
    const { service, start } = callbackMachine({ TimeoutSeconds: 1 });
    const { token, finished } = await start();

    const record = await finished;

    expect(outputOf(record).error).toMatchObject({ Error: 'States.Timeout' });
    expect(() => service.taskTokens.sendTaskSuccess(token, '{}')).toThrow(
      expect.objectContaining({ name: 'TaskTimedOut' }),
    );
  });

  it('times out with States.HeartbeatTimeout when no heartbeat comes within HeartbeatSeconds, and not while they come', async () => {
    const { service, start } = callbackMachine({ TimeoutSeconds: 10, HeartbeatSeconds: 1 });
    const { token, finished } = await start();
    const beats = setInterval(() => service.taskTokens.sendTaskHeartbeat(token), 300);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    clearInterval(beats);
    expect(service.taskTokens.waitingCount()).toBe(1);

    const record = await finished;

    expect(outputOf(record).error).toMatchObject({ Error: 'States.HeartbeatTimeout' });
  });

  it('answers InvalidToken for a string that is no token, TaskDoesNotExist once a task was answered, InvalidOutput for output that is not JSON', async () => {
    const { service, start } = callbackMachine();
    const { token, finished } = await start();

    expect(() => service.taskTokens.sendTaskSuccess(token, 'not json')).toThrow(
      expect.objectContaining({ name: 'InvalidOutput' }),
    );
    service.taskTokens.sendTaskSuccess(token, '{}');
    await finished;

    expect(() => service.taskTokens.sendTaskSuccess('garbage', '{}')).toThrow(
      expect.objectContaining({ name: 'InvalidToken' }),
    );
    expect(() => service.taskTokens.sendTaskFailure(token)).toThrow(
      expect.objectContaining({ name: 'TaskDoesNotExist' }),
    );
    expect(() => service.taskTokens.sendTaskHeartbeat(token)).toThrow(
      expect.objectContaining({ name: 'TaskDoesNotExist' }),
    );
  });

  it('lets a stopped execution take its parked task with it', async () => {
    const { service, start } = callbackMachine();
    const { token, finished, executionArn } = await start();

    service.stopExecution(executionArn, 'Stopped', 'by a test');
    await finished;

    expect(service.taskTokens.waitingCount()).toBe(0);
    expect(() => service.taskTokens.sendTaskSuccess(token, '{}')).toThrow(
      expect.objectContaining({ name: 'TaskDoesNotExist' }),
    );
  });

  it('gives a callback without TimeoutSeconds as long as a local timer can wait, not the engine’s 60-second Task default', () => {
    const definition = {
      StartAt: 'Ask',
      States: {
        Ask: { Type: 'Task', Resource: RESOURCE, Next: 'Work' },
        Work: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', End: true },
      },
    };

    const adjusted = withTaskTokenTimeouts(definition);

    expect(adjusted.States.Ask).toMatchObject({ TimeoutSeconds: MAX_LOCAL_TIMER_SECONDS });
    expect(adjusted.States.Work).not.toHaveProperty('TimeoutSeconds');
    expect(MAX_LOCAL_TIMER_SECONDS * 1_000).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});
