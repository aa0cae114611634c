import { AWS_PRICES } from '../../../../tools/bench/aws-prices';
import { parseBenchArgs } from '../../../../tools/bench/bench-args';
import {
  cloudCost,
  criticalPathMs,
  median,
  modelTimeline,
  type ModelCall,
  type StateEvent,
  stateTransitions,
  taskTime,
  timeOutsideTasksMs,
  waveMakespanMs,
  idealLimitedWallMs,
  modelSpanMs,
} from '../../../../tools/bench/measurements';

const task = (type: string, name: string, timestamp: number): StateEvent => ({
  type,
  timestamp,
  state: { name, type: 'Task' },
});
const state = (type: string, name: string, stateType: string, timestamp: number): StateEvent => ({
  type,
  timestamp,
  state: { name, type: stateType },
});

/** Plan 0–100, a Map 110–320 with two workers (115–300, 120–310), Synthesize 330–400, Done 405. */
const ONE_WAVE_HISTORY: StateEvent[] = [
  { type: 'ExecutionStarted', timestamp: 0 },
  task('StateEntered', 'Plan', 0),
  task('StateExited', 'Plan', 100),
  state('StateEntered', 'RunSubtasks', 'Map', 110),
  task('StateEntered', 'RunSubtask', 115),
  task('StateEntered', 'RunSubtask', 120),
  task('StateExited', 'RunSubtask', 300),
  task('StateExited', 'RunSubtask', 310),
  state('StateExited', 'RunSubtasks', 'Map', 320),
  task('StateEntered', 'Synthesize', 330),
  task('StateExited', 'Synthesize', 400),
  state('StateEntered', 'Done', 'Succeed', 405),
  state('StateExited', 'Done', 'Succeed', 405),
  { type: 'ExecutionSucceeded', timestamp: 405 },
];

describe('critical path', () => {
  it('is the slowest call of a wave when every call runs at once', () => {
    expect(waveMakespanMs([800, 950, 820], 10)).toBe(950);
  });

  it('queues calls beyond MaxConcurrency into the first slot that frees', () => {
    // Slots: [800, 900] → the third starts at 800 and ends at 1,500; the fourth starts at 900.
    expect(waveMakespanMs([800, 900, 700, 650], 2)).toBe(1_550);
    expect(waveMakespanMs([100, 100, 100], 1)).toBe(300);
  });

  it('adds planning, each wave one after another, and synthesis', () => {
    const timeline = { planMs: [400, 420], waveWorkerMs: [[800, 900], [850]], synthesisMs: [410] };
    expect(criticalPathMs(timeline, 10)).toBe(400 + 420 + 900 + 850 + 410);
  });

  it('assigns worker calls to waves in arrival order and times them from the model log', () => {
    const call = (role: ModelCall['role'], receivedAtMs: number, answeredAtMs: number): ModelCall => ({
      role,
      receivedAtMs,
      answeredAtMs,
    });
    const calls = [
      call('plan', 0, 400),
      call('worker', 520, 1_300),
      call('worker', 500, 1_350),
      call('worker', 1_400, 2_250),
      call('synthesis', 2_300, 2_700),
    ];

    const timeline = modelTimeline(calls, [2, 1]);

    expect(timeline).toEqual({ planMs: [400], waveWorkerMs: [[850, 780], [850]], synthesisMs: [400] });
  });

  it('refuses a log whose worker calls do not match the plan (a retry, or another job)', () => {
    const calls: ModelCall[] = [{ role: 'worker', receivedAtMs: 0, answeredAtMs: 10 }];
    expect(() => modelTimeline(calls, [2])).toThrow('Expected 2 worker calls (one per subtask), found 1');
  });
});

describe('execution history', () => {
  it('counts a transition per state entered and per retry', () => {
    const retried = [...ONE_WAVE_HISTORY, task('StateRetried', 'RunSubtask', 500)];
    expect(stateTransitions(ONE_WAVE_HISTORY)).toBe(6);
    expect(stateTransitions(retried)).toBe(7);
  });

  it('sums the time each Task state ran, concurrent runs included', () => {
    expect(Object.fromEntries(taskTime(ONE_WAVE_HISTORY))).toEqual({
      Plan: { invocations: 1, totalMs: 100 },
      RunSubtask: { invocations: 2, totalMs: 185 + 190 },
      Synthesize: { invocations: 1, totalMs: 70 },
    });
  });

  it('measures the time when no Task was running', () => {
    // 100–115, 310–330 and 400–405 have no Task running.
    expect(timeOutsideTasksMs(ONE_WAVE_HISTORY)).toBe(15 + 20 + 5);
  });
});

describe('cloud cost', () => {
  it('bills transitions, GB-seconds and requests at the given prices', () => {
    const cost = cloudCost(
      1_000,
      [
        { memoryMb: 512, invocations: 10, totalMs: 8_000 },
        { memoryMb: 1_024, invocations: 2, totalMs: 999.2 },
      ],
      AWS_PRICES,
    );

    expect(cost.lambdaGbSeconds).toBeCloseTo(0.5 * 8 + 1 * 1, 10);
    expect(cost.stepFunctionsUsd).toBeCloseTo(0.025, 10);
    expect(cost.lambdaUsd).toBeCloseTo(5 * 0.0000133334 + 12 * 0.0000002, 12);
    expect(cost.totalUsd).toBeCloseTo(cost.stepFunctionsUsd + cost.lambdaUsd, 12);
    expect(cost.lambdaInvocations).toBe(12);
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([300, 100, 200])).toBe(200);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('bench options', () => {
  it('reads the subtask counts and defaults', () => {
    expect(parseBenchArgs(['--n', '2, 8', '--jobs', '5'])).toMatchObject({
      subtaskCounts: [2, 8],
      jobs: 5,
      repeat: 3,
      out: 'bench-results/bench-results.json',
      bundles: true,
    });
  });

  it('names the option that is out of range', () => {
    expect(() => parseBenchArgs(['--n', '1,500'])).toThrow(/^--n: /);
    expect(() => parseBenchArgs(['--jobs', '0'])).toThrow(/^--jobs: /);
  });
});

describe('the ideal wall time under an in-flight limit', () => {
  it("is each phase's answered busy time divided by the limit, phases in series; unanswered calls count nothing", () => {
    const call = (role: 'plan' | 'worker' | 'synthesis', ms: number | null) => ({
      role,
      receivedAtMs: 1_000,
      answeredAtMs: ms === null ? null : 1_000 + ms,
    });
    const calls = [
      call('plan', 400),
      call('plan', 400),
      ...Array(8).fill(call('worker', 800)),
      call('synthesis', 400),
      call('worker', null),
    ];

    expect(idealLimitedWallMs(calls, 4)).toBe((800 + 6_400 + 400) / 4);
  });
});

describe('modelSpanMs', () => {
  it('runs from the first arrival to the last answer, a call never answered counting at its arrival', () => {
    const calls = [
      { role: 'plan' as const, receivedAtMs: 1_000, answeredAtMs: 1_400 },
      { role: 'worker' as const, receivedAtMs: 1_500, answeredAtMs: 2_300 },
      { role: 'worker' as const, receivedAtMs: 2_600, answeredAtMs: null },
    ];

    expect(modelSpanMs(calls)).toBe(1_600);
    expect(modelSpanMs([])).toBe(0);
  });
});
