import { parseArgs } from 'node:util';
import * as z from 'zod';

export const BENCH_USAGE = `Usage: npm run bench -- [--n 1,4,16,64] [--jobs K] [--throughput-n N] [--repeat R]
                      [--seed S] [--jitter MS] [--init-samples S] [--out FILE] [--skip-bundles]
                      [--governor-jobs J] [--governor-n N] [--governor-limit L]
                      [--startup-runs R] [--startup-only] [--batch-items B] [--batch-only]

Measures the orchestrator on the local stack with the simulated model at fixed latencies
(plan 400 ms, worker 800 ms, synthesis 400 ms, plus 0–jitter ms), prints tables and writes JSON.
  --n LIST            subtasks per job, each run with MaxConcurrency max(N, 10), at most 40 (default 1,4,16,64);
                      N = 16 is also run at the default MaxConcurrency 10 for contrast
  --repeat R          measured jobs (and sequential loops) per N; the median is reported (default 3)
  --jobs K            jobs started at once for the throughput figure (default 16)
  --throughput-n N    subtasks per throughput job (default 4)
  --seed S            seed of the simulated model's jitter (default 1)
  --jitter MS         extra latency drawn from 0–MS per call (default 200)
  --init-samples S    fresh processes per bundle for the init time median (default 5)
  --out FILE          where the JSON goes (default bench-results/bench-results.json, git-ignored)
  --skip-bundles      leave out the bundle sizes and init times
  --governor-jobs J   jobs started at once against a model answering 429 beyond L in flight per
                      model, without and with the governor (default 8; 0 leaves it out)
  --governor-n N      workers per governor job (default 6)
  --governor-limit L  the model's in-flight limit, and the governor's maxInFlight (default 4)
  --startup-runs R    cold and warm launches of npm start for the time to first model call (default 5)
  --startup-only      measure only the time to first model call (about a minute)
  --batch-items B     items of the batch-lane row: the same B items on demand and through Message
                      Batches (default 10; 0 leaves the row out)
  --batch-only        measure only the batch-lane row (about a minute)`;

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

export const BenchOptionsSchema = z.object({
  subtaskCounts: z.array(positiveInt(100)).min(1),
  repeat: positiveInt(20),
  jobs: positiveInt(200),
  throughputSubtasks: positiveInt(100),
  seed: z.coerce.number().int().min(0),
  jitterMs: z.coerce.number().int().min(0).max(10_000),
  initSamples: positiveInt(50),
  out: z.string().min(1),
  bundles: z.boolean(),
  governorJobs: z.coerce.number().int().min(0).max(200),
  governorSubtasks: positiveInt(100),
  governorLimit: positiveInt(1_000),
  startupRuns: positiveInt(50),
  startupOnly: z.boolean(),
  batchItems: z.coerce.number().int().min(0).max(200),
  batchOnly: z.boolean(),
});
export type BenchOptions = z.infer<typeof BenchOptionsSchema>;

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

/** Parses the command line; every problem is a BenchUsageError naming the option. `null` means --help. */
export function parseBenchArgs(argv: string[]): BenchOptions | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        n: { type: 'string', default: '1,4,16,64' },
        repeat: { type: 'string', default: '3' },
        jobs: { type: 'string', default: '16' },
        'throughput-n': { type: 'string', default: '4' },
        seed: { type: 'string', default: '1' },
        jitter: { type: 'string', default: '200' },
        'init-samples': { type: 'string', default: '5' },
        out: { type: 'string', default: 'bench-results/bench-results.json' },
        'skip-bundles': { type: 'boolean', default: false },
        'governor-jobs': { type: 'string', default: '8' },
        'governor-n': { type: 'string', default: '6' },
        'governor-limit': { type: 'string', default: '4' },
        'startup-runs': { type: 'string', default: '5' },
        'startup-only': { type: 'boolean', default: false },
        'batch-items': { type: 'string', default: '10' },
        'batch-only': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new BenchUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return null;
  const result = BenchOptionsSchema.safeParse({
    subtaskCounts: values.n.split(',').map((part) => part.trim()),
    repeat: values.repeat,
    jobs: values.jobs,
    throughputSubtasks: values['throughput-n'],
    seed: values.seed,
    jitterMs: values.jitter,
    initSamples: values['init-samples'],
    out: values.out,
    bundles: !values['skip-bundles'],
    governorJobs: values['governor-jobs'],
    governorSubtasks: values['governor-n'],
    governorLimit: values['governor-limit'],
    startupRuns: values['startup-runs'],
    startupOnly: values['startup-only'],
    batchItems: values['batch-items'],
    batchOnly: values['batch-only'],
  });
  if (!result.success) {
    const flags: Record<string, string> = {
      subtaskCounts: '--n',
      throughputSubtasks: '--throughput-n',
      jitterMs: '--jitter',
      initSamples: '--init-samples',
      governorJobs: '--governor-jobs',
      governorSubtasks: '--governor-n',
      governorLimit: '--governor-limit',
      startupRuns: '--startup-runs',
      batchItems: '--batch-items',
    };
    const issue = result.error.issues[0];
    const key = String(issue?.path[0] ?? '');
    throw new BenchUsageError(`${flags[key] ?? `--${key}`}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}
