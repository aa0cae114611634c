import type { JobView } from '../../lambdas/shared/views/job-view';
import { type ExecutionEvent, LocalOrchestrator } from '../../local/runtime/stack';
import type { FaultRule } from '../../local/simulated-model';

/** Each profile end to end through the local runtime and the simulated model. */
let orchestrator: LocalOrchestrator;
const FAST_RETRIES = { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 };

beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
  });
});
afterAll(() => orchestrator.close());
beforeEach(() => orchestrator.simulatedModel?.setFaults([]));

async function run(
  request: Record<string, unknown>,
  faults: FaultRule[] = [],
): Promise<{ view: JobView; events: ExecutionEvent[] }> {
  orchestrator.simulatedModel?.setFaults(faults);
  const started = await orchestrator.startJob(request);
  const events: ExecutionEvent[] = [];
  for await (const event of started.events) events.push(event);
  const view = await orchestrator.getJobView(started.jobId);
  if (!view) throw new Error('job view missing');
  return { view, events };
}

const outputOf = (view: JobView, id: string) =>
  view.subtasks.find((subtask) => subtask.id === id)?.output ?? '';
const titleOf = (view: JobView, id: string) =>
  view.plan?.subtasks.find((subtask) => subtask.id === id)?.title ?? '';

/** When each subtask's RunSubtask state was entered and exited, from the execution's events. */
function timeline(events: ExecutionEvent[]): Map<string, { entered: number; exited: number }> {
  const times = new Map<string, { entered: number; exited: number }>();
  for (const event of events) {
    if ((event.type !== 'StateEntered' && event.type !== 'StateExited') || event.state.name !== 'RunSubtask')
      continue;
    const id = String((event.state.input as { subtaskId: string }).subtaskId);
    const entry = times.get(id) ?? { entered: Infinity, exited: -Infinity };
    if (event.type === 'StateEntered') entry.entered = Math.min(entry.entered, event.timestamp);
    else entry.exited = Math.max(entry.exited, event.timestamp);
    times.set(id, entry);
  }
  return times;
}

describe('marketing profile', () => {
  it('returns 2–3 variations, each kept and labelled by approach, with a comparison', async () => {
    const { view } = await run({
      task: 'Write a product description for a new eco-friendly water bottle',
      profile: 'marketing',
      context: { targetAudience: 'hikers', keyFeatures: ['insulated', '1 L'] },
    });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.plan?.subtasks.length).toBeGreaterThanOrEqual(2);
    expect(view.plan?.subtasks.length).toBeLessThanOrEqual(3);
    for (const subtask of view.plan?.subtasks ?? []) {
      expect(subtask.type).toBe('variation');
      expect(subtask.dependsOn).toEqual([]);
      expect(view.synthesis).toContain(`## ${subtask.title}\n\n${outputOf(view, subtask.id).trim()}`);
    }
    expect(view.synthesis).toContain('## Comparison and recommendation');
  });
});

describe('research profile (the default)', () => {
  it('types its subtasks research, analysis or comparison, and the synthesis follows the planner guidance', async () => {
    const { view } = await run({
      task: 'What are the trade-offs between heat pumps and gas boilers for older houses?',
    });

    expect(view.profile).toBe('research');
    expect(view.status).toBe('SUCCEEDED');
    expect(view.plan?.subtasks.length).toBeGreaterThanOrEqual(3);
    expect(view.plan?.subtasks.length).toBeLessThanOrEqual(6);
    expect(
      view.plan?.subtasks.every((subtask) => ['research', 'analysis', 'comparison'].includes(subtask.type)),
    ).toBe(true);
    expect(view.plan?.synthesisGuidance).toEqual(expect.any(String));
    expect(view.synthesis).toContain(
      `Structured as the planner advised: ${view.plan?.synthesisGuidance ?? 'missing'}`,
    );
  });

  it('fails a subtask whose dependency failed, without running it, and ends PARTIAL', async () => {
    const { view } = await run({ task: 'Research the history of tea' }, [
      { kind: 'bad_request', role: 'worker', match: '<assigned_subtask id="background"' },
    ]);

    expect(view.status).toBe('PARTIAL');
    const dependents =
      view.plan?.subtasks.filter((subtask) => subtask.dependsOn.includes('background')) ?? [];
    expect(dependents.length).toBeGreaterThan(0);
    for (const dependent of dependents) {
      const stored = view.subtasks.find((subtask) => subtask.id === dependent.id);
      expect(stored).toMatchObject({
        status: 'FAILED',
        attempts: 0,
        error: { name: 'DependencyFailed', message: expect.stringContaining('"background"') },
      });
    }
    const independent = view.subtasks.filter(
      (subtask) => subtask.id !== 'background' && !dependents.some((d) => d.id === subtask.id),
    );
    expect(independent.length).toBeGreaterThan(0);
    expect(independent.every((subtask) => subtask.status === 'SUCCEEDED')).toBe(true);
  });

  it('sends a plan with a dependency cycle back for repair', async () => {
    const { view } = await run({ task: 'Research the history of tea' }, [
      { kind: 'malformed_plan', variant: 'cycle', times: 1 },
    ]);

    expect(view.status).toBe('SUCCEEDED');
    expect((await orchestrator.repository.getJob(view.jobId))?.planAttempts).toBe(2);
  });
});

