#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadBatchDefinitions } from '../lib/batch-definitions';
import { loadConfig } from '../lib/config';
import { acknowledgeNagFindings } from '../lib/nag-acknowledgements';
import { checkBatchLanes, OrchestratorStack } from '../lib/orchestrator-stack';
import { STACK_ID } from '../lib/app';

const app = new App();
const config = loadConfig(app.node.tryGetContext('orchestrator'), process.env);
// An invalid file fails `cdk synth` here, naming the file and the field.
const batches = loadBatchDefinitions();
// So does a batch asking for the Message Batches lane on a provider without one (bedrock).
checkBatchLanes(batches, config.provider);
const stack = new OrchestratorStack(app, STACK_ID, {
  config,
  batches,
  description: 'Serverless orchestrator-workers LLM content generation (Step Functions + Lambda + DynamoDB)',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});

// cdk-nag (AwsSolutions) runs at every synth; a finding that is neither fixed nor acknowledged with a
// reason in lib/nag-acknowledgements.ts fails it.
const unacknowledged = acknowledgeNagFindings(stack);
if (unacknowledged.length > 0) {
  throw new Error(
    `cdk-nag findings without an acknowledgement:\n${unacknowledged.map((f) => `  ${f.rule} at ${f.path}`).join('\n')}`,
  );
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
