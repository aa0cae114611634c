import '../runtime/polyfills';
import type { OrchestratorConfig } from '../../lib/config';
import { parseCliArgs, USAGE, UsageError } from './args';
import type { ModelMode } from '../runtime/stack';
import { loadLocalConfig, startLocalStackForCli } from './config';
import {
  PlainProgressRenderer,
  reportProgress,
  summaryLine,
  TtyProgressRenderer,
  usageTable,
} from './progress';
import { describeModel, modelModeFromEnv } from './model-mode';
import { type ProfileSummary, profileSummaries } from '../../lambdas/shared/domain/profiles';
import { runMain } from './run-main';
import { createInterface } from 'node:readline/promises';
import { approvalQuestion, approvalSummary, isYes } from './approval-prompt';
import type { LocalOrchestrator } from '../runtime/stack';

// These machines run Node 20; the deployed functions run Node 24, so the SDK's Node-version notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function formatProfiles(profiles: readonly ProfileSummary[]): string {
  return profiles
    .map((profile) => {
      const lines = [`${profile.name}${profile.default ? ' (default)' : ''}: ${profile.description}`];
      lines.push(`  subtasks: ${profile.subtasks.min}–${profile.subtasks.max}`);
      if (profile.subtaskTypes)
        lines.push(`  types: ${profile.subtaskTypes.map((type) => type.name).join(', ')}`);
      if (profile.templates) {
        for (const [name, variables] of Object.entries(profile.templates)) {
          const required =
            variables.required.length > 0
              ? `; must use ${variables.required.map((v) => `{{${v}}}`).join(', ')}`
              : '';
          lines.push(`  ${name} template: ${variables.allowed.map((v) => `{{${v}}}`).join(', ')}${required}`);
        }
      }
      return lines.join('\n');
    })
    .join('\n\n')
    .concat('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let command;
  let model: ModelMode;
  let config: OrchestratorConfig;
  try {
    command = parseCliArgs(argv);
    // The same configuration as `cdk synth`: cdk.json's orchestrator context and the environment.
    config = loadLocalConfig(env);
    model = modelModeFromEnv(env, config.provider);
  } catch (error) {
    if (error instanceof UsageError || error instanceof Error) {
      log(`error: ${error.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    throw error;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (command.kind === 'list-profiles') {
    process.stdout.write(
      command.json ? `${JSON.stringify(profileSummaries(), null, 2)}\n` : formatProfiles(profileSummaries()),
    );
    return EXIT.ok;
  }

  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  const asks = command.request.approval !== undefined && command.request.approval !== 'none';
  if (asks && !interactive && !command.yes) {
    log('error: --approval: there is no terminal to ask on; pass --yes to approve the plan without asking\n');
    return EXIT.usage;
  }

  log(describeModel(model, config.provider));
  const startedAt = Date.now();
  const orchestrator = await startLocalStackForCli(config, model, env, log);
  if (!orchestrator) return EXIT.usage;
  try {
    const { models, maxConcurrency } = orchestrator.config;
    log(
      `Models: orchestrator ${models.orchestrator} · workers ${models.worker} · synthesis ${models.synthesis} · up to ${maxConcurrency} workers at once`,
    );
    const execution = await orchestrator.startJob(command.request);
    log(`Job ${execution.jobId} started (execution ${execution.executionArn})`);
    const renderer = process.stderr.isTTY
      ? new TtyProgressRenderer(process.stderr)
      : new PlainProgressRenderer(log);
    const approval = decideOnTerminal(orchestrator, execution, {
      yes: command.yes,
      interactive,
      log,
      pause: () => (renderer instanceof TtyProgressRenderer ? renderer.pause() : undefined),
    });
    await reportProgress(
      execution.events,
      {
        loadPlan: async () => (await orchestrator.getJobView(execution.jobId))?.plan ?? null,
        // One item per finished subtask, not the whole job again.
        loadSubtaskUsage: async (id) =>
          (await orchestrator.repository.getSubtask(execution.jobId, id))?.usage ?? null,
      },
      renderer,
    );
    await execution.finished;
    const decided = await approval;
    const view = await orchestrator.getJobView(execution.jobId);
    if (!view) throw new Error(`Job ${execution.jobId} disappeared from the table`);

    if (command.json) {
      process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    } else if (view.synthesis) {
      process.stdout.write(`${view.synthesis}\n`);
    }
    for (const failed of view.subtasks.filter((subtask) => subtask.status === 'FAILED')) {
      log(`  subtask ${failed.id} failed: ${failed.error?.name}: ${failed.error?.message}`);
    }
    if (view.error)
      log(`${view.status === 'FAILED' ? 'Job failed' : 'Note'}: ${view.error.name}: ${view.error.message}`);
    for (const warning of view.warnings) log(`Warning: ${warning}`);
    for (const line of usageTable(view, { simulated: model.kind === 'simulated' })) log(line);
    log(summaryLine(view, Date.now() - startedAt));
    if (decided === 'no-terminal') return EXIT.usage;
    return view.status === 'SUCCEEDED' || view.status === 'PARTIAL' ? EXIT.ok : EXIT.failed;
  } finally {
    await orchestrator.close();
  }
}

/**
 * When the job's plan waits for approval: shows it with its estimate and asks on the terminal
 * (`--yes` approves without asking). Without a terminal the plan is rejected, and the CLI exits 2.
 */
async function decideOnTerminal(
  orchestrator: LocalOrchestrator,
  execution: { jobId: string; finished: Promise<unknown> },
  options: { yes: boolean; interactive: boolean; log: (line: string) => void; pause: () => void },
): Promise<'none' | 'approved' | 'rejected' | 'no-terminal'> {
  const awaiting = await orchestrator.approvalRequested(execution.jobId, execution.finished);
  if (!awaiting) return 'none';
  options.pause();
  for (const line of approvalSummary(awaiting)) options.log(line);
  if (options.yes) {
    options.log('Approved (--yes)');
    await orchestrator.decideApproval(execution.jobId, {
      decision: 'approve',
      comment: 'Approved with --yes',
    });
    return 'approved';
  }
  if (!options.interactive) {
    options.log(
      'error: the plan waits for approval and there is no terminal to ask on; pass --yes to approve it',
    );
    await orchestrator.decideApproval(execution.jobId, {
      decision: 'reject',
      comment: 'No terminal to ask on (npm start without --yes)',
    });
    return 'no-terminal';
  }
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await terminal.question(approvalQuestion(awaiting)).finally(() => terminal.close());
  const approve = isYes(answer);
  await orchestrator.decideApproval(
    execution.jobId,
    approve
      ? { decision: 'approve', comment: 'Approved on the terminal' }
      : { decision: 'reject', comment: 'Declined on the terminal' },
  );
  return approve ? 'approved' : 'rejected';
}

if (require.main === module) runMain((argv) => main(argv));
