import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadBatchDefinitions, InvalidBatchDefinition } from '../../../lib/batch-definitions';
import { checkBatchLanes } from '../../../lib/orchestrator-stack';
import {
  BatchDefinitionSchema,
  batchExecutionInput,
  batchJobId,
  resolveBatchItems,
} from '../../../lambdas/shared/domain/batch-schemas';
import { JobIdSchema } from '../../../lambdas/shared/domain/schemas';

const valid = {
  name: 'weekly-briefs',
  schedule: { expression: 'cron(30 7 ? * MON *)', timeZone: 'America/New_York' },
  defaults: { profile: 'research', context: { audience: 'executives' } },
  items: [{ task: 'Research tidal power' }, { task: 'Research geothermal', context: { region: 'Iceland' } }],
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'batches-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, content: unknown) =>
  writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));

/** The error loading `dir` throws, as text. */
function loadError(): string {
  try {
    loadBatchDefinitions(dir);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidBatchDefinition);
    return (error as Error).message;
  }
  throw new Error('expected the definitions to be rejected');
}

describe('batch definitions', () => {
  it('load the examples in batches/ (one for product descriptions, one for research questions)', () => {
    const names = loadBatchDefinitions().map((definition) => definition.name);

    expect(names).toEqual(['nightly-product-descriptions', 'weekly-research-briefs']);
  });

  it('apply the defaults to each item, an item’s own context winning', () => {
    write('briefs.json', valid);

    const [definition] = loadBatchDefinitions(dir);

    expect(definition?.maxConcurrency).toBe(5);
    expect(definition?.schedule.flexibleWindowMinutes).toBe(15);
    expect(resolveBatchItems(definition ?? valid)).toEqual([
      { task: 'Research tidal power', context: { audience: 'executives' }, profile: 'research' },
      {
        task: 'Research geothermal',
        context: { audience: 'executives', region: 'Iceland' },
        profile: 'research',
      },
    ]);
  });

  it.each([
    ['an empty task', { items: [{ task: 'ok' }, { task: ' ' }] }, 'items.1.task: must not be empty'],
    ['an unknown profile', { defaults: { profile: 'turbo' } }, 'items.0.profile: unknown profile'],
    [
      'a bad cron expression',
      { schedule: { expression: 'cron(0 2 * *)', timeZone: 'UTC' } },
      'schedule.expression: must be cron(',
    ],
    [
      'an unknown time zone',
      { schedule: { expression: 'rate(1 day)', timeZone: 'Mars/Olympus' } },
      'schedule.timeZone: must be an IANA time zone',
    ],
    ['no items', { items: [] }, 'items: must list at least one item'],
    ['a concurrency over the limit', { maxConcurrency: 500 }, 'maxConcurrency:'],
    ['an unknown field', { retries: 3 }, '(root): Unrecognized key: "retries"'],
    ['a bad name', { name: 'Weekly Briefs' }, 'name: must be 3–40 characters'],
  ])('are rejected with the file and field named for %s', (_, change, expected) => {
    write('briefs.json', { ...valid, ...change });

    const message = loadError();

    expect(message).toContain(`${path.join(path.relative(process.cwd(), dir), 'briefs.json')}:`);
    expect(message).toContain(expected);
  });

  it('are rejected when a file is not JSON', () => {
    write('broken.json', '{ "name": ');

    expect(loadError()).toMatch(/broken\.json: not valid JSON/);
  });

  it('are rejected when two files use the same name', () => {
    write('a.json', valid);
    write('b.json', valid);

    expect(loadError()).toMatch(/b\.json: name: "weekly-briefs" is already used by .*a\.json/);
  });
});

describe('how a batch makes its model calls', () => {
  const base = {
    name: 'lane-test',
    schedule: { expression: 'rate(1 day)', timeZone: 'UTC' },
    items: [{ task: 'Describe a kettle' }],
  };

  it('defaults to on demand with a 12-hour batch deadline', () => {
    const definition = BatchDefinitionSchema.parse(base);

    expect(definition).toMatchObject({ modelCalls: 'on-demand', batchDeadlineMinutes: 720 });
  });

  it('refuses a lane that does not exist, naming the field', () => {
    const result = BatchDefinitionSchema.safeParse({ ...base, modelCalls: 'overnight' });

    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['modelCalls']);
  });

  it('ships the nightly example in the batch lane', () => {
    const nightly = loadBatchDefinitions().find((item) => item.name === 'nightly-product-descriptions');

    expect(nightly?.modelCalls).toBe('batch');
  });

  it('fail synth with provider bedrock, naming the setting and why', () => {
    const lane = BatchDefinitionSchema.parse({ ...base, modelCalls: 'batch' });

    expect(() => checkBatchLanes([lane], 'bedrock')).toThrow(
      /Invalid batch definition lane-test: modelCalls: "batch" needs provider "anthropic" \(the Message Batches API\)/,
    );
    expect(() => checkBatchLanes([lane], 'anthropic')).not.toThrow();
  });
});

describe('approval and budgets in a batch definition', () => {
  const base = {
    name: 'budget-test',
    schedule: { expression: 'rate(1 day)', timeZone: 'UTC' },
    items: [
      { task: 'Describe a kettle' },
      { task: 'Describe a mug', approval: 'none', budget: { maxCostUsd: 0.1 } },
    ],
  };

  it('give each item its own approval and budget, falling back to the defaults', () => {
    const definition = BatchDefinitionSchema.parse({
      ...base,
      defaults: { approval: 'required', budget: { maxCostUsd: 0.5 } },
      budget: { maxCostUsd: 2 },
    });

    expect(resolveBatchItems(definition)).toMatchObject([
      { task: 'Describe a kettle', approval: 'required', budget: { maxCostUsd: 0.5 } },
      { task: 'Describe a mug', approval: 'none', budget: { maxCostUsd: 0.1 } },
    ]);
    expect(batchExecutionInput(definition, 'schedule')).toMatchObject({ budget: { maxCostUsd: 2 } });
  });

  it('are refused in the batch lane, naming each field and why', () => {
    const result = BatchDefinitionSchema.safeParse({
      ...base,
      modelCalls: 'batch',
      defaults: { approval: 'required' },
      budget: { maxCostUsd: 2 },
    });

    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual([
      'budget',
      'items.0.approval',
      'items.1.budget',
    ]);
    expect(result.error?.issues[0]?.message).toMatch(/paid for as a whole once submitted/);
  });
});

describe('batch job ids', () => {
  it('are valid execution names, deterministic per run and item', () => {
    const runId = 'nightly-product-descriptions-202611280200-a1b2c3';

    expect(batchJobId(runId, 0)).toBe(`${runId}-001`);
    expect(batchJobId(runId, 0)).toBe(batchJobId(runId, 0));
    expect(JobIdSchema.safeParse(batchJobId(runId, 199)).success).toBe(true);
  });
});
