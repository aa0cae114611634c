/** The bench's start-up figure: time from launching `npm start` to its first model call. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startSimulatedModel } from '../../local/simulated-model';
import { median } from './measurements';

const ROOT = path.join(__dirname, '..', '..');

/** First model call within this long of launching `npm start`, from the second run in a checkout on. */
export const STARTUP_TARGET_MS = 1_500;

export interface StartupMeasurement {
  command: string;
  /** Each run: a fresh data folder, so no template cache (the CDK synthesizes). */
  coldMs: number[];
  /** Each run: the same folder again right after, the template cached (what every run after the first sees). */
  warmMs: number[];
  coldMedianMs: number;
  warmMedianMs: number;
  /** The whole warm run, launch to exit (the job with the simulated model at no latency). */
  warmExitMedianMs: number;
}

const TASK = 'Write a product description for a new eco-friendly water bottle';

/**
 * Launches `npm start -- "<task>"` as a person would, `runs` times cold and warm, against a simulated
 * model this process serves (the child is pointed at it as an Anthropic API, so its request log is
 * here), and reads when the model saw its first request. The clock starts just before the spawn,
 * so npm's and Node's own start-up count.
 */
export async function measureStartup(runs: number, log: (line: string) => void): Promise<StartupMeasurement> {
  const model = await startSimulatedModel({ latencyMs: 0 });
  const coldMs: number[] = [];
  const warmMs: number[] = [];
  const warmExitMs: number[] = [];
  try {
    const launch = async (dataDir: string) => {
      const seen = model.requests.length;
      const launchedAt = Date.now();
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn('npm', ['start', '--silent', '--', TASK], {
          cwd: ROOT,
          env: {
            ...process.env,
            LOCAL_DATA_DIR: dataDir,
            ANTHROPIC_API_KEY: 'bench-simulated-model',
            ANTHROPIC_BASE_URL: model.url,
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
        child.on('error', reject);
        child.on('exit', (exitCode) => (exitCode === 0 ? resolve(exitCode) : reject(new Error(stderr))));
      });
      const first = model.requests[seen];
      if (code !== 0 || !first) throw new Error('npm start made no model call');
      return { firstCallMs: first.receivedAtMs - launchedAt, exitMs: Date.now() - launchedAt };
    };
    for (let run = 0; run < runs; run++) {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-startup-'));
      try {
        const cold = await launch(dataDir);
        const warm = await launch(dataDir);
        coldMs.push(cold.firstCallMs);
        warmMs.push(warm.firstCallMs);
        warmExitMs.push(warm.exitMs);
        log(`Start-up run ${run + 1}/${runs}: cold ${cold.firstCallMs} ms, warm ${warm.firstCallMs} ms`);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    await model.close();
  }
  return {
    command: `npm start -- "${TASK}"`,
    coldMs,
    warmMs,
    coldMedianMs: median(coldMs),
    warmMedianMs: median(warmMs),
    warmExitMedianMs: median(warmExitMs),
  };
}
