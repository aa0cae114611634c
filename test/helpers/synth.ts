import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../lib/app';
import { parseConfig, type OrchestratorConfigInput } from '../../lib/config';
import { type CfnTemplate, resolveIntrinsics } from '../../local/runtime/synthesized-stack';

export interface SynthesizedForTest {
  template: Template;
  json: CfnTemplate;
  /** The orchestrator state machine's definition with intrinsics resolved. */
  definition: AslDefinition;
}

export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Retry?: {
    ErrorEquals: string[];
    IntervalSeconds?: number;
    MaxAttempts?: number;
    BackoffRate?: number;
    MaxDelaySeconds?: number;
    JitterStrategy?: string;
  }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  [key: string]: unknown;
}
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  [key: string]: unknown;
}

/** Synthesizes the stack without bundling (assertions do not need the code). */
export function synthesize(config: OrchestratorConfigInput = {}): SynthesizedForTest {
  const { stack } = buildApp({ config: parseConfig(config), skipBundling: true });
  const template = Template.fromStack(stack);
  const json = template.toJSON() as CfnTemplate;
  const [machine] = Object.values(json.Resources).filter(
    (resource) => resource.Type === 'AWS::StepFunctions::StateMachine',
  );
  const definition = JSON.parse(
    String(resolveIntrinsics(machine?.Properties?.DefinitionString ?? null, json)),
  ) as AslDefinition;
  return { template, json, definition };
}
