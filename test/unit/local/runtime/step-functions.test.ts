import { HISTORY_EVENT_LIMIT, PAYLOAD_LIMIT_BYTES } from '../../../../local/runtime/engine';
import { LocalStepFunctions, type TaskHandlers } from '../../../../local/runtime/step-functions';

/** The local Step Functions service refuses what AWS refuses: payload limits, Map failure, quotas. */
const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:work';
const big = (bytes: number) => 'x'.repeat(bytes);

function machineWith(definition: Record<string, unknown>, taskHandlers: TaskHandlers) {
  const service = new LocalStepFunctions();
  const arn = service.register({ name: 'test', definition, taskHandlers });
  const run = async (input: unknown = {}) => {
    const started = await service.startExecution({ stateMachineArn: arn, input: JSON.stringify(input) });
    return service.waitForExecution(started.executionArn);
  };
  return { service, arn, run };
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('payload limits', () => {
  it('refuses to start an execution whose input is over 256 KiB with the API’s ValidationException', async () => {
    const { service, arn } = machineWith({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }, {});
    const input = JSON.stringify({ text: big(PAYLOAD_LIMIT_BYTES) });
    await expect(service.startExecution({ stateMachineArn: arn, input })).rejects.toThrow(
      expect.objectContaining({ name: 'ValidationException' }),
    );
  });

  it('counts the limit in UTF-8 bytes, not characters', async () => {
    const { service, arn } = machineWith({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }, {});
    const input = JSON.stringify({ text: 'é'.repeat(PAYLOAD_LIMIT_BYTES / 2) });
    expect(input.length).toBeLessThan(PAYLOAD_LIMIT_BYTES);
    await expect(service.startExecution({ stateMachineArn: arn, input })).rejects.toThrow(
      expect.objectContaining({ name: 'ValidationException' }),
    );
  });

  it('fails the execution with States.DataLimitExceeded when a task returns more than 256 KiB, past any Catch', async () => {
    const { run } = machineWith(
      {
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: FUNCTION,
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Succeed' },
        },
      },
      { Work: () => Promise.resolve({ text: big(PAYLOAD_LIMIT_BYTES) }) },
    );
    const execution = await run();
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.DataLimitExceeded');
    expect(execution.cause).toBe(
      "The state/task 'Work' returned a result with a size exceeding the maximum number of bytes service limit.",
    );
  });

  it('fails the execution when a state’s output (a Map’s collected results) is over 256 KiB', async () => {
    const { run } = machineWith(
      {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Map',
            ItemsPath: '$.items',
            ItemProcessor: {
              StartAt: 'Work',
              States: { Work: { Type: 'Task', Resource: FUNCTION, End: true } },
            },
            End: true,
          },
        },
      },
      { Work: () => Promise.resolve({ text: big(100_000) }) },
    );
    const execution = await run({ items: [1, 2, 3] });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.DataLimitExceeded');
    expect(execution.cause).toContain("'Each'");
  });

  it('fails the execution with States.DataLimitExceeded when a task’s input after Parameters is over 256 KiB, without calling it', async () => {
    const work = jest.fn(() => Promise.resolve({}));
    const { run } = machineWith(
      {
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: FUNCTION,
            Parameters: { 'first.$': '$.text', 'second.$': '$.text' },
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Succeed' },
        },
      },
      { Work: work },
    );

    const execution = await run({ text: big(PAYLOAD_LIMIT_BYTES / 2) });

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.DataLimitExceeded');
    expect(execution.cause).toBe(
      "The state/task 'Work' has an input with a size exceeding the maximum number of bytes service limit.",
    );
    expect(work).not.toHaveBeenCalled();
  });

  it('fails the execution with States.DataLimitExceeded when a state’s input (a Map iteration’s) is over 256 KiB', async () => {
    const { run } = machineWith(
      {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Map',
            ItemsPath: '$.items',
            ItemSelector: { 'first.$': '$.text', 'second.$': '$.text' },
            ItemProcessor: { StartAt: 'Copy', States: { Copy: { Type: 'Pass', End: true } } },
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Succeed' },
        },
      },
      {},
    );

    const execution = await run({ items: [1], text: big(PAYLOAD_LIMIT_BYTES / 2) });

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.DataLimitExceeded');
    expect(execution.cause).toBe(
      "The state/task 'Copy' has an input with a size exceeding the maximum number of bytes service limit.",
    );
  });
});