describe('project profile', () => {
  const task = 'Build a mobile app for booking yoga classes';

  it('assigns roles and priorities and runs its waves in order, passing dependency outputs on', async () => {
    const { view, events } = await run({ task, profile: 'project' });

    expect(view.status).toBe('SUCCEEDED');
    const plan = view.plan?.subtasks ?? [];
    expect(
      plan.every((subtask) => ['researcher', 'architect', 'developer', 'reviewer'].includes(subtask.type)),
    ).toBe(true);
    expect(plan.every((subtask) => subtask.priority >= 1 && subtask.priority <= 5)).toBe(true);
    expect(Math.max(...view.subtasks.map((subtask) => subtask.wave))).toBeGreaterThanOrEqual(2);
    const times = timeline(events);
    for (const subtask of plan) {
      for (const dependency of subtask.dependsOn) {
        // A dependent subtask starts only after everything it depends on has finished...
        expect(times.get(subtask.id)?.entered).toBeGreaterThanOrEqual(
          times.get(dependency)?.exited ?? Infinity,
        );
        // ...and its worker was given their outputs (the simulated worker names what it builds on).
        expect(outputOf(view, subtask.id)).toContain(`"${titleOf(view, dependency)}"`);
      }
    }
    const waveStarts = events.filter(
      (event) => event.type === 'StateEntered' && event.state.name === 'RunSubtasks',
    );
    expect(
      waveStarts.map((event) =>
        event.type === 'StateEntered' ? (event.state.input as { wave: number }).wave : -1,
      ),
    ).toEqual([...new Set(view.subtasks.map((subtask) => subtask.wave))].sort());
  });

  it('ends PARTIAL when a developer task fails: the review that depends on it fails fast, the rest is kept', async () => {
    const { view } = await run({ task, profile: 'project' }, [
      { kind: 'bad_request', role: 'worker', match: '<assigned_subtask id="integration-implementation"' },
    ]);

    expect(view.status).toBe('PARTIAL');
    expect(view.subtasks.find((subtask) => subtask.id === 'integration-implementation')?.error?.name).toBe(
      'ModelRequestRejected',
    );
    expect(view.subtasks.find((subtask) => subtask.id === 'quality-review')).toMatchObject({
      status: 'FAILED',
      error: { name: 'DependencyFailed' },
    });
    expect(
      view.subtasks.filter((subtask) => subtask.status === 'SUCCEEDED').map((subtask) => subtask.id),
    ).toEqual(
      expect.arrayContaining(['requirements-research', 'architecture-design', 'core-implementation']),
    );
  });
});

describe('custom profile', () => {
  it('renders the caller templates with the task, context and subtask variables', async () => {
    const { view } = await run({
      task: 'Explain how tides work',
      profile: 'custom',
      context: { audience: 'ten-year-olds' },
      templates: {
        orchestrator: 'Plan an explainer on {{task}} for {{context.audience}}.',
        worker: 'Write the part "{{subtask.title}}" for {{context.audience}}: {{subtask.description}}',
        synthesis: 'Merge everything into one explainer for {{context.audience}}.',
      },
    });

    expect(view.status).toBe('SUCCEEDED');
    const first = view.plan?.subtasks[0];
    expect(outputOf(view, first?.id ?? '')).toContain(
      `Instructions followed: Write the part "${first?.title ?? ''}" for ten-year-olds: ${first?.description.slice(0, 40) ?? ''}`,
    );
  });

  it('rejects templates with unknown or missing variables before anything runs', async () => {
    const before = orchestrator.simulatedModel?.stats().total ?? 0;

    const attempt = orchestrator.startJob({
      task: 'Explain tides',
      profile: 'custom',
      templates: { orchestrator: 'Plan {{task}} for {{context.audience}}', worker: 'Do {{subtask.summary}}' },
    });

    await expect(attempt).rejects.toThrow(/context\.audience/);
    await expect(attempt).rejects.toThrow(/\{\{subtask\.summary\}\}/);
    expect(orchestrator.simulatedModel?.stats().total ?? 0).toBe(before);
  });
});
