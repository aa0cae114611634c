import { App, type AppProps } from 'aws-cdk-lib';
import type { BatchDefinition } from '../lambdas/shared/domain/batch-schemas';
import { loadBatchDefinitions } from './batch-definitions';
import { type OrchestratorConfig } from './config';
import { OrchestratorStack } from './orchestrator-stack';

export const STACK_ID = 'OrchestratorWorkers';

export interface BuildAppOptions {
  config: OrchestratorConfig;
  /** Skip esbuild bundling: the local runtime and most tests run the handlers from source. */
  skipBundling?: boolean;
  outdir?: string;
  /** The batch definitions to schedule; default: every file in `batches/` (an invalid one throws). */
  batches?: readonly BatchDefinition[];
  /** Where to load the batch definitions from when `batches` is not given; default `batches/`. */
  batchesDir?: string;
  appProps?: AppProps;
}

/** Builds the CDK app; shared by `bin/app.ts` (cdk synth/deploy) and the local runtime. */
export function buildApp(options: BuildAppOptions): { app: App; stack: OrchestratorStack } {
  const app = new App({
    ...options.appProps,
    outdir: options.outdir,
    context: {
      'aws:cdk:enable-path-metadata': true,
      ...(options.skipBundling ? { 'aws:cdk:bundling-stacks': [] } : {}),
      ...options.appProps?.context,
    },
  });
  const stack = new OrchestratorStack(app, STACK_ID, {
    config: options.config,
    batches: options.batches ?? loadBatchDefinitions(options.batchesDir),
    ...(options.batchesDir ? { batchesDir: options.batchesDir } : {}),
    description:
      'Serverless orchestrator-workers LLM content generation (Step Functions + Lambda + DynamoDB)',
  });
  return { app, stack };
}