describe('a Map whose iteration fails without a Catch', () => {
  it('fails, stops the iterations in flight and never starts those still queued', async () => {
    const started: number[] = [];
    let releaseSecond: () => void = () => undefined;
    const { run } = machineWith(
      {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Map',
            ItemsPath: '$.items',
            MaxConcurrency: 2,
            ItemProcessor: {
              StartAt: 'Work',
              States: { Work: { Type: 'Task', Resource: FUNCTION, End: true } },
            },
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Failed' }],
            End: true,
          },
          Failed: { Type: 'Pass', End: true },
        },
      },
      {
        Work: async (input) => {
          const index = Number(input);
          started.push(index);
          if (index === 0) throw Object.assign(new Error('first item fails'), { name: 'Boom' });
          if (index === 1) await new Promise<void>((resolve) => (releaseSecond = resolve));
          return index;
        },
      },
    );
    const execution = await run({ items: [0, 1, 2, 3, 4, 5] });
    releaseSecond();
    await flush();
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}')).toEqual(expect.objectContaining({ Error: 'Boom' }));
    expect(started.sort()).toEqual([0, 1]);
  });
});

describe('a Map whose iteration fails while another is in flight', () => {
  it('fails the execution, and the iteration in flight never reaches its next state', async () => {
    const reachedNext: number[] = [];
    let releaseSlow: () => void = () => undefined;
    let slowStarted: () => void = () => undefined;
    const slowUnderWay = new Promise<void>((resolve) => (slowStarted = resolve));
    const { run } = machineWith(
      {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Map',
            ItemsPath: '$.items',
            ItemProcessor: {
              StartAt: 'Work',
              States: {
                Work: { Type: 'Task', Resource: FUNCTION, Next: 'Record' },
                Record: { Type: 'Task', Resource: FUNCTION, End: true },
              },
            },
            End: true,
          },
        },
      },
      {
        Work: async (input) => {
          const index = Number(input);
          if (index === 0) {
            await slowUnderWay;
            throw Object.assign(new Error('first item fails'), { name: 'Boom' });
          }
          const released = new Promise<void>((resolve) => (releaseSlow = resolve));
          slowStarted();
          await released;
          return index;
        },
        Record: (input) => {
          reachedNext.push(Number(input));
          return Promise.resolve(input);
        },
      },
    );

    const execution = await run({ items: [0, 1] });
    releaseSlow();
    await flush();

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('Boom');
    expect(reachedNext).toEqual([]);
  });
});

describe('an inline Map with MaxConcurrency over 40', () => {
  it('runs at most 40 iterations at once, as AWS does', async () => {
    let running = 0;
    let peak = 0;
    const waiting: (() => void)[] = [];
    const { run } = machineWith(
      {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Map',
            ItemsPath: '$.items',
            MaxConcurrency: 100,
            ItemProcessor: {
              StartAt: 'Work',
              States: { Work: { Type: 'Task', Resource: FUNCTION, End: true } },
            },
            End: true,
          },
        },
      },
      {
        Work: async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise<void>((resolve) => waiting.push(resolve));
          running--;
          return null;
        },
      },
    );
    const finished = run({ items: Array.from({ length: 60 }, (_, i) => i) });
    // Release iterations as they queue up until all 60 have run.
    let released = 0;
    while (released < 60) {
      await flush();
      const batch = waiting.splice(0);
      released += batch.length;
      for (const resolve of batch) resolve();
    }
    expect((await finished).status).toBe('SUCCEEDED');
    expect(peak).toBe(40);
  });
});

describe('execution history', () => {
  it(`fails the execution with States.Runtime at ${HISTORY_EVENT_LIMIT} events, the last being the failure`, async () => {
    const { service, run } = machineWith(
      {
        StartAt: 'Spin',
        States: {
          Spin: { Type: 'Pass', Next: 'Again' },
          Again: {
            Type: 'Choice',
            Choices: [{ Variable: '$.spin', BooleanEquals: true, Next: 'Spin' }],
            Default: 'Done',
          },
          Done: { Type: 'Succeed' },
        },
      },
      {},
    );
    const execution = await run({ spin: true });
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('States.Runtime');
    expect(execution.cause).toBe('The execution reached the maximum number of history events (25000).');
    expect(execution.history).toHaveLength(HISTORY_EVENT_LIMIT);
    expect(execution.history.at(-1)).toEqual(
      expect.objectContaining({ id: HISTORY_EVENT_LIMIT, type: 'ExecutionFailed' }),
    );
    expect(service.running()).toHaveLength(0);
  });
});

describe('the definition the engine runs', () => {
  it('still resolves nested Parameters templates (the MaxConcurrency cap copies it within this realm)', async () => {
    const seen: unknown[] = [];
    const { run } = machineWith(
      {
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: FUNCTION,
            Parameters: { FunctionName: 'work', Payload: { 'jobId.$': '$.jobId' } },
            End: true,
          },
        },
      },
      { Work: (input) => Promise.resolve(seen.push(input)) },
    );
    await run({ jobId: 'j' });
    expect(seen).toEqual([{ FunctionName: 'work', Payload: { jobId: 'j' } }]);
  });
});
