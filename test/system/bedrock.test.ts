import { DEFAULT_BEDROCK_MODELS } from '../../lib/bedrock-models';
import { type ExecutionEvent, LocalOrchestrator } from '../../local/runtime/stack';
import type { FaultRule } from '../../local/simulated-model';

/**
 * The Bedrock provider end to end through the local stack: the synthesized state machine, the
 * handlers with `MODEL_PROVIDER=bedrock`, `@anthropic-ai/bedrock-sdk` signing with the local dummy
 * credentials, and the simulated model's Bedrock invoke route checking the signatures.
 */
let orchestrator: LocalOrchestrator;
const FAST_RETRIES = { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 };

beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    config: { provider: 'bedrock' },
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
  });
});
afterAll(() => orchestrator.close());

async function runJob(task: string, faults: FaultRule[] = []) {
  orchestrator.simulatedModel?.setFaults(faults);
  const before = orchestrator.simulatedModel?.requests.length ?? 0;
  const started = await orchestrator.startJob({ task });
  const events: ExecutionEvent[] = [];
  for await (const event of started.events) events.push(event);
  const execution = await started.finished;
  const view = await orchestrator.getJobView(started.jobId);
  if (!view) throw new Error('job view missing');
  const requests = orchestrator.simulatedModel?.requests.slice(before) ?? [];
  return { execution, view, events, requests };
}

const TASK = 'Write a product description for a new eco-friendly water bottle';

describe('a job with the bedrock provider, run locally', () => {
  it('succeeds, every model call going to the Bedrock route of its role model', async () => {
    const { execution, view, requests } = await runJob(TASK);

    expect(execution.status).toBe('SUCCEEDED');
    expect(view.status).toBe('SUCCEEDED');
    expect(view.subtasks.length).toBeGreaterThanOrEqual(2);
    expect(view.synthesis).toContain('simulated model');
    expect(requests.length).toBe(view.subtasks.length + 2);
    expect(requests.every((request) => request.api === 'bedrock' && request.status === 200)).toBe(true);
    const modelOf = (role: string) => new Set(requests.filter((r) => r.role === role).map((r) => r.model));
    expect(modelOf('plan')).toEqual(new Set([DEFAULT_BEDROCK_MODELS.orchestrator]));
    expect(modelOf('worker')).toEqual(new Set([DEFAULT_BEDROCK_MODELS.worker]));
    expect(modelOf('synthesis')).toEqual(new Set([DEFAULT_BEDROCK_MODELS.synthesis]));
  });

  it('retries injected Bedrock throttling and unavailability in every role, and succeeds', async () => {
    const { view, events, requests } = await runJob(TASK, [
      { kind: 'rate_limit', role: 'plan', times: 1 },
      { kind: 'rate_limit', role: 'worker', times: 2 },
      { kind: 'overloaded', role: 'synthesis', times: 1 },
    ]);

    expect(view.status).toBe('SUCCEEDED');
    expect(view.subtasks.some((subtask) => subtask.attempts > 1)).toBe(true);
    expect(requests.filter((request) => request.status === 429)).toHaveLength(3);
    expect(requests.filter((request) => request.status === 503)).toHaveLength(1);
    const failed = events.flatMap((event) =>
      event.type === 'StateFailed' && 'Error' in event ? [event.Error] : [],
    );
    expect(failed).toEqual(expect.arrayContaining(['ModelRateLimited', 'ModelOverloaded']));
    const retried = events.flatMap((event) =>
      event.type === 'StateRetried' && 'state' in event ? [event.state.name] : [],
    );
    expect(retried).toEqual(expect.arrayContaining(['Plan', 'RunSubtask', 'Synthesize']));
  });

  it('fails a subtask at once on a Bedrock ValidationException', async () => {
    const first = await runJob(TASK);
    // A subtask nothing depends on, so no other subtask fails with it.
    const dependedOn = new Set(first.view.plan?.subtasks.flatMap((subtask) => subtask.dependsOn));
    const broken = first.view.plan?.subtasks.find((subtask) => !dependedOn.has(subtask.id))?.id ?? '';

    const { view } = await runJob(TASK, [
      { kind: 'bad_request', role: 'worker', match: `<assigned_subtask id="${broken}"` },
    ]);

    expect(view.status).toBe('PARTIAL');
    expect(view.subtasks.find((subtask) => subtask.id === broken)).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      error: { name: 'ModelRequestRejected', message: expect.stringContaining('ValidationException') },
    });
  });
});
