import type { ModelCalls } from '../../lambdas/shared/domain/batch-schemas';
import { LocalOrchestrator } from '../../local/runtime/stack';
import type { SimulatedLatency } from './local-jobs';
import { formatTable } from './report';

/** The batch-lane row: the same items run on demand and through Message Batches. */
export interface BatchLaneMeasurement {
  modelCalls: ModelCalls;
  items: number;
  succeeded: number;
  wallMs: number;
  costUsd: number;
  costPerItemUsd: number;
  /** What the same tokens cost on demand. */
  onDemandCostUsd: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Seconds Lambdas spent blocked on model calls (each on-demand call's time, summed). */
  lambdaSecondsWaiting: number;
  /** States entered, in the batch execution and every child execution, per item. */
  transitionsPerItem: number;
  /** Message Batches the run created. */
  messageBatches: number;
}

/** The simulated Message Batch's processing time; a real one takes minutes to hours. */
export const BENCH_BATCH_PROCESSING_MS = 2_000;
/**
 * The bench's prompts are short, below the real cache minimum (1,024–4,096 tokens); with this lower
 * minimum the workers' shared prefix is cached in both lanes, so the row prices cache writes (1 hour
 * in the batch lane, 5 minutes on demand) and reads as production prompts would have them.
 */
export const BENCH_PROMPT_CACHE_MIN_TOKENS = 200;

const PRODUCTS = [
  'insulated steel water bottle',
  'merino wool jumper',
  'LED bike light set',
  'cast-iron casserole dish',
  'bamboo bath towel set',
  'ceramic pour-over coffee dripper',
  'waxed canvas tote bag',
  'solar garden lantern',
  'oak chopping board',
  'linen tea towel set',
];

const itemsOf = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    task: `Write a product description for the ${PRODUCTS[index % PRODUCTS.length]} (${index + 1})`,
    profile: 'marketing',
  }));

async function statesEntered(orchestrator: LocalOrchestrator, executionArn: string): Promise<number> {
  const history = await orchestrator.stepFunctions.executionHistory(executionArn);
  return history.filter((event) => event.type.endsWith('StateEntered')).length;
}

/** Runs `items` in one lane on a fresh local stack and measures it. */
export async function measureBatchLane(
  modelCalls: ModelCalls,
  items: number,
  latency: SimulatedLatency,
): Promise<BatchLaneMeasurement> {
  const orchestrator = await LocalOrchestrator.start({
    model: {
      kind: 'simulated',
      options: {
        ...latency,
        batchProcessingMs: BENCH_BATCH_PROCESSING_MS,
        promptCacheMinTokens: BENCH_PROMPT_CACHE_MIN_TOKENS,
      },
    },
    config: { batchPollSeconds: 1 },
  });
  try {
    const startedAt = Date.now();
    const batch = await orchestrator.startBatch({
      batchName: `bench-${modelCalls}`,
      items: itemsOf(items),
      maxConcurrency: Math.min(items, 40),
      modelCalls,
      trigger: 'cli',
    });
    await batch.finished;
    const wallMs = Date.now() - startedAt;
    const view = await orchestrator.getBatchRunView(batch.runId);
    if (!view) throw new Error(`bench: batch run ${batch.runId} was not recorded`);
    const requests = orchestrator.simulatedModel?.requests ?? [];
    const waitingMs = requests
      .filter((request) => request.batchId === undefined && request.answeredAtMs !== null)
      .reduce((sum, request) => sum + ((request.answeredAtMs ?? 0) - request.receivedAtMs), 0);
    let transitions = await statesEntered(orchestrator, batch.executionArn);
    const childPrefix = orchestrator.stateMachineArn.replace(':stateMachine:', ':execution:');
    for (const item of view.items) {
      try {
        transitions += await statesEntered(orchestrator, `${childPrefix}:${item.jobId}`);
      } catch {
        // The item ran in the batch lane: it has no execution of its own.
      }
    }
    return {
      modelCalls,
      items,
      succeeded: view.items.filter((item) => item.status === 'SUCCEEDED').length,
      wallMs,
      costUsd: view.usage.costUsd,
      costPerItemUsd: view.usage.costUsd / items,
      onDemandCostUsd: view.usage.onDemandCostUsd,
      cacheReadTokens: view.usage.cacheReadTokens,
      cacheWriteTokens: view.usage.cacheWriteTokens,
      lambdaSecondsWaiting: waitingMs / 1000,
      transitionsPerItem: transitions / items,
      messageBatches: new Set(requests.flatMap((request) => request.batchId ?? [])).size,
    };
  } finally {
    await orchestrator.close();
  }
}

/** The table of the two lanes, with each lane's model cost per item against on demand's. */
export function batchLaneTable(rows: readonly BatchLaneMeasurement[]): string {
  const onDemand = rows.find((row) => row.modelCalls === 'on-demand');
  return formatTable(
    [
      'lane',
      'items',
      'succeeded',
      'model cost / item',
      '× on demand',
      'cache read / write tokens',
      'Lambda-s waiting on the model',
      'state transitions / item',
      'Message Batches',
      'wall',
    ],
    rows.map((row) => [
      row.modelCalls,
      String(row.items),
      String(row.succeeded),
      `$${row.costPerItemUsd.toFixed(5)}`,
      onDemand ? `${(row.costPerItemUsd / onDemand.costPerItemUsd).toFixed(2)}×` : '-',
      `${row.cacheReadTokens} / ${row.cacheWriteTokens}`,
      row.lambdaSecondsWaiting.toFixed(1),
      row.transitionsPerItem.toFixed(1),
      String(row.messageBatches),
      `${(row.wallMs / 1000).toFixed(1)} s`,
    ]),
  );
}
