import '../../local/runtime/polyfills';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runMain } from '../../local/cli/run-main';
import { runSoak } from './run-soak';
import { formatSoakReport, soakPassed } from './soak-report';
import { batchLaneSoakPassed, formatBatchLaneSoak, runBatchLaneSoak } from './batch-lane-soak';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const SOAK_USAGE = `Usage: npm run soak -- [--jobs N] [--levels 0,10,25,50] [--seed N] [--concurrency N]
                     [--provider-limit N] [--batch-items N] [--json FILE]

Runs N jobs (4–8 subtasks each) per fault level through the local stack with the simulated model,
injecting 429/529/500 errors, hangs past the timeout, malformed plans, latency spikes and worker
crashes around their completing write, then prints a table per level and checks the invariants. Then
the batch lane: one batch with modelCalls "batch" under per-request faults (errored, expired,
malformed plans; one item expiring every round), and one whose deadline passes mid-batch.
  --jobs N          jobs per fault level (default 50)
  --levels LIST     fault levels in percent, 0 to 50 (default 0,10,25,50)
  --seed N          seed of every random choice (default 1)
  --concurrency N   jobs running at once (default 8)
  --provider-limit N  also run against a model answering 429 beyond N requests in flight per model,
                    without and then with the governor (modelLimits maxInFlight N), retry waits
                    scaled down 50×; the governed run must keep the model within N
  --batch-items N   items of the batch-lane soak (default 20; 0 leaves it out)
  --json FILE       also write the full report, violations included, as JSON
  -h, --help        show this help

Exit code: 0 when every invariant held, 1 when one failed (the violating jobs are listed), 2 for bad usage.`;

const EXIT = { ok: 0, violated: 1, usage: 2 } as const;

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name}: expected a whole number`)
    .transform(Number)
    .pipe(
      z.number().min(min, `${name}: must be at least ${min}`).max(max, `${name}: must be at most ${max}`),
    );

const SoakArgsSchema = z.object({
  jobs: integer('--jobs', 1, 1000),
  levels: z
    .string()
    .transform((text) => text.split(',').map((part) => part.trim()))
    .pipe(z.array(integer('--levels', 0, 50)).min(1, '--levels: give at least one level'))
    .transform((levels) => levels.map((level) => level / 100)),
  seed: integer('--seed', 0, 2 ** 31 - 1),
  concurrency: integer('--concurrency', 1, 64),
  'provider-limit': integer('--provider-limit', 1, 1000).optional(),
  'batch-items': integer('--batch-items', 0, 200),
  json: z.string().min(1).optional(),
});

export async function main(argv: string[]): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        jobs: { type: 'string', default: '50' },
        levels: { type: 'string', default: '0,10,25,50' },
        seed: { type: 'string', default: '1' },
        concurrency: { type: 'string', default: '8' },
        'provider-limit': { type: 'string' },
        'batch-items': { type: 'string', default: '20' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    log(`error: ${error instanceof Error ? error.message : String(error)}\n\n${SOAK_USAGE}`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(`${SOAK_USAGE}\n`);
    return EXIT.ok;
  }
  const parsed = SoakArgsSchema.safeParse(values);
  if (!parsed.success) {
    log(`error: ${parsed.error.issues.map((issue) => issue.message).join('; ')}\n\n${SOAK_USAGE}`);
    return EXIT.usage;
  }
  const { json, 'provider-limit': providerLimit, 'batch-items': batchItems, ...options } = parsed.data;
  log(
    `Fault soak: ${options.jobs} jobs per level at ${options.levels.map((level) => `${level * 100} %`).join(', ')} ` +
      '(the simulated model, a local test double)',
  );
  const reports = [await runSoak({ ...options, log })];
  if (providerLimit !== undefined) {
    for (const governed of [false, true]) {
      log(
        `Against a provider limit of ${providerLimit} in flight, ${governed ? 'with' : 'without'} the governor`,
      );
      reports.push(
        await runSoak({ ...options, log, providerLimit: { maxInFlight: providerLimit, governed } }),
      );
    }
  }
  const batchLane =
    batchItems > 0 ? await runBatchLaneSoak({ items: batchItems, seed: options.seed, log }) : undefined;
  process.stdout.write(
    `${[...reports.map(formatSoakReport), ...(batchLane ? [formatBatchLaneSoak(batchLane)] : [])].join('\n\n')}\n`,
  );
  if (json) {
    const full = reports.length === 1 ? reports[0] : reports;
    writeFileSync(json, `${JSON.stringify(batchLane ? { jobs: full, batchLane } : full, null, 2)}\n`);
  }
  return reports.every(soakPassed) && (!batchLane || batchLaneSoakPassed(batchLane))
    ? EXIT.ok
    : EXIT.violated;
}

if (require.main === module) runMain(main);
