import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TERMINAL_JOB_STATUSES } from '../../lambdas/shared/domain/schemas';
import { createDocumentClient } from '../../lambdas/shared/storage/job-repository';
import { LaneRepository } from '../../lambdas/shared/storage/lane-repository';
import { batchRunKey } from '../../lambdas/shared/storage/table-layout';
import { LocalOrchestrator } from '../../local/runtime/stack';
import type { FaultRule } from '../../local/simulated-model';

/**
 * The fault soak of the batch lane: one batch of items with `modelCalls` `batch` against the simulated
 * model's Message Batches, with per-request faults (errored 429/529/500 and 400, expired, malformed
 * plans), one item whose every request expires (bounded rounds), then a run whose deadline passes
 * while its batch is in progress (cancelled, finished on demand). Each run is checked against the
 * invariants: every item and job in a truthful terminal state, nothing left running, what succeeded
 * kept, the batch rate paid for batch calls.
 */
export interface BatchLaneSoakOptions {
  items: number;
  seed: number;
  log?: (line: string) => void;
}

export interface BatchLaneScenario {
  name: string;
  items: number;
  counts: Record<string, number>;
  messageBatches: number;
  modelCalls: { inBatches: number; onDemand: number };
  faults: Record<string, number>;
  /** The run's model cost ÷ what the same tokens cost on demand. */
  costRatio: number;
  violations: string[];
  wallClockMs: number;
}

export interface BatchLaneSoakReport {
  seed: number;
  scenarios: BatchLaneScenario[];
}

const EXPIRING = 'expire-every-time';

const faultMix = (): FaultRule[] => [
  { kind: 'bad_request', role: 'plan', rate: 0.05 },
  { kind: 'expired', match: EXPIRING },
  { kind: 'malformed_plan', rate: 0.15 },
  { kind: 'overloaded', rate: 0.1 },
  { kind: 'rate_limit', rate: 0.05 },
  { kind: 'server_error', rate: 0.05 },
  { kind: 'expired', rate: 0.08 },
];

const itemsOf = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    task:
      index === 0
        ? `Write a product description for the ${EXPIRING} lamp`
        : `Write a product description for product number ${index + 1}`,
    profile: index % 3 === 2 ? 'research' : 'marketing',
  }));

async function checkRun(orchestrator: LocalOrchestrator, runId: string): Promise<string[]> {
  const violations: string[] = [];
  const view = await orchestrator.getBatchRunView(runId);
  if (!view) return [`run ${runId} was not recorded`];
  if (view.status !== 'COMPLETED') violations.push(`run ${runId} ended ${view.status}, not COMPLETED`);
  for (const item of view.items) {
    const stored = await orchestrator.repository.getJobWithSubtasks(item.jobId);
    if (!stored) {
      violations.push(`item ${item.index}: job ${item.jobId} missing`);
      continue;
    }
    const { job, subtasks } = stored;
    if (!TERMINAL_JOB_STATUSES.includes(job.status)) violations.push(`${job.jobId}: job left ${job.status}`);
    if (item.status !== job.status)
      violations.push(`${job.jobId}: item says ${item.status}, job ${job.status}`);
    for (const subtask of subtasks) {
      if (subtask.status === 'PENDING' || subtask.status === 'RUNNING')
        violations.push(`${job.jobId}/${subtask.id}: subtask left ${subtask.status}`);
      if (subtask.status === 'SUCCEEDED' && subtask.output === undefined)
        violations.push(`${job.jobId}/${subtask.id}: succeeded without its output`);
      if (subtask.status === 'FAILED' && !subtask.error)
        violations.push(`${job.jobId}/${subtask.id}: failed without an error`);
    }
    if ((job.status === 'SUCCEEDED' || job.status === 'PARTIAL') && !job.synthesis && !job.synthesisRef)
      violations.push(`${job.jobId}: ${job.status} without a synthesis`);
    if (job.status === 'FAILED' && !job.error) violations.push(`${job.jobId}: FAILED without an error`);
  }
  return violations;
}

async function runScenario(
  orchestrator: LocalOrchestrator,
  name: string,
  items: ReturnType<typeof itemsOf>,
  whileRunning?: (runId: string) => Promise<void>,
  extraChecks?: (runId: string) => Promise<string[]>,
): Promise<BatchLaneScenario> {
  const model = orchestrator.simulatedModel;
  const first = model?.requests.length ?? 0;
  const faultsBefore = { ...(model?.stats().faults ?? {}) } as Record<string, number>;
  const started = Date.now();
  const batch = await orchestrator.startBatch({
    batchName: `soak-${name}`,
    items,
    modelCalls: 'batch',
    trigger: 'cli',
  });
  await whileRunning?.(batch.runId);
  await batch.finished;
  const wallClockMs = Date.now() - started;
  const view = await orchestrator.getBatchRunView(batch.runId);
  const requests = model?.requests.slice(first) ?? [];
  const faultsAfter = (model?.stats().faults ?? {}) as Record<string, number>;
  const faults = Object.fromEntries(
    Object.entries(faultsAfter)
      .map(([kind, count]) => [kind, count - (faultsBefore[kind] ?? 0)] as const)
      .filter(([, count]) => count > 0),
  );
  const usage = view?.usage;
  return {
    name,
    items: items.length,
    counts: view?.counts ?? {},
    messageBatches: new Set(requests.flatMap((request) => request.batchId ?? [])).size,
    modelCalls: {
      inBatches: requests.filter((request) => request.batchId !== undefined).length,
      onDemand: requests.filter((request) => request.batchId === undefined).length,
    },
    faults,
    costRatio: usage && usage.onDemandCostUsd > 0 ? usage.costUsd / usage.onDemandCostUsd : 0,
    violations: [
      ...(await checkRun(orchestrator, batch.runId)),
      ...((await extraChecks?.(batch.runId)) ?? []),
    ],
    wallClockMs,
  };
}

