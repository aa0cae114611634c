import type { JobView } from '../../../../lambdas/shared/views/job-view';
import type { ExecutionEvent } from '../../../../local/runtime/stack';
import {
  PlainProgressRenderer,
  reportProgress,
  summaryLine,
  TtyProgressRenderer,
  usageTable,
} from '../../../../local/cli/progress';
import { ProgressModel, type SubtaskUsage } from '../../../../local/cli/progress-model';
import { planWith } from '../../../helpers/plans';

type EventType = 'StateEntered' | 'StateExited' | 'StateFailed' | 'StateRetried' | 'StateCaught';

function event(
  type: EventType,
  name: string,
  input: unknown,
  extra: Record<string, unknown> = {},
): ExecutionEvent {
  const { output, ...rest } = extra;
  return {
    type,
    timestamp: 0,
    state: { name, type: 'Task', input, ...(output === undefined ? {} : { output }) },
    ...rest,
  } as ExecutionEvent;
}
const subtask = (id: string) => ({ jobId: 'job-1', subtaskId: id });

const plan = planWith(['a', 'b', 'c']);
plan.subtasks[2]!.dependsOn = ['a', 'b'];
const WAVES = [['a', 'b'], ['c']];

/** A job whose subtask b is retried once after a 529 and whose subtask c is rejected. */
const JOB_EVENTS: ExecutionEvent[] = [
  event('StateEntered', 'Plan', {}),
  event('StateExited', 'Plan', {}, { output: { plan: { waves: WAVES } } }),
  event('StateEntered', 'RunSubtasks', { wave: 0 }),
  event('StateEntered', 'RunSubtask', subtask('a')),
  event('StateEntered', 'RunSubtask', subtask('b')),
  event('StateFailed', 'RunSubtask', subtask('b'), { Error: 'ModelOverloaded', Cause: '' }),
  event('StateRetried', 'RunSubtask', subtask('b'), { retry: { attempt: 1 } }),
  event('StateExited', 'RunSubtask', subtask('a'), { output: { attempts: 1 } }),
  event('StateExited', 'RunSubtask', subtask('b'), { output: { attempts: 2 } }),
  event('StateEntered', 'RunSubtasks', { wave: 1 }),
  event('StateEntered', 'RunSubtask', subtask('c')),
  event('StateFailed', 'RunSubtask', subtask('c'), { Error: 'ModelRequestRejected', Cause: '' }),
  event('StateCaught', 'RunSubtask', subtask('c'), { catch: {} }),
  event('StateEntered', 'Synthesize', {}),
];

const usage = (inputTokens: number, cacheReadTokens = 0): SubtaskUsage => ({
  inputTokens,
  outputTokens: 50,
  cacheReadTokens,
  cacheWriteTokens: 0,
  costUsd: 0.001,
});

async function* streamOf(events: ExecutionEvent[]): AsyncGenerator<ExecutionEvent> {
  yield* events;
}

/** A clock that moves 100 ms each time it is read. */
function steppingClock(): () => number {
  let now = 0;
  return () => (now += 100);
}

const source = {
  loadPlan: () =>
    Promise.resolve({ analysis: 'Why these three.', subtasks: plan.subtasks, synthesisGuidance: null }),
  loadSubtaskUsage: (id: string) => Promise.resolve(id === 'a' ? usage(300) : usage(40, 2_000)),
};

