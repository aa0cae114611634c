/**
 * Each Lambda's deployment bundle, built with esbuild exactly as the CDK construct bundles it, and
 * the time its module takes to initialise in a fresh Node.js process.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { FUNCTION_BUNDLING, providerAliases } from '../../lib/constructs/workflow-function';
import { median } from './measurements';

const run = promisify(execFile);

export interface BundledFunction {
  /** The handler folder, e.g. `worker`. */
  name: string;
  entry: string;
  environment: Record<string, string>;
}

export interface BundleMeasurement {
  name: string;
  bytes: number;
  /** Median milliseconds to load the bundle and call `createHandler(env)`, no invocation. */
  initMs: number;
  initSamplesMs: number[];
  /** The largest packages in the bundle, bytes by package (`(source)` is the project's own code). */
  largestPackages: { name: string; bytes: number }[];
}

/**
 * Loads the bundle, builds its handler from the given environment and prints the milliseconds that
 * took. The clock starts in the child, so Node's own start-up is not counted.
 */
const INIT_PROBE = `
const started = performance.now();
const bundle = require(process.argv[1]);
bundle.createHandler(JSON.parse(process.argv[2]));
process.stdout.write(String(performance.now() - started));
`;

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match?.[1] ?? '(source)';
}

/**
 * Bundles `fn` into `outDir/<name>/index.js` (inside the project, so the modules left to the runtime
 * resolve from node_modules, as they resolve from the runtime's SDK in Lambda) and times its
 * initialisation `samples` times.
 */
export async function measureBundle(
  fn: BundledFunction,
  outDir: string,
  samples: number,
): Promise<BundleMeasurement> {
  const outfile = path.join(outDir, fn.name, 'index.js');
  mkdirSync(path.dirname(outfile), { recursive: true });
  const result = await build({
    entryPoints: [fn.entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: FUNCTION_BUNDLING.target,
    minify: FUNCTION_BUNDLING.minify,
    sourcemap: FUNCTION_BUNDLING.sourceMap,
    external: [...FUNCTION_BUNDLING.externalModules],
    // As the construct does: a model function's bundle is for the deployment's provider only.
    alias: providerAliases(fn.environment.MODEL_PROVIDER === 'anthropic' ? 'anthropic' : undefined),
    outfile,
    metafile: true,
    logLevel: 'error',
  });
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'))?.[1];
  if (!output) throw new Error(`esbuild did not report ${outfile}`);
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + bytesInOutput);
  }
  const initSamplesMs: number[] = [];
  for (let sample = 0; sample < samples; sample++) {
    const { stdout } = await run(
      process.execPath,
      ['-e', INIT_PROBE, outfile, JSON.stringify(fn.environment)],
      {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    );
    initSamplesMs.push(Number(stdout));
  }
  return {
    name: fn.name,
    bytes: output.bytes,
    initMs: median(initSamplesMs),
    initSamplesMs,
    largestPackages: [...byPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([name, bytes]) => ({ name, bytes })),
  };
}
