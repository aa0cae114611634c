import { LocalOrchestrator, type ExecutionEvent } from '../../local/runtime/stack';
import { exactSubtaskPlan } from '../../tools/bench/exact-subtask-plan';

/**
 * Step Functions caps a state's input and output at 256 KB. States carry ids, never model text, so
 * the payloads must stay small even at the largest fan-out the configuration allows, with failures
 * (whose Cause is a whole error with its stack) in the Map.
 */
const SUBTASKS = 100;
const STEP_FUNCTIONS_PAYLOAD_LIMIT = 256 * 1024;

let orchestrator: LocalOrchestrator;
beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    model: {
      kind: 'simulated',
      // A third of the workers are rejected, so failures and their causes travel through the Map.
      options: { faults: [{ kind: 'bad_request', role: 'worker', rate: 0.3 }] },
    },
    // A 100-subtask plan needs more than the default 4,096 output tokens.
    config: { maxSubtasks: SUBTASKS, maxConcurrency: 40, maxTokens: { orchestrator: 32_000 } },
    ...exactSubtaskPlan(SUBTASKS),
  });
});
afterAll(() => orchestrator.close());

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null));

function largestPayload(events: readonly ExecutionEvent[]): { bytes: number; state: string } {
  let largest = { bytes: 0, state: '' };
  for (const event of events) {
    const payloads =
      'state' in event
        ? [event.state.input, event.state.output]
        : [(event as { input?: unknown }).input, (event as { output?: unknown }).output];
    for (const payload of payloads) {
      const size = bytes(payload);
      if (size > largest.bytes)
        largest = { bytes: size, state: 'state' in event ? event.state.name : event.type };
    }
  }
  return largest;
}

describe('Step Functions payload size', () => {
  it(`stays far below 256 KB with ${SUBTASKS} subtasks, some failing`, async () => {
    // Arrange
    const started = await orchestrator.startJob({
      task: 'Research the history of lighthouses',
      context: {},
      profile: 'research',
    });
    const events: ExecutionEvent[] = [];

    // Act
    for await (const event of started.events) events.push(event);
    await started.finished;

    // Assert
    const view = await orchestrator.getJobView(started.jobId);
    expect(view?.status).toBe('PARTIAL');
    expect(view?.subtasks).toHaveLength(SUBTASKS);
    const failed = view?.subtasks.filter((subtask) => subtask.status === 'FAILED').length ?? 0;
    expect(failed).toBeGreaterThan(10);
    const largest = largestPayload(events);
    expect(largest.bytes).toBeLessThan(STEP_FUNCTIONS_PAYLOAD_LIMIT / 8);
    // No model text in any state: outputs stay in DynamoDB.
    const anOutput = view?.subtasks.find((subtask) => subtask.output)?.output ?? '';
    expect(anOutput.length).toBeGreaterThan(100);
    expect(events.some((event) => JSON.stringify(event).includes(anOutput.slice(0, 80)))).toBe(false);
  });
});