describe('the progress model', () => {
  it('shows a subtask waiting for model capacity once, however often the governor defers it, using no attempt', () => {
    const model = new ProgressModel(0);
    const deferred = (attempt: number) => [
      event('StateFailed', 'RunSubtask', subtask('a'), { Error: 'ModelCapacityExceeded', Cause: '' }),
      event('StateRetried', 'RunSubtask', subtask('a'), { retry: { attempt } }),
    ];
    const changes = [
      event('StateEntered', 'RunSubtask', subtask('a')),
      ...deferred(1),
      ...deferred(2),
      ...deferred(3),
    ].flatMap((each) => model.apply(each, 0));

    expect(changes.filter((change) => change.kind === 'waiting')).toEqual([{ kind: 'waiting', who: 'a' }]);
    expect(changes.filter((change) => change.kind === 'retrying')).toEqual([]);
    expect(model.state.subtasks[0]?.attempts).toBe(1);
  });

  it('follows each subtask from queued through running and retrying to succeeded or failed', () => {
    const statusAfter = (count: number) => {
      const fresh = new ProgressModel(0);
      fresh.setPlan({ analysis: '', subtasks: plan.subtasks, synthesisGuidance: null }, WAVES);
      JOB_EVENTS.slice(0, count).forEach((e, i) => fresh.apply(e, i * 1_000));
      return Object.fromEntries(fresh.state.subtasks.map((s) => [s.id, `${s.status}/${s.attempts}`]));
    };

    expect(statusAfter(3)).toEqual({ a: 'queued/0', b: 'queued/0', c: 'queued/0' });
    expect(statusAfter(5)).toEqual({ a: 'running/1', b: 'running/1', c: 'queued/0' });
    expect(statusAfter(6)).toEqual({ a: 'running/1', b: 'retrying/1', c: 'queued/0' });
    expect(statusAfter(7)).toEqual({ a: 'running/1', b: 'retrying/2', c: 'queued/0' });
    expect(statusAfter(9)).toEqual({ a: 'succeeded/1', b: 'succeeded/2', c: 'queued/0' });
    expect(statusAfter(JOB_EVENTS.length)).toEqual({ a: 'succeeded/1', b: 'succeeded/2', c: 'failed/1' });
  });

  it('times each subtask from its start to its end, and keeps the error it failed with', () => {
    const model = new ProgressModel(0);
    model.setPlan({ analysis: '', subtasks: plan.subtasks, synthesisGuidance: null }, WAVES);
    JOB_EVENTS.forEach((e, i) => model.apply(e, i * 1_000));

    const [a, b, c] = model.state.subtasks;
    expect(a).toMatchObject({ startedAt: 3_000, finishedAt: 7_000, wave: 0, error: null });
    expect(b).toMatchObject({ startedAt: 4_000, finishedAt: 8_000, wave: 0, error: null });
    expect(c).toMatchObject({ status: 'failed', error: 'ModelRequestRejected', wave: 1 });
    expect(model.state.phase).toBe('synthesizing');
  });
});

describe('plain progress (not a terminal)', () => {
  it('writes one line per change, with the tokens of each finished subtask', async () => {
    const lines: string[] = [];

    await reportProgress(
      streamOf(JOB_EVENTS),
      source,
      new PlainProgressRenderer((line) => lines.push(line)),
      steppingClock(),
    );

    expect(lines.map((line) => line.replace(/^\[\d+\.\ds\] ?/, ''))).toEqual([
      'Planning: the orchestrator model is choosing subtasks…',
      'Plan: 3 subtasks in 2 dependency waves',
      '         Why these three.',
      '         1. [research] a: Title of a [wave 1]',
      '         2. [research] b: Title of b [wave 1]',
      '         3. [research] c: Title of c (after a, b) [wave 2]',
      'Wave 1',
      '  → a started',
      '  → b started',
      '  ↻ b: retrying after ModelOverloaded (retry 1)',
      '  ✓ a done · 300 in / 50 out tokens',
      '  ✓ b done after 2 attempts · 40 in / 50 out (2,000 cache read) tokens',
      'Wave 2',
      '  → c started',
      '  ✗ c failed: ModelRequestRejected (the job goes on without it)',
      'Synthesizing the results…',
    ]);
    expect(lines[0]).toMatch(/^\[0\.\ds\] Planning/);
  });
});

