import '../runtime/polyfills';
import { parseArgs } from 'node:util';
import type { OrchestratorConfig } from '../../lib/config';
import { InvalidBatchDefinition, loadBatchDefinitionFile } from '../../lib/batch-definitions';
import {
  batchExecutionInput,
  batchLaneConflicts,
  ModelCallsSchema,
  resolveBatchItems,
} from '../../lambdas/shared/domain/batch-schemas';
import {
  batchSummaryTable,
  describeLaneEvent,
  followBatchProgress,
  renderProgressBar,
} from './batch-progress';
import type { ExecutionEvent } from '../runtime/stack';
import { describeModel, modelModeFromEnv } from './model-mode';
import type { ModelMode } from '../runtime/stack';
import { loadLocalConfig, startLocalStackForCli } from './config';
import { runMain } from './run-main';
import { type Budget, RunBudgetSchema } from '../../lambdas/shared/domain/budget';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const BATCH_USAGE = `Usage: npm run batch -- batches/<file>.json [--model-calls on-demand|batch]
                      [--max-cost-usd USD] [--max-output-tokens N] [--json]

Runs a batch definition's items through the local batch state machine (one orchestrator execution per
item, at the definition's maxConcurrency; or, with modelCalls "batch", phase by phase across all items
through Message Batches), shows progress, then a summary table with the cost and, in the batch lane,
what the same calls cost on demand.
  --model-calls LANE  on-demand or batch: overrides the definition's modelCalls
  --max-cost-usd USD  the run's budget, shared by its jobs: no model call starts that could take the
                      whole run over USD (overrides the definition's budget; on demand only)
  --max-output-tokens N  the run's budget of output tokens
  --json       print the batch run view as JSON on stdout
  -h, --help   show this help

Exit code: 0 when every item SUCCEEDED or ended PARTIAL, 1 when an item or the run FAILED, 2 for bad usage
or an invalid definition file.`;

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        'model-calls': { type: 'string' },
        'max-cost-usd': { type: 'string' },
        'max-output-tokens': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    log(`error: ${error instanceof Error ? error.message : String(error)}\n\n${BATCH_USAGE}`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    process.stdout.write(`${BATCH_USAGE}\n`);
    return EXIT.ok;
  }
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) {
    log(`error: ${file ? 'expected one definition file' : 'missing the definition file'}\n\n${BATCH_USAGE}`);
    return EXIT.usage;
  }
  const lane = parsed.values['model-calls'];
  const modelCalls = lane === undefined ? undefined : ModelCallsSchema.safeParse(lane);
  if (modelCalls && !modelCalls.success) {
    log(`error: --model-calls: must be on-demand or batch, not "${lane}"\n\n${BATCH_USAGE}`);
    return EXIT.usage;
  }
  const budget = runBudgetFromFlags(parsed.values);
  if (!budget.success) {
    log(`error: ${budget.error}\n\n${BATCH_USAGE}`);
    return EXIT.usage;
  }
  let definition;
  try {
    definition = loadBatchDefinitionFile(file);
    if (modelCalls?.data) definition = { ...definition, modelCalls: modelCalls.data };
    if (budget.data) definition = { ...definition, budget: budget.data };
  } catch (error) {
    if (!(error instanceof InvalidBatchDefinition)) throw error;
    log(`error: ${error.message}`);
    return EXIT.usage;
  }
  // The flags may ask the lane for what it cannot honour: say so as the definition's own check would.
  const conflicts = batchLaneConflicts({ ...definition, items: resolveBatchItems(definition) });
  if (conflicts.length > 0) {
    for (const conflict of conflicts) log(`error: ${conflict.path.join('.')}: ${conflict.message}`);
    return EXIT.usage;
  }

  let config: OrchestratorConfig;
  let model: ModelMode;
  try {
    // The same configuration as `cdk synth`: cdk.json's orchestrator context and the environment.
    config = loadLocalConfig(env);
    model = modelModeFromEnv(env, config.provider);
    if (definition.modelCalls === 'batch' && config.provider !== 'anthropic') {
      throw new Error(
        `modelCalls: "batch" needs provider "anthropic" (the Message Batches API); provider is "${config.provider}": use --model-calls on-demand`,
      );
    }
  } catch (error) {
    log(`error: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.usage;
  }
  log(describeModel(model, config.provider));
  const startedAt = Date.now();
  const orchestrator = await startLocalStackForCli(config, model, env, log);
  if (!orchestrator) return EXIT.usage;
  const { models } = orchestrator.config;
  log(
    `Models: orchestrator ${models.orchestrator} · workers ${models.worker} · synthesis ${models.synthesis}`,
  );
  try {
    // The file may be anywhere, not only in batches/: its requests go with the run.
    const batch = await orchestrator.startBatch({
      ...batchExecutionInput(definition, 'cli'),
      items: resolveBatchItems(definition),
    });
    log(
      definition.modelCalls === 'batch'
        ? `Batch ${definition.name}: ${definition.items.length} items, model calls through Message Batches (phase by phase, deadline ${definition.batchDeadlineMinutes} min) · run ${batch.runId}`
        : `Batch ${definition.name}: ${definition.items.length} items, ${definition.maxConcurrency} at once · run ${batch.runId}`,
    );
    const interactive = process.stderr.isTTY === true;
    let last = '';
    const events = definition.modelCalls === 'batch' ? laneLines(batch.events, log) : batch.events;
    await followBatchProgress(events, definition.items.length, (progress) => {
      const bar = renderProgressBar(progress);
      if (bar === last) return;
      last = bar;
      process.stderr.write(interactive ? `\r${bar}` : `${bar}\n`);
    });
    if (interactive) process.stderr.write('\n');
    const execution = await batch.finished;
    const view = await orchestrator.getBatchRunView(batch.runId);
    if (!view) {
      log(
        `error: the batch run was not recorded (${execution.error ?? execution.status}: ${execution.cause ?? ''})`,
      );
      return EXIT.failed;
    }
    if (parsed.values.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    log(batchSummaryTable(view, Date.now() - startedAt));
    const allGood = view.items.every((item) => item.status === 'SUCCEEDED' || item.status === 'PARTIAL');
    return view.status === 'COMPLETED' && allGood ? EXIT.ok : EXIT.failed;
  } finally {
    await orchestrator.close();
  }
}

/** `--max-cost-usd` and `--max-output-tokens` as a run budget, checked as the API checks one. */
function runBudgetFromFlags(values: {
  'max-cost-usd'?: string | undefined;
  'max-output-tokens'?: string | undefined;
}): { success: true; data: Budget | undefined } | { success: false; error: string } {
  const flags = { maxCostUsd: '--max-cost-usd', maxOutputTokens: '--max-output-tokens' } as const;
  const texts = { maxCostUsd: values['max-cost-usd'], maxOutputTokens: values['max-output-tokens'] };
  if (texts.maxCostUsd === undefined && texts.maxOutputTokens === undefined)
    return { success: true, data: undefined };
  const numbers: Record<string, number> = {};
  for (const key of ['maxCostUsd', 'maxOutputTokens'] as const) {
    const text = texts[key];
    if (text === undefined) continue;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      return { success: false, error: `${flags[key]}: must be a number (got "${text}")` };
    numbers[key] = value;
  }
  const parsed = RunBudgetSchema.safeParse(numbers);
  if (parsed.success) return { success: true, data: parsed.data };
  const problems = parsed.error.issues.map(
    (issue) => `${flags[issue.path[0] as keyof typeof flags] ?? '--max-cost-usd'}: ${issue.message}`,
  );
  return { success: false, error: problems.join('; ') };
}

/** Passes the events on, logging a line for each step of the batch lane worth one. */
async function* laneLines(
  events: AsyncIterable<ExecutionEvent>,
  log: (line: string) => void,
): AsyncGenerator<ExecutionEvent> {
  for await (const event of events) {
    const line = describeLaneEvent(event);
    if (line) log(line);
    yield event;
  }
}

if (require.main === module) runMain((argv) => main(argv));
