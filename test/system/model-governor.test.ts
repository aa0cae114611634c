import { LocalOrchestrator } from '../../local/runtime/stack';
import { exactSubtaskPlan } from '../../tools/bench/exact-subtask-plan';

/** The provider's limit: the simulated model answers 429 to any request beyond this many in flight. */
const N = 4;
const JOBS = 8;
const WORKERS = 6;

/**
 * Many jobs against a provider limit, through the whole local stack: the governor (on the local
 * DynamoDB) keeps every execution's calls within `maxInFlight`, and the deferred calls wait in Step
 * Functions' retries (their waits scaled down, as the model answers in milliseconds).
 */
describe('the shared model-call governor', () => {
  let orchestrator: LocalOrchestrator;
  let views: Awaited<ReturnType<LocalOrchestrator['getJobView']>>[];

  beforeAll(async () => {
    orchestrator = await LocalOrchestrator.start({
      model: {
        kind: 'simulated',
        options: { latencyMs: { plan: 60, worker: 200, synthesis: 60 }, limits: { maxInFlight: N } },
      },
      config: {
        modelLimits: { 'claude-haiku-5-5': { maxInFlight: N }, 'claude-sonnet-5-5': { maxInFlight: N } },
      },
      retryTimeScale: 0.05,
      ...exactSubtaskPlan(WORKERS),
    });
    const executions = await Promise.all(
      Array.from({ length: JOBS }, (_, index) =>
        orchestrator.startJob({
          task: `Write a product description for water bottle model ${index + 1}`,
          profile: 'marketing',
        }),
      ),
    );
    await Promise.all(executions.map((execution) => execution.finished));
    views = await Promise.all(executions.map((execution) => orchestrator.getJobView(execution.jobId)));
  }, 120_000);

  afterAll(async () => {
    await orchestrator?.close();
  });

  it(`runs ${JOBS} concurrent jobs of ${WORKERS} workers each to SUCCEEDED`, () => {
    expect(views.map((view) => view?.status)).toEqual(Array(JOBS).fill('SUCCEEDED'));
    expect(views.map((view) => view?.subtasks.length)).toEqual(Array(JOBS).fill(WORKERS));
  });

  it('counts only model tries as attempts, not the deferrals', () => {
    const attempts = views.flatMap((view) => view?.subtasks.map((subtask) => subtask.attempts) ?? []);
    expect(attempts).toEqual(Array(JOBS * WORKERS).fill(1));
  });

  it(`never lets the model see more than ${N} requests of one model at once`, () => {
    const peaks = orchestrator.simulatedModel?.stats().peakInFlight ?? {};
    expect(Object.keys(peaks).sort()).toEqual(['claude-haiku-5-5', 'claude-sonnet-5-5']);
    for (const peak of Object.values(peaks)) expect(peak).toBeLessThanOrEqual(N);
  });

  it('has fewer than 5 % of the calls answered 429', () => {
    const stats = orchestrator.simulatedModel?.stats();
    expect(stats?.total).toBeGreaterThanOrEqual(JOBS * (WORKERS + 2));
    expect((stats?.rateLimited ?? 0) / (stats?.total ?? 1)).toBeLessThan(0.05);
  });

  it('made the calls beyond the limit wait in Step Functions, as ModelCapacityExceeded retries', async () => {
    const history = await Promise.all(
      views.map((view) => orchestrator.stepFunctions.waitForExecution(view?.executionArn ?? '')),
    );
    const deferred = history
      .flatMap((record) => record.events)
      .filter((event) => event.type === 'StateFailed' && event.Error === 'ModelCapacityExceeded');
    expect(deferred.length).toBeGreaterThan(0);
  });
});
