import { runSoak, type SoakReport } from '../../tools/soak/run-soak';
import { type BatchLaneSoakReport, runBatchLaneSoak } from '../../tools/soak/batch-lane-soak';

/**
 * A short fault soak through the whole local stack: a few jobs at one mixed fault level, with
 * workers forced to crash at their completing write often, so every kind of fault really happens.
 */
describe('the fault soak, short', () => {
  let report: SoakReport;
  beforeAll(async () => {
    report = await runSoak({
      jobs: 4,
      levels: [0.4],
      seed: 7,
      concurrency: 4,
      spikeMs: 200,
      crashRate: 0.5,
      // A hung model call then ends as ModelTimeout after 2 s (the call's deadline is 5 s before the function's).
      functionTimeoutSeconds: 7,
    });
  });

  it('holds every invariant under 429/529/500, hangs, malformed plans, spikes and crashes', () => {
    const [level] = report.levels;
    expect(level?.violations).toEqual([]);
    expect(level?.jobs.total).toBe(4);
    expect((level?.jobs.SUCCEEDED ?? 0) + (level?.jobs.PARTIAL ?? 0) + (level?.jobs.FAILED ?? 0)).toBe(4);
  });

  it('really injected the faults: retries happened and workers crashed at their completing write', () => {
    const level = report.levels[0];
    if (!level) throw new Error('no level in the report');
    expect(level.retries).toBeGreaterThan(0);
    expect(
      level.injected.rate_limit + level.injected.overloaded + level.injected.server_error,
    ).toBeGreaterThan(0);
    expect(level.injected.crashesBeforeWrite + level.injected.crashesAfterWrite).toBeGreaterThan(0);
    // Crashed before the write: answers produced but lost, and run again; never stored twice.
    expect(level.outputsProduced).toBe(level.outputsPersisted + level.injected.crashesBeforeWrite);
    expect(level.outputsPersisted).toBe(level.subtasks.succeeded);
    expect(level.duplicates).toBe(0);
  });
});

describe('the fault soak of the batch lane, short', () => {
  let report: BatchLaneSoakReport;
  beforeAll(async () => {
    report = await runBatchLaneSoak({ items: 6, seed: 3 });
  });

  it('holds every invariant under per-request faults and a deadline passing mid-batch', () => {
    expect(report.scenarios.map((scenario) => [scenario.name, scenario.violations])).toEqual([
      ['faults', []],
      ['deadline', []],
    ]);
  });

  it('really injected the faults, ran the first scenario in Message Batches only, and the deadline one on demand', () => {
    const [faults, deadline] = report.scenarios;
    expect(Object.keys(faults?.faults ?? {})).toEqual(expect.arrayContaining(['expired']));
    expect(faults?.modelCalls.onDemand).toBe(0);
    expect(faults?.messageBatches).toBeGreaterThan(2);
    expect(deadline?.modelCalls.inBatches).toBe(0);
    expect(deadline?.modelCalls.onDemand).toBeGreaterThan(0);
  });
});
