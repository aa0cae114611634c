import '../runtime/polyfills';
import { randomBytes } from 'node:crypto';
import { startLocalApiServer } from './api-gateway';
import { type ConsoleServer, startConsoleServer } from './console-server';
import { LocalOrchestrator, type LocalOrchestratorOptions } from '../runtime/stack';
import type { LocalStepFunctions } from '../runtime/step-functions';
import { startSfnEndpoint } from './step-functions-endpoint';
import { loadBatchDefinitions } from '../../lambdas/shared/batches/catalog';
import { type BatchDefinition, batchExecutionInput } from '../../lambdas/shared/domain/batch-schemas';
import { LocalScheduler } from '../runtime/scheduler';

export interface LocalServerOptions extends Omit<LocalOrchestratorOptions, 'functionEnvironment'> {
  apiKey?: string;
  apiPort?: number;
  sfnPort?: number;
  consolePort?: number;
  host?: string;
  /** Fire the batch schedules whose time comes while the server runs. Off by default. */
  schedules?: boolean;
  /** Called with each batch run a schedule starts. */
  onScheduledRun?: (definition: BatchDefinition, runId: string) => void;
}

export interface LocalServer {
  apiUrl: string;
  sfnEndpoint: string;
  /** The local execution console, e.g. `http://127.0.0.1:8084/console`. */
  consoleUrl: string;
  apiKey: string;
  orchestrator: LocalOrchestrator;
  /** Present when schedules are on. */
  scheduler?: LocalScheduler;
  /** Jobs found unfinished at start (left by a stopped or crashed server) and marked FAILED. */
  interruptedAtStart: string[];
  /**
   * Stops running executions (their jobs are marked Interrupted), then every server. With
   * `simulateCrash`, jobs are left as they are, as if the process had died (for tests of recovery).
   */
  close(options?: { simulateCrash?: boolean }): Promise<string[]>;
}

export const INTERRUPTED_AT_STOP = 'The local server stopped while this job was running';
export const INTERRUPTED_BEFORE_START = 'The local server stopped or crashed while this job was running';

/**
 * `npm run serve`: the whole stack on loopback: the jobs API (same handler as deployed, behind an
 * API Gateway emulation), a Step Functions endpoint, DynamoDB, and the model.
 */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const host = options.host ?? '127.0.0.1';
  // The endpoint must listen before the functions are wired (they get its URL); the service comes after.
  const late: { stepFunctions?: LocalStepFunctions } = {};
  const sfn = await startSfnEndpoint({
    host,
    port: options.sfnPort,
    service: () => {
      if (!late.stepFunctions) throw new Error('The local Step Functions service is still starting');
      return late.stepFunctions;
    },
  });
  const apiKey = options.apiKey ?? `local-${randomBytes(16).toString('hex')}`;
  // The console too listens first: job views link to it (CONSOLE_URL); it reaches the API once that starts.
  const lateApi: { url?: string } = {};
  let consoleServer: ConsoleServer;
  try {
    consoleServer = await startConsoleServer({
      host,
      port: options.consolePort,
      sfnEndpoint: sfn.url,
      apiKey,
      apiUrl: () => {
        if (!lateApi.url) throw new Error('The jobs API is still starting');
        return lateApi.url;
      },
    });
  } catch (error) {
    await sfn.close();
    throw error;
  }
  let orchestrator: LocalOrchestrator;
  try {
    orchestrator = await LocalOrchestrator.start({
      ...options,
      functionEnvironment: { SFN_ENDPOINT: sfn.url, CONSOLE_URL: consoleServer.url },
    });
  } catch (error) {
    await consoleServer.close();
    await sfn.close();
    throw error;
  }
  late.stepFunctions = orchestrator.stepFunctions;

  let api;
  let interruptedAtStart: string[];
  let scheduler: LocalScheduler | undefined;
  try {
    interruptedAtStart = await orchestrator.failInterruptedJobs(INTERRUPTED_BEFORE_START);
    await orchestrator.failInterruptedBatchRuns(INTERRUPTED_BEFORE_START);
    if (options.schedules) {
      scheduler = new LocalScheduler({
        definitions: loadBatchDefinitions(),
        start: (definition) => {
          try {
            orchestrator.authorizeScheduledStart();
          } catch (error) {
            // EventBridge Scheduler records the failed invocation and sends it to the DLQ; locally it is said aloud.
            process.stderr.write(`Schedule ${definition.name} did not start: ${(error as Error).message}\n`);
            return;
          }
          orchestrator.startBatch(batchExecutionInput(definition, 'schedule')).then(
            (run) => options.onScheduledRun?.(definition, run.runId),
            (error: unknown) =>
              process.stderr.write(
                `Schedule of batch ${definition.name} could not start a run: ${error instanceof Error ? error.message : String(error)}\n`,
              ),
          );
        },
      });
      scheduler.run();
    }
    api = await startLocalApiServer({
      apiFunction: orchestrator.functionFor('api'),
      apiKey,
      port: options.apiPort,
      host,
    });
  } catch (error) {
    await consoleServer.close();
    scheduler?.stop();
    await sfn.close();
    await orchestrator.close();
    throw error;
  }
  lateApi.url = api.url;
  return {
    apiUrl: api.url,
    sfnEndpoint: sfn.url,
    consoleUrl: consoleServer.url,
    apiKey,
    orchestrator,
    interruptedAtStart,
    ...(scheduler ? { scheduler } : {}),
    close: async ({ simulateCrash = false } = {}) => {
      await consoleServer.close();
      scheduler?.stop();
      await api.close();
      const interrupted = simulateCrash ? [] : await orchestrator.stopRunningJobs(INTERRUPTED_AT_STOP);
      await sfn.close();
      await orchestrator.close();
      return interrupted;
    },
  };
}
