import { scaleRetryTimes } from '../../../../local/runtime/stack';

describe('scaling retry times for a fast local model', () => {
  it("multiplies every Retry rule's interval and maximum delay, Map item processors included, and nothing else", () => {
    const retry = {
      ErrorEquals: ['X'],
      IntervalSeconds: 2,
      MaxDelaySeconds: 10,
      MaxAttempts: 99,
      BackoffRate: 1.5,
    };
    const definition = {
      StartAt: 'Map',
      States: {
        Map: {
          Type: 'Map',
          ItemProcessor: {
            StartAt: 'Task',
            States: { Task: { Type: 'Task', Retry: [retry], TimeoutSeconds: 330 } },
          },
          Retry: [retry],
        },
      },
    };

    const scaled = scaleRetryTimes(definition, 0.1) as typeof definition;

    const scaledRetry = { ...retry, IntervalSeconds: 0.2, MaxDelaySeconds: 1 };
    expect(scaled.States.Map.Retry).toEqual([scaledRetry]);
    expect(scaled.States.Map.ItemProcessor.States.Task).toEqual({
      Type: 'Task',
      Retry: [scaledRetry],
      TimeoutSeconds: 330,
    });
    expect(definition.States.Map.Retry[0]?.IntervalSeconds).toBe(2);
  });
});