describe('live progress on a terminal', () => {
  const ESC = '\u001b';
  const planView = { analysis: 'Why these three.', subtasks: plan.subtasks, synthesisGuidance: null };

  function terminal(columns: number) {
    const writes: string[] = [];
    let tick: (() => void) | undefined;
    let stopped = false;
    const renderer = new TtyProgressRenderer(
      { write: (text: string) => writes.push(text), columns },
      {
        now: () => 5_000,
        every: (_ms, callback) => {
          tick = callback;
          return () => {
            stopped = true;
          };
        },
      },
    );
    return { writes, renderer, tick: () => tick?.(), stopped: () => stopped };
  }

  it('draws at once, then redraws in place: cursor up over the last frame, clear, draw', () => {
    const { writes, renderer, tick } = terminal(100);
    const model = new ProgressModel(0);

    for (const change of model.apply(JOB_EVENTS[0]!, 100)) renderer.onChange(change, model.state, 100);
    const [planned] = model.setPlan(planView, WAVES);
    renderer.onChange(planned!, model.state, 200);
    for (const change of model.apply(JOB_EVENTS[3]!, 300)) renderer.onChange(change, model.state, 300);
    const writesBeforeTick = writes.length;
    tick();

    expect(writes[0]).toBe(`${ESC}[0JPlanning: the orchestrator model is choosing subtasks… · 0.1s\n`);
    // The plan scrolls above the block; the block (3 subtasks + the phase) is drawn under it.
    expect(writes[1]).toBe(
      `${ESC}[1A${ESC}[0JPlan: 3 subtasks in 2 dependency waves\n         Why these three.\n` +
        '  · a  queued                \n  · b  queued                \n  · c  queued                \n'.replace(
          / +\n/g,
          '\n',
        ) +
        'Planning: the orchestrator model is choosing subtasks… · 0.2s\n',
    );
    // A subtask starting is shown at the next tick, not at once.
    expect(writesBeforeTick).toBe(2);
    expect(writes[2]).toMatch(
      new RegExp(`^${ESC.replace('[', '\\[')}\\[4A${ESC}\\[0J  → a  running  +1 attempt +4\\.7s\\n`),
    );
  });

  it('cuts every line to the terminal width so that none wraps', async () => {
    const { writes, renderer } = terminal(30);

    await reportProgress(streamOf(JOB_EVENTS), source, renderer, steppingClock());

    const drawn = writes
      .join('')
      .replaceAll(new RegExp(`${ESC}\\[\\d*[AJ]`, 'g'), '')
      .split('\n');
    expect(drawn.length).toBeGreaterThan(5);
    for (const line of drawn) expect([...line].length).toBeLessThanOrEqual(29);
    expect(drawn).toContain('  ✓ b  succeeded  2 attempts…');
  });

  it('leaves the final state on screen, with tokens, and stops redrawing', async () => {
    const { writes, renderer, tick, stopped } = terminal(120);

    await reportProgress(streamOf(JOB_EVENTS), source, renderer, steppingClock());
    const final = writes.at(-1) ?? '';
    tick();

    expect(final).toMatch(/✓ a +succeeded +1 attempt +[\d.]+s +300 in \/ 50 out tokens\n/);
    expect(final).toMatch(
      /✓ b +succeeded +2 attempts +[\d.]+s +40 in \/ 50 out \(2,000 cache read\) tokens\n/,
    );
    expect(final).toMatch(/✗ c +failed +1 attempt +[\d.]+s +after ModelRequestRejected\n/);
    expect(final).toMatch(/\nFinished · [\d.]+s\n$/);
    expect(stopped()).toBe(true);
    expect(writes.at(-1)).toBe(final);
  });
});

describe('the closing summary', () => {
  const totals = (inputTokens: number, cacheReadTokens: number, costUsd: number) => ({
    inputTokens,
    outputTokens: 100,
    cacheReadTokens,
    cacheWriteTokens: 0,
    costUsd,
  });
  const view = {
    jobId: 'job-1',
    status: 'SUCCEEDED',
    consoleUrl: null,
    subtasks: [
      { id: 'a', status: 'SUCCEEDED', usage: { ...totals(300, 0, 0.002), model: 'claude-haiku-5-5' } },
      { id: 'b', status: 'SUCCEEDED', usage: { ...totals(40, 2_000, 0.001), model: 'claude-haiku-5-5' } },
    ],
    usage: {
      ...totals(1_340, 2_000, 0.0134),
      byRole: {
        plan: totals(400, 0, 0.004),
        workers: totals(340, 2_000, 0.003),
        synthesis: totals(600, 0, 0.0064),
      },
    },
  } as unknown as JobView;

  it('shows tokens by kind and the estimated cost for planning, each subtask, synthesis and the total', () => {
    const lines = usageTable(view, { simulated: false });

    expect(lines[0]).toMatch(
      /^Tokens and estimated cost \(USD, from the price table in lambdas\/shared\/domain\/pricing\.ts; an estimate/,
    );
    expect(lines[0]).not.toContain('simulated');
    expect(lines[1]).toMatch(/input +output +cache read +cache write +est\. cost$/);
    expect(lines.slice(2).map((line) => line.trim().split(/ +/))).toEqual([
      ['plan', '400', '100', '0', '0', '$0.0040'],
      ['subtask', 'a', '300', '100', '0', '0', '$0.0020'],
      ['subtask', 'b', '40', '100', '2,000', '0', '$0.0010'],
      ['synthesis', '600', '100', '0', '0', '$0.0064'],
      ['total', '1,340', '100', '2,000', '0', '$0.0134'],
    ]);
  });

  it("says the simulated model's tokens are simulated", () => {
    expect(usageTable(view, { simulated: true })[0]).toContain(
      'the simulated model’s tokens are simulated too',
    );
  });

  it('counts cache reads in the closing line', () => {
    expect(summaryLine(view, 6_700)).toBe(
      'SUCCEEDED in 6.7s · 2/2 subtasks succeeded · 1340 input (+2000 read from cache) / 100 output tokens · est. $0.0134 · job job-1',
    );
  });
});
