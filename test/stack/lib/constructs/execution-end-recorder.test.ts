import { Match } from 'aws-cdk-lib/assertions';
import { synthesize } from '../../../helpers/synth';

const { template, json } = synthesize();
const machineIds = Object.entries(json.Resources)
  .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
  .map(([logicalId]) => logicalId);
const recorderId = Object.entries(json.Resources).find(
  ([, resource]) =>
    resource.Type === 'AWS::Lambda::Function' &&
    String(resource.Properties?.Description).startsWith('Records jobs and batch runs whose execution'),
)?.[0];

describe('recording executions that ended without their own failure handling', () => {
  it('has a rule on both state machines for TIMED_OUT, ABORTED and FAILED that invokes the recorder', () => {
    expect(machineIds).toHaveLength(2);
    expect(recorderId).toBeDefined();
    template.hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['TIMED_OUT', 'ABORTED', 'FAILED'],
          stateMachineArn: Match.arrayWith(machineIds.map((id) => ({ Ref: id }))),
        },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [recorderId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 86_400 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [recorderId, 'Arn'] },
    });
  });

  it('tells the recorder which state machine is which', () => {
    const variables = (json.Resources[recorderId!]?.Properties?.Environment as { Variables: object })
      .Variables;
    expect(Object.values(variables)).toEqual(expect.arrayContaining(machineIds.map((id) => ({ Ref: id }))));
  });

  it('lets the recorder read and update the table items only', () => {
    const roleId = (json.Resources[recorderId!]?.Properties?.Role as { 'Fn::GetAtt': [string] })[
      'Fn::GetAtt'
    ][0];
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
      .flatMap((statement) => [statement.Action].flat())
      .filter((action) => !action.startsWith('logs:') && !action.startsWith('xray:'))
      .sort();
    expect(actions).toEqual(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
  });
});
