import { Match } from 'aws-cdk-lib/assertions';
import { synthesize } from '../../../helpers/synth';

describe('log encryption', () => {
  const { template, json } = synthesize();
  const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));

  it('encrypts every log group in the stack with the rotated customer-managed key', () => {
    const logGroups = Object.entries(json.Resources).filter(
      ([, resource]) => resource.Type === 'AWS::Logs::LogGroup',
    );

    expect(logGroups.length).toBeGreaterThanOrEqual(8); // functions, state machines, API access logs
    for (const [, logGroup] of logGroups) {
      expect(logGroup.Properties?.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    }
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('lets CloudWatch Logs use the key only for log groups of this account and region', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CloudWatchLogsForThisAccountsLogGroups',
            Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': [
                    '',
                    Match.arrayWith([
                      ':logs:',
                      { Ref: 'AWS::Region' },
                      ':',
                      { Ref: 'AWS::AccountId' },
                      ':log-group:*',
                    ]),
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
  });
});
