import { logicalIdOf as logicalIdIn } from '../../../helpers/asl';
import { Match, Template } from 'aws-cdk-lib/assertions';
import aslValidator from 'asl-validator';
import { buildApp } from '../../../../lib/app';
import { parseConfig } from '../../../../lib/config';
import { type CfnTemplate, resolveIntrinsics } from '../../../../local/runtime/synthesized-stack';
import type { AslDefinition, AslState } from '../../../helpers/synth';

function synthesizeBatches(batchMap: 'inline' | 'distributed') {
  const { stack } = buildApp({
    config: parseConfig({ batchMap, jobTtlDays: 14 }),
    skipBundling: true,
    batches: [],
  });
  const template = Template.fromStack(stack);
  const json = template.toJSON() as CfnTemplate;
  const logicalIdOf = (type: string, pattern: RegExp) => logicalIdIn(template, type, pattern);
  const machineId = logicalIdOf('AWS::StepFunctions::StateMachine', /^Batches/);
  const definition = JSON.parse(
    String(resolveIntrinsics(json.Resources[machineId]?.Properties?.DefinitionString ?? null, json)),
  ) as AslDefinition;
  return { template, json, logicalIdOf, machineId, definition };
}

const { template, json, logicalIdOf, machineId, definition } = synthesizeBatches('distributed');
const bucketId = logicalIdOf('AWS::S3::Bucket', /^BatchItems/);
const itemListsArn = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/batch-items/*']] };
const state = (name: string): AslState => {
  const found = definition.States[name];
  if (!found) throw new Error(`No state ${name}`);
  return found;
};

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
/** Every statement of the policies attached to a role. */
function statementsOf(roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}
const s3Statements = (roleId: string) =>
  statementsOf(roleId).filter((statement) =>
    ([] as string[]).concat(statement.Action).some((action) => action.startsWith('s3:')),
  );
const roleOf = (resource: { Properties?: Record<string, unknown> } | undefined, key: string) =>
  String((resource?.Properties?.[key] as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]);
const startBatchRunFunction = () =>
  Object.values(template.findResources('AWS::Lambda::Function')).find((fn) =>
    String(fn.Properties.Description).startsWith('Records a batch run'),
  );

describe('batch state machine with batchMap "distributed"', () => {
  it('passes the definition through asl-validator', () => {
    const result = aslValidator(definition as never);
    expect(result.errors).toEqual([]);
  });

  it('runs the items in a Distributed Map reading the JSON item list StartBatchRun wrote to S3', () => {
    expect(state('StartBatchRun').ResultSelector).toEqual({
      'runId.$': '$.Payload.runId',
      'batchName.$': '$.Payload.batchName',
      'maxConcurrency.$': '$.Payload.maxConcurrency',
      'modelCalls.$': '$.Payload.modelCalls',
      'itemsKey.$': '$.Payload.itemsKey',
      itemsBucket: bucketId,
    });
    const runItems = state('RunItems');
    expect(runItems).toMatchObject({
      Type: 'Map',
      ItemReader: {
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { 'Bucket.$': '$.itemsBucket', 'Key.$': '$.itemsKey' },
      },
      ItemSelector: { 'runId.$': '$.runId', 'item.$': '$$.Map.Item.Value' },
      MaxConcurrencyPath: '$.maxConcurrency',
      ResultPath: null,
      Next: 'FinishBatchRun',
    });
    expect(runItems.ItemsPath).toBeUndefined();
    expect(runItems.ResultWriter).toBeUndefined();
  });

  it('runs each item as a STANDARD child execution, and tolerates every item failing', () => {
    const runItems = state('RunItems');
    expect(runItems.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
      StartAt: 'RunJob',
    });
    expect(runItems.ToleratedFailurePercentage).toBe(100);
  });

  it('keeps the item processor: RunJob with .sync:2, then RecordItemResult, failures to RecordItemFailure', () => {
    const processor = state('RunItems').ItemProcessor as AslDefinition;
    const runJob = processor.States.RunJob;
    expect(runJob?.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect(runJob?.Next).toBe('RecordItemResult');
    expect(runJob?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], Next: 'RecordItemFailure', ResultPath: '$.error' },
    ]);
  });

  it('may read only the item lists from S3, and start its own child executions', () => {
    const roleId = roleOf(json.Resources[machineId], 'RoleArn');

    expect(s3Statements(roleId)).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: itemListsArn },
    ]);
    const starts = statementsOf(roleId)
      .filter((statement) => ([] as string[]).concat(statement.Action).includes('states:StartExecution'))
      .map((statement) => statement.Resource);
    expect(starts).toEqual(
      expect.arrayContaining([
        { Ref: machineId },
        { Ref: logicalIdOf('AWS::StepFunctions::StateMachine', /^Workflow/) },
      ]),
    );
    expect(starts).toHaveLength(2);
  });

  it('lets StartBatchRun only put item lists, and tells it the bucket', () => {
    const fn = startBatchRunFunction();

    expect(s3Statements(roleOf(fn, 'Role'))).toEqual([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: itemListsArn },
    ]);
    expect(fn?.Properties.Environment.Variables).toMatchObject({ BATCH_ITEMS_BUCKET: { Ref: bucketId } });
  });
});

describe('batch items bucket', () => {
  it('is encrypted, private and TLS-only, with no fixed name', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketName: Match.absent(),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('expires item lists after jobTtlDays, like the jobs they name', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Prefix: 'batch-items/', ExpirationInDays: 14, Status: 'Enabled' })],
      },
    });
  });

  it('is removed with the stack, objects and all', () => {
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });

  it('gives the function that empties it an encrypted log group that expires, in place before it runs', () => {
    const handler = Object.values(json.Resources).find((resource) =>
      JSON.stringify(resource.Properties?.Description ?? '').includes('auto-deleting objects'),
    );
    const logGroupId = (handler?.Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(json.Resources[logGroupId]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: {
        RetentionInDays: 30,
        KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^LogEncryption/), 'Arn'] },
      },
    });
  });
});

describe('batch state machine with batchMap "inline" (the default)', () => {
  const inline = synthesizeBatches('inline');

  it('creates no bucket and keeps the items in the state', () => {
    inline.template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(inline.definition.States.RunItems).toMatchObject({ ItemsPath: '$.items' });
    expect(inline.definition.States.RunItems?.ItemReader).toBeUndefined();
    expect(JSON.stringify(inline.json)).not.toContain('BATCH_ITEMS_BUCKET');
  });
});