export async function runBatchLaneSoak(options: BatchLaneSoakOptions): Promise<BatchLaneSoakReport> {
  const orchestrator = await LocalOrchestrator.start({
    model: { kind: 'simulated', options: { seed: options.seed, batchProcessingMs: 100 } },
    config: { batchPollSeconds: 1 },
    retryIntervalOverrides: { Plan: 10, RunSubtask: 10, Synthesize: 10, RunJob: 10 },
  });
  try {
    const scenarios: BatchLaneScenario[] = [];
    const model = orchestrator.simulatedModel;

    // Per-request faults; item 0's every request expires, so it must fail after the bounded rounds.
    model?.setFaults(faultMix());
    scenarios.push(
      await runScenario(orchestrator, 'faults', itemsOf(options.items), undefined, async (runId) => {
        const view = await orchestrator.getBatchRunView(runId);
        const expiring = view?.items[0];
        const problems: string[] = [];
        if (expiring?.status !== 'FAILED' || expiring.error?.name !== 'BatchRequestExpired')
          problems.push(
            `the always-expiring item ended ${expiring?.status} (${expiring?.error?.name ?? 'no error'})`,
          );
        const ratio =
          view && view.usage.onDemandCostUsd > 0 ? view.usage.costUsd / view.usage.onDemandCostUsd : 0;
        if (Math.abs(ratio - 0.5) > 0.01)
          problems.push(`batch calls cost ${ratio.toFixed(3)}× on demand, not 0.5×`);
        return problems;
      }),
    );
    options.log?.(`batch lane, faults: ${scenarios.at(-1)?.violations.length ?? 0} invariant violation(s)`);

    // A deadline passing while a batch is in progress: cancelled, and the rest finished on demand.
    model?.setFaults([]);
    model?.setBatchProcessingMs(60_000);
    const documents = createDocumentClient({ region: 'us-east-1', endpoint: orchestrator.dynamodb.endpoint });
    const lanes = new LaneRepository(documents, orchestrator.stack.jobsTableName, 1);
    scenarios.push(
      await runScenario(
        orchestrator,
        'deadline',
        itemsOf(Math.max(2, Math.ceil(options.items / 4))).slice(1),
        async (runId) => {
          while (!(await lanes.getRound(runId))?.batchId)
            await new Promise((resolve) => setTimeout(resolve, 50));
          await documents.send(
            new UpdateCommand({
              TableName: orchestrator.stack.jobsTableName,
              Key: batchRunKey(runId),
              UpdateExpression: 'SET deadlineAt = :past',
              ExpressionAttributeValues: { ':past': new Date(Date.now() - 1_000).toISOString() },
            }),
          );
        },
      ),
    );
    model?.setBatchProcessingMs(100);
    options.log?.(`batch lane, deadline: ${scenarios.at(-1)?.violations.length ?? 0} invariant violation(s)`);
    return { seed: options.seed, scenarios };
  } finally {
    await orchestrator.close();
  }
}

export function formatBatchLaneSoak(report: BatchLaneSoakReport): string {
  const lines = [`Batch lane (Message Batches, seed ${report.seed})`];
  for (const scenario of report.scenarios) {
    lines.push(
      `  ${scenario.name}: ${scenario.items} items → ${Object.entries(scenario.counts)
        .map(([status, count]) => `${count} ${status}`)
        .join(
          ', ',
        )} · ${scenario.messageBatches} Message Batches · model calls ${scenario.modelCalls.inBatches} in batches, ${scenario.modelCalls.onDemand} on demand · faults ${
        Object.entries(scenario.faults)
          .map(([kind, count]) => `${kind} ${count}`)
          .join(', ') || '-'
      } · cost ${scenario.costRatio.toFixed(2)}× on demand · ${(scenario.wallClockMs / 1000).toFixed(1)} s · ${scenario.violations.length} invariant violation(s)`,
    );
    for (const violation of scenario.violations) lines.push(`    ✗ ${violation}`);
  }
  return lines.join('\n');
}

export const batchLaneSoakPassed = (report: BatchLaneSoakReport) =>
  report.scenarios.every((scenario) => scenario.violations.length === 0);
