import '../runtime/polyfills';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { OrchestratorConfig } from '../../lib/config';
import { loadLocalConfig, localDataDir } from '../cli/config';
import { modelModeFromEnv } from '../cli/model-mode';
import type { ModelMode } from '../runtime/stack';
import { LocalStoreUnavailable } from '../runtime/shared-dynamodb';
import { PortInUseError } from './http';
import { startLocalServer } from './server';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);
const ServeEnvSchema = z.object({
  API_PORT: port(3000),
  SFN_PORT: port(8083),
  DYNAMODB_PORT: port(8000),
  SIM_MODEL_PORT: port(4010),
  CONSOLE_PORT: port(8084),
  LOCAL_API_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  LOCAL_DATA_DIR: z.string().optional(),
});

const SERVE_USAGE = `Usage: npm run serve [-- --schedules]
  --schedules   also start the batches in batches/ whose schedule comes due while the server runs`;

async function main(): Promise<void> {
  let flags;
  try {
    flags = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: { schedules: { type: 'boolean', default: false } },
    });
  } catch (error) {
    process.stderr.write(
      `error: ${error instanceof Error ? error.message : String(error)}\n${SERVE_USAGE}\n`,
    );
    process.exit(2);
  }
  const parsed = ServeEnvSchema.safeParse(process.env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    process.stderr.write(`error: ${problems}\n`);
    process.exit(2);
  }
  const env = parsed.data;
  let config: OrchestratorConfig;
  let model: ModelMode;
  try {
    // The same configuration as `cdk synth`: cdk.json's orchestrator context and the environment.
    config = loadLocalConfig(process.env);
    model = modelModeFromEnv({ ...process.env, SIM_MODEL_PORT: String(env.SIM_MODEL_PORT) }, config.provider);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const provider = config.provider;
  const server = await startLocalServer({
    config,
    model,
    dataDir: localDataDir(process.env),
    dynamoPort: env.DYNAMODB_PORT,
    apiPort: env.API_PORT,
    sfnPort: env.SFN_PORT,
    consolePort: env.CONSOLE_PORT,
    ...(env.LOCAL_API_KEY ? { apiKey: env.LOCAL_API_KEY } : {}),
    schedules: flags.values.schedules ?? false,
    onScheduledRun: (definition, runId) =>
      process.stdout.write(`Schedule fired: batch ${definition.name} run ${runId} (GET /batches/${runId})\n`),
  });
  const { dynamodb, simulatedModel } = server.orchestrator;
  const lines = [
    `Console           ${server.consoleUrl}   (executions, graphs and history; loopback only)`,
    `Jobs API          ${server.apiUrl}   (header x-api-key: ${server.apiKey})`,
    `Step Functions    ${server.sfnEndpoint}   (state machine ${server.orchestrator.stateMachineArn})`,
    `DynamoDB          ${dynamodb.endpoint}   (the data folder's store, shared with every npm start / npm run batch in it)`,
    `Models            orchestrator ${server.orchestrator.config.models.orchestrator} · workers ${server.orchestrator.config.models.worker} · synthesis ${server.orchestrator.config.models.synthesis}`,
    simulatedModel
      ? `Model             SIMULATED at ${simulatedModel.url}${provider === 'bedrock' ? ' on the Bedrock route' : ''} (a local test double, not real generation)`
      : `Model             ${model.kind === 'bedrock' ? 'Amazon Bedrock' : 'Anthropic API'}`,
    '',
    `Try: curl -s -X POST ${server.apiUrl}/jobs -H 'x-api-key: ${server.apiKey}' -H 'content-type: application/json' \\`,
    `       -d '{"task":"Write a product description for a new eco-friendly water bottle"}'`,
    server.scheduler
      ? `Schedules         on: ${
          server.scheduler
            .enabled()
            .map((d) => `${d.name} ${d.schedule.expression} ${d.schedule.timeZone}`)
            .join('; ') || 'none enabled'
        }`
      : 'Schedules         off (npm run serve -- --schedules to fire them)',
    'Ctrl-C stops the server; jobs still running are then marked FAILED (Interrupted).',
  ];
  if (server.interruptedAtStart.length > 0) {
    lines.push(
      `Marked ${server.interruptedAtStart.length} job(s) left unfinished by an earlier run as FAILED (Interrupted).`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping…\n');
    const interrupted = await server.close();
    if (interrupted.length > 0)
      process.stdout.write(
        `Marked ${interrupted.length} running job(s) FAILED (Interrupted): ${interrupted.join(', ')}\n`,
      );
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof LocalStoreUnavailable || error instanceof PortInUseError ? 2 : 1);
});
