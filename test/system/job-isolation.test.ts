import { LocalOrchestrator } from '../../local/runtime/stack';

/**
 * Jobs running side by side share functions, containers and the table; the model must still see
 * only the job it works for. Each job carries a unique marker in its task and context, and every
 * request the model receives must carry exactly one job's markers.
 */
let orchestrator: LocalOrchestrator;
beforeAll(async () => {
  orchestrator = await LocalOrchestrator.start({
    model: { kind: 'simulated', options: { recordPrompts: true } },
  });
});
afterAll(() => orchestrator.close());

describe('job isolation', () => {
  it('never shows the model another job’s task, context or outputs', async () => {
    // Arrange
    const markers = ['alpha', 'bravo', 'charlie'].map((name) => ({
      task: `Research the history of lighthouses (case ${name}-task-marker)`,
      secret: `${name}-context-marker`,
      name,
    }));

    // Act: three jobs at once, so their workers interleave in the same warm handlers.
    const started = await Promise.all(
      markers.map((marker) =>
        orchestrator.startJob({ task: marker.task, context: { note: marker.secret }, profile: 'research' }),
      ),
    );
    const views = await Promise.all(
      started.map(async (job) => {
        await job.finished;
        return orchestrator.getJobView(job.jobId);
      }),
    );

    // Assert
    expect(views.map((view) => view?.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const prompts = (orchestrator.simulatedModel?.requests ?? []).map((request) => request.prompt ?? '');
    expect(prompts.length).toBeGreaterThan(0);
    for (const prompt of prompts) {
      const seen = markers.filter((marker) => prompt.includes(`${marker.name}-`));
      expect(seen.map((marker) => marker.name)).toHaveLength(1);
      expect(prompt).toContain(seen[0]?.secret);
    }
    // Every call of each job is accounted for: plan, one per subtask, synthesis.
    for (const [index, marker] of markers.entries()) {
      const calls = prompts.filter((prompt) => prompt.includes(marker.secret)).length;
      expect(calls).toBe(2 + (views[index]?.subtasks.length ?? 0));
    }
  });
});
