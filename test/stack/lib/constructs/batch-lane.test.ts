import { Template } from 'aws-cdk-lib/assertions';
import aslValidator from 'asl-validator';
import { buildApp } from '../../../../lib/app';
import { parseConfig } from '../../../../lib/config';
import { type CfnTemplate, resolveIntrinsics } from '../../../../local/runtime/synthesized-stack';
import type { AslDefinition, AslState } from '../../../helpers/synth';

function batchMachine(config: Parameters<typeof parseConfig>[0]) {
  const { stack } = buildApp({ config: parseConfig(config), skipBundling: true, batches: [] });
  const template = Template.fromStack(stack);
  const json = template.toJSON() as CfnTemplate;
  const id = Object.keys(template.findResources('AWS::StepFunctions::StateMachine')).find((candidate) =>
    candidate.startsWith('Batches'),
  );
  const definition = JSON.parse(
    String(resolveIntrinsics(json.Resources[id ?? '']?.Properties?.DefinitionString ?? null, json)),
  ) as AslDefinition;
  return { template, definition };
}

const { template, definition } = batchMachine({ batchPollSeconds: 45 });
const state = (name: string, machine: AslDefinition = definition): AslState => {
  const found = machine.States[name];
  if (!found) throw new Error(`No state ${name}`);
  return found;
};

describe('the Message Batches lane of the batch state machine', () => {
  it('passes asl-validator', () => {
    expect(aslValidator(definition as never).errors).toEqual([]);
  });

  it('runs phase by phase, each a Submit → Await → Check loop readable in the console', () => {
    for (const [phase, next] of [
      ['Plans', 'SubmitWorkers'],
      ['Workers', 'SubmitSyntheses'],
      ['Syntheses', 'FinishLane'],
    ] as const) {
      expect(state(`Submit${phase}`).Next).toBe(`${phase}Submitted`);
      expect(state(`${phase}Submitted`)).toMatchObject({
        Choices: [
          { Variable: '$.lane.next', StringEquals: 'await', Next: `Await${phase}` },
          { Variable: '$.lane.next', StringEquals: 'fallback', Next: 'FinishLane' },
        ],
        Default: next,
      });
      expect(state(`Await${phase}`)).toMatchObject({
        Type: 'Wait',
        SecondsPath: '$.lane.pollSeconds',
        Next: `Check${phase}`,
      });
      expect(state(`${phase}Checked`)).toMatchObject({
        Choices: [
          { Variable: '$.lane.next', StringEquals: 'await', Next: `Await${phase}` },
          { Variable: '$.lane.next', StringEquals: 'submit', Next: `Submit${phase}` },
        ],
        Default: 'FinishLane',
      });
    }
  });

  it('hands what the lane did not finish by its deadline to the on-demand Map, then finishes the run', () => {
    expect(state('FinishLane')).toMatchObject({ ResultPath: '$.fallback', Next: 'RunRestOnDemand' });
    expect(state('RunRestOnDemand')).toMatchObject({
      Type: 'Pass',
      Parameters: { 'items.$': '$.fallback.items', 'runId.$': '$.runId' },
      Next: 'RunItems',
    });
    expect(state('RunItems').Next).toBe('FinishBatchRun');
  });

  it('retries its tasks on model and Lambda faults as the model tasks do', () => {
    const errors = (state('CheckWorkers').Retry ?? []).flatMap((retry) => retry.ErrorEquals);
    expect(errors).toEqual(
      expect.arrayContaining(['ModelRateLimited', 'ModelUnavailable', 'Sandbox.Timedout']),
    );
  });

  it('catches a step that fails for good into RecordBatchFailure, as a failed Map is', () => {
    for (const name of ['SubmitPlans', 'CheckWorkers', 'SubmitSyntheses', 'FinishLane']) {
      expect(state(name).Catch).toEqual([
        { ErrorEquals: ['States.ALL'], Next: 'RecordBatchFailure', ResultPath: '$.error' },
      ]);
    }
  });

  it('polls at the configured interval (default 60 s deployed)', () => {
    const lane = Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
      String(fn.Properties.Description).startsWith('Batch lane'),
    );
    expect(lane?.Properties.Environment.Variables).toMatchObject({
      BATCH_POLL_SECONDS: '45',
      ORCHESTRATOR_MODEL: 'claude-sonnet-5-5',
      WORKER_MODEL: 'claude-haiku-5-5',
    });
    expect(parseConfig({}).batchPollSeconds).toBe(60);
  });

  it('is absent with provider bedrock: every run goes through RunItems', () => {
    const bedrock = batchMachine({ provider: 'bedrock' }).definition;
    expect(state('StartBatchRun', bedrock).Next).toBe('RunItems');
    expect(bedrock.States.SubmitPlans).toBeUndefined();
  });
});
