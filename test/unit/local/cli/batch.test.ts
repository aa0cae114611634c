import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { main } from '../../../../local/cli/batch';
import {
  batchSummaryTable,
  budgetLine,
  describeLaneEvent,
  followBatchProgress,
  renderProgressBar,
} from '../../../../local/cli/batch-progress';
import type { ExecutionEvent } from '../../../../local/runtime/stack';
import type { BatchRunView } from '../../../../lambdas/shared/views/batch-view';

let dir: string;
let stderr: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'batch-cli-'));
  stderr = '';
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run batch', () => {
  it('exits 2 naming the file and the field when the definition is invalid', async () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'broken-batch',
        schedule: { expression: 'rate(1 day)', timeZone: 'UTC' },
        items: [{ task: 'fine' }, { task: 'also fine', profile: 'turbo' }],
      }),
    );

    const code = await main([file]);

    expect(code).toBe(2);
    expect(stderr).toContain(`Invalid batch definition ${file}: items.1.profile: unknown profile`);
  });

  it('exits 2 naming --model-calls when it is neither lane', async () => {
    const code = await main(['batches/nightly-product-descriptions.json', '--model-calls', 'overnight']);

    expect(code).toBe(2);
    expect(stderr).toContain('--model-calls: must be on-demand or batch, not "overnight"');
  });

  it('exits 2 naming the field when the flags ask the batch lane for a budget', async () => {
    const code = await main(['batches/nightly-product-descriptions.json', '--max-cost-usd', '1']);

    expect(code).toBe(2);
    expect(stderr).toContain('error: budget: is not taken with modelCalls "batch"');
  });

  it('exits 2 naming --max-cost-usd when it is not a positive number', async () => {
    expect(
      await main([
        'batches/weekly-research-briefs.json',
        '--model-calls',
        'on-demand',
        '--max-cost-usd',
        'lots',
      ]),
    ).toBe(2);
    expect(stderr).toContain('--max-cost-usd: must be a number (got "lots")');
    expect(await main(['batches/weekly-research-briefs.json', '--max-cost-usd', '0'])).toBe(2);
    expect(stderr).toContain('--max-cost-usd: must be more than 0');
  });

  it('ends the summary with the run budget and what was committed against it', () => {
    expect(budgetLine({ maxCostUsd: 0.5, maxOutputTokens: null, committedUsd: 0.1234 })).toBe(
      'Run budget maxCostUsd $0.5000 · committed $0.1234',
    );
  });

  it('exits 2 when the file does not exist or is missing', async () => {
    expect(await main([path.join(dir, 'nope.json')])).toBe(2);
    expect(stderr).toMatch(/nope\.json: cannot be read \(ENOENT\)/);
    expect(await main([])).toBe(2);
    expect(stderr).toContain('missing the definition file');
  });
});

describe('batch lane progress', () => {
  const exited = (name: string, lane: object) =>
    ({ type: 'StateExited', state: { name, output: { runId: 'r', lane } } }) as unknown as ExecutionEvent;

  it('says when a phase submits a Message Batch, when it ends, and when the deadline passes', () => {
    expect(
      describeLaneEvent(exited('SubmitPlans', { next: 'await', batchId: 'msgbatch_1', requests: 5 })),
    ).toBe('Plans: Message Batch msgbatch_1 · 5 requests');
    expect(describeLaneEvent(exited('CheckWorkers', { next: 'submit', batchId: 'msgbatch_2' }))).toBe(
      'Workers: Message Batch msgbatch_2 ended; its workers are stored',
    );
    expect(describeLaneEvent(exited('SubmitSyntheses', { next: 'done' }))).toBe(
      'Syntheses: none left to submit',
    );
    expect(describeLaneEvent(exited('CheckPlans', { next: 'fallback' }))).toBe(
      'Plans: the deadline has passed; what is left runs on demand',
    );
  });

  it('stays quiet while a batch is still in progress, and for other states', () => {
    expect(describeLaneEvent(exited('CheckPlans', { next: 'await', batchId: 'msgbatch_1' }))).toBeUndefined();
    expect(describeLaneEvent(exited('StartBatchRun', {}))).toBeUndefined();
  });
});

describe('batch progress', () => {
  it('draws a bar over finished items with done, failed and running counts', () => {
    expect(renderProgressBar({ total: 10, done: 4, failed: 1, running: 3 }, 10)).toBe(
      '[█████░░░░░] 5/10 · 4 done · 1 failed · 3 running',
    );
  });

  it('counts an item running from its iteration start until its outcome is recorded', async () => {
    const parentState = { name: 'RunItems', type: 'Map' };
    const events = [
      { type: 'MapIterationStarted', index: 0, parentState },
      { type: 'MapIterationStarted', index: 1, parentState },
      { type: 'StateExited', index: 0, state: { name: 'RecordItemResult', output: { status: 'SUCCEEDED' } } },
      { type: 'StateExited', index: 1, state: { name: 'RecordItemFailure', output: { status: 'FAILED' } } },
    ] as unknown as ExecutionEvent[];
    async function* stream() {
      yield* events;
    }
    const updates: string[] = [];

    const final = await followBatchProgress(stream(), 2, (progress) =>
      updates.push(renderProgressBar(progress, 4)),
    );

    expect(final).toEqual({ total: 2, done: 1, failed: 1, running: 0 });
    expect(updates).toEqual([
      '[░░░░] 0/2 · 0 done · 0 failed · 1 running',
      '[░░░░] 0/2 · 0 done · 0 failed · 2 running',
      '[██░░] 1/2 · 1 done · 0 failed · 1 running',
      '[████] 2/2 · 1 done · 1 failed · 0 running',
    ]);
  });

  it('ends with a table of items and the counts by status', () => {
    const view: BatchRunView = {
      runId: 'demo-202611280200-abc123',
      batchName: 'demo',
      status: 'COMPLETED',
      trigger: 'cli',
      budget: null,
      modelCalls: 'batch',
      awaitingApproval: 0,
      itemCount: 2,
      counts: { SUCCEEDED: 1, FAILED: 1 },
      usage: {
        inputTokens: 1_000,
        outputTokens: 500,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        costUsd: 0.006,
        onDemandCostUsd: 0.012,
      },
      items: [
        {
          index: 0,
          jobId: 'demo-202611280200-abc123-001',
          task: 'Describe a kettle',
          status: 'SUCCEEDED',
          error: null,
          usage: null,
        },
        {
          index: 1,
          jobId: 'demo-202611280200-abc123-002',
          task: 'Describe a toaster',
          status: 'FAILED',
          error: { name: 'ModelRequestRejected', message: 'bad request' },
          usage: null,
        },
      ],
      error: null,
      executionArn: null,
      createdAt: '2026-11-28T02:00:00.000Z',
      updatedAt: '2026-11-28T02:01:00.000Z',
    };

    const table = batchSummaryTable(view, 4_200).split('\n');

    expect(table[2]).toMatch(/^1 +SUCCEEDED +demo-202611280200-abc123-001 +Describe a kettle$/);
    expect(table[3]).toMatch(/^2 +FAILED +demo-202611280200-abc123-002 +ModelRequestRejected: bad request$/);
    expect(table.at(-2)).toBe(
      'Model calls batch · cost $0.0060 at the batch rate · on demand $0.0120 · saved $0.0060 (50 %)',
    );
    expect(table.at(-1)).toBe(
      'Batch demo run demo-202611280200-abc123: COMPLETED in 4.2s · 2 items · 1 FAILED · 1 SUCCEEDED',
    );
  });
});
