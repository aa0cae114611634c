import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig, type OrchestratorConfig } from '../../lib/config';
import { LOCAL_BATCH_POLL_SECONDS, LocalOrchestrator, type ModelMode } from '../runtime/stack';
import { LocalStoreUnavailable } from '../runtime/shared-dynamodb';

/** The checkout's root: where `cdk.json` is, whatever the current directory. */
export const CHECKOUT_ROOT = path.join(__dirname, '..', '..');

/**
 * The configuration a local run uses: the same as `cdk synth` reads, through the same `loadConfig`:
 * the `orchestrator` context of `cdk.json` (`CDK_CONTEXT_FILE` names another file, for tests), with
 * the environment variables of docs/configuration.md taking precedence. Throws a readable error
 * (`Invalid orchestrator configuration: …`) on a bad value, as `cdk synth` does.
 */
export function loadLocalConfig(env: NodeJS.ProcessEnv = process.env): OrchestratorConfig {
  const context = orchestratorContext(env.CDK_CONTEXT_FILE ?? path.join(CHECKOUT_ROOT, 'cdk.json'));
  // Locally the batch lane checks its batches every second unless told otherwise (deployed: 60 s).
  const local = (context ?? {}) as Record<string, unknown>;
  const withLocalPoll =
    typeof context === 'string' || 'batchPollSeconds' in local
      ? context
      : { ...local, batchPollSeconds: LOCAL_BATCH_POLL_SECONDS };
  return loadConfig(withLocalPoll, env);
}

function orchestratorContext(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: { context?: { orchestrator?: unknown } };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`Invalid orchestrator configuration: ${file} is not JSON`);
  }
  return parsed.context?.orchestrator;
}

/** The data folder of local runs: `LOCAL_DATA_DIR`, default `.local/` in the checkout. */
export function localDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.LOCAL_DATA_DIR ?? path.join(CHECKOUT_ROOT, '.local'));
}

/**
 * Starts the local stack for a CLI on the checkout's data folder. When the folder cannot be shared
 * (`LocalStoreUnavailable`), says so in one line and returns undefined: the CLI exits 2.
 */
export async function startLocalStackForCli(
  config: OrchestratorConfig,
  model: ModelMode,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<LocalOrchestrator | undefined> {
  try {
    return await LocalOrchestrator.start({
      config,
      model,
      dataDir: localDataDir(env),
      ...(env.DYNAMODB_PORT ? { dynamoPort: Number(env.DYNAMODB_PORT) } : {}),
    });
  } catch (error) {
    if (!(error instanceof LocalStoreUnavailable)) throw error;
    log(`error: ${error.message}`);
    return undefined;
  }
}
