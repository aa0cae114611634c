import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { buildApp } from '../../lib/app';
import type { OrchestratorConfig } from '../../lib/config';
import { WorkflowFunction } from '../../lib/constructs/workflow-function';
import {
  type CfnTemplate,
  localStackFromTemplate,
  type SynthesizedStack,
  type TemplateBindings,
} from './synthesized-stack';

/**
 * Synthesizes the CDK app in-process (without bundling: locally the handlers run from source) and
 * extracts what the local runtime needs (`localStackFromTemplate`). Local runs reach this only when
 * the template cache misses (template-cache.ts): it loads aws-cdk-lib and takes seconds.
 */
export function synthesizeLocalStack(
  config: OrchestratorConfig,
  /** Tests only: changes the synthesized template before the local stack reads it. */
  editTemplate?: (template: CfnTemplate) => void,
): SynthesizedStack {
  const { template, bindings } = synthesizeTemplate(config);
  editTemplate?.(template);
  return localStackFromTemplate(template, bindings);
}

/** The synthesized template (a copy of its own) and which of its resources the local runtime binds. */
export function synthesizeTemplate(config: OrchestratorConfig): {
  template: CfnTemplate;
  bindings: TemplateBindings;
} {
  const { app, stack } = buildApp({ config, skipBundling: true });
  const assembly = app.synth();
  const template = JSON.parse(
    JSON.stringify(assembly.getStackArtifact(stack.artifactId).template),
  ) as CfnTemplate;
  const logicalIdOf = (construct: IConstruct) =>
    Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
  const functions = stack.node
    .findAll()
    .filter((construct): construct is WorkflowFunction => construct instanceof WorkflowFunction)
    .map((fn) => ({ logicalId: logicalIdOf(fn), entry: fn.entry }));
  return {
    template,
    bindings: {
      orchestratorLogicalId: logicalIdOf(stack.workflow.stateMachine),
      batchLogicalId: logicalIdOf(stack.batchWorkflow.stateMachine),
      jobsTableLogicalId: logicalIdOf(stack.jobs.table),
      functions,
    },
  };
}
