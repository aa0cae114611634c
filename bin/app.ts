#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { loadBatchDefinitions } from '../lib/batch-definitions';
import { loadConfig } from '../lib/config';
import { OrchestratorStack } from '../lib/orchestrator-stack';
import { STACK_ID } from '../lib/app';

const app = new App();
const config = loadConfig(app.node.tryGetContext('orchestrator'), process.env);
new OrchestratorStack(app, STACK_ID, {
  config,
  // An invalid file fails `cdk synth` here, naming the file and the field.
  batches: loadBatchDefinitions(),
  description: 'Serverless orchestrator-workers LLM content generation (Step Functions + Lambda + DynamoDB)',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
