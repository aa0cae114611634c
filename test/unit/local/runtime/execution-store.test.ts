import '../../../../local/runtime/polyfills';
import { execFileSync } from 'node:child_process';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from '../../../../local/runtime/dynamodb';
import {
  EXECUTIONS_TABLE,
  EXECUTIONS_TABLE_INPUT,
  ExecutionStore,
  INTERRUPTED_CAUSE,
} from '../../../../local/runtime/execution-store';
import { LocalStepFunctions, StepFunctionsError } from '../../../../local/runtime/step-functions';

const DEFINITION = {
  StartAt: 'Work',
  States: {
    Work: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:work', End: true },
  },
};

/** A local Step Functions service as one process would have it, over a shared DynamoDB. */
function service(dynamodb: LocalDynamoDB, work: (input: unknown) => Promise<unknown>) {
  const stepFunctions = new LocalStepFunctions(new ExecutionStore(dynamodb.client));
  const arn = stepFunctions.register({
    name: 'machine',
    definition: DEFINITION,
    taskHandlers: { Work: work as never },
  });
  return { stepFunctions, arn };
}

/** A task that waits until the test lets it go (a task never let go keeps the engine's timers alive). */
function heldTask() {
  let release: (value: unknown) => void = () => undefined;
  const held = new Promise((resolve) => (release = resolve));
  return { work: () => held, release: () => release({}) };
}

describe('execution records kept in the local store', () => {
  let dynamodb: LocalDynamoDB;
  beforeEach(async () => {
    dynamodb = await startLocalDynamoDB();
    await ensureTable(dynamodb.client, EXECUTIONS_TABLE_INPUT);
  });
  afterEach(() => dynamodb.close());

  it('keeps a used name taken after a restart, and the execution and its history readable', async () => {
    // Arrange: a first "process" runs an execution to its end.
    const before = service(dynamodb, async () => ({ done: true }));
    const started = await before.stepFunctions.startExecution({ stateMachineArn: before.arn, name: 'job-1' });
    await before.stepFunctions.waitForExecution(started.executionArn);

    // Act: a new one, with nothing in memory.
    const after = service(dynamodb, async () => ({ done: true }));
    const again = after.stepFunctions.startExecution({
      stateMachineArn: after.arn,
      name: 'job-1',
      input: '{}',
    });

    // Assert
    await expect(again).rejects.toThrow(StepFunctionsError);
    await expect(again).rejects.toMatchObject({ code: 'ExecutionAlreadyExists' });
    const found = await after.stepFunctions.findExecution(started.executionArn);
    expect(found).toMatchObject({ name: 'job-1', status: 'SUCCEEDED', output: '{"done":true}' });
    const history = await after.stepFunctions.executionHistory(started.executionArn);
    expect(history.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(history.map((event) => event.id)).toEqual([1, 2, 3, 4]);
    expect(await after.stepFunctions.findExecutions({ stateMachineArn: after.arn })).toHaveLength(1);
  });

  it('frees a name 90 days after its execution started, as AWS does', async () => {
    // Arrange
    const store = new ExecutionStore(dynamodb.client);
    const record = {
      executionArn: 'arn:aws:states:us-east-1:000000000000:execution:machine:old',
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:machine',
      name: 'old',
      status: 'SUCCEEDED' as const,
      input: '{}',
      startDate: new Date('2026-01-01T00:00:00Z'),
      history: [],
      events: [],
    };
    await store.claim(record, record.startDate.getTime());

    // Act
    const within = await store.claim(record, Date.parse('2026-03-31T00:00:00Z'));
    const after = await store.claim(record, Date.parse('2026-04-02T00:00:00Z'));

    // Assert
    expect(within?.name).toBe('old');
    expect(after).toBeUndefined();
  });

  it('answers a second start with the same name and input while it runs elsewhere, and refuses another input', async () => {
    // Arrange: one process runs an execution that waits.
    let release: (value: unknown) => void = () => undefined;
    const running = service(dynamodb, () => new Promise((resolve) => (release = resolve)));
    const started = await running.stepFunctions.startExecution({
      stateMachineArn: running.arn,
      name: 'job-2',
      input: '{"a":1}',
    });
    const other = service(dynamodb, async () => ({}));

    // Act
    const same = await other.stepFunctions.startExecution({
      stateMachineArn: other.arn,
      name: 'job-2',
      input: '{"a":1}',
    });
    const different = other.stepFunctions.startExecution({
      stateMachineArn: other.arn,
      name: 'job-2',
      input: '{"a":2}',
    });

    // Assert
    expect(same.executionArn).toBe(started.executionArn);
    await expect(different).rejects.toMatchObject({ code: 'ExecutionAlreadyExists' });
    release({});
    await running.stepFunctions.waitForExecution(started.executionArn);
  });

  it('stops an execution another process runs, through the store', async () => {
    // Arrange
    const task = heldTask();
    const running = service(dynamodb, task.work);
    const started = await running.stepFunctions.startExecution({
      stateMachineArn: running.arn,
      name: 'job-3',
    });
    const other = service(dynamodb, async () => ({}));

    // Act
    await other.stepFunctions.requestStop(started.executionArn, 'Cancelled', 'by a test');
    const ended = await running.stepFunctions.waitForExecution(started.executionArn);
    task.release();

    // Assert
    expect(ended).toMatchObject({ status: 'ABORTED', error: 'Cancelled', cause: 'by a test' });
    expect(await other.stepFunctions.findExecution(started.executionArn)).toMatchObject({
      status: 'ABORTED',
    });
  }, 10_000);

  it('shows a RUNNING execution whose process is gone as ABORTED (Interrupted), and records it so', async () => {
    // Arrange: an execution recorded as running by a process that has since exited.
    const task = heldTask();
    const running = service(dynamodb, task.work);
    const started = await running.stepFunctions.startExecution({
      stateMachineArn: running.arn,
      name: 'job-4',
    });
    const deadPid = Number(
      execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']),
    );
    await dynamodb.client.send(
      new UpdateItemCommand({
        TableName: EXECUTIONS_TABLE,
        Key: { pk: { S: started.executionArn }, sk: { S: 'EXECUTION' } },
        UpdateExpression: 'SET ownerPid = :pid',
        ExpressionAttributeValues: { ':pid': { N: String(deadPid) } },
      }),
    );
    const reader = service(dynamodb, async () => ({}));

    // Act
    const seen = await reader.stepFunctions.findExecution(started.executionArn);
    const store = new ExecutionStore(dynamodb.client);

    // Assert
    expect(seen).toMatchObject({ status: 'ABORTED', error: 'Interrupted', cause: INTERRUPTED_CAUSE });
    expect(await store.get(started.executionArn)).toMatchObject({ status: 'ABORTED' });
    running.stepFunctions.stopExecution(started.executionArn);
    task.release();
    await running.stepFunctions.waitForExecution(started.executionArn);
  });
});
