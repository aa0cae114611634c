import {
  AccessDenied,
  assumedRoleArn,
  authorize,
  roleLogicalIdOf,
  rolesFromTemplate,
  serviceCanAssume,
} from '../../../../local/runtime/iam-roles';
import type { CfnTemplate } from '../../../../local/runtime/synthesized-stack';

const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs';

/** A function role as CDK synthesizes it: trust in the role, grants in a separate AWS::IAM::Policy. */
const template = (): CfnTemplate => ({
  Resources: {
    Jobs: { Type: 'AWS::DynamoDB::Table', Properties: {} },
    WorkerRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
        Policies: [
          {
            PolicyName: 'inline',
            PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' }] },
          },
        ],
      },
    },
    WorkerRolePolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'grants',
        Roles: [{ Ref: 'WorkerRole' }],
        PolicyDocument: {
          Statement: [
            { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: { 'Fn::GetAtt': ['Jobs', 'Arn'] } },
          ],
        },
      },
    },
    MachineRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'states.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
      },
    },
  },
});

const thrownBy = (act: () => void): unknown => {
  try {
    act();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('the roles of a synthesized template', () => {
  it('gather each role’s inline policies and the policies attached to it, with intrinsics resolved', () => {
    const worker = rolesFromTemplate(template()).get('WorkerRole');

    expect(worker?.arn).toBe('arn:aws:iam::000000000000:role/WorkerRole');
    expect(worker?.policies).toEqual([
      { Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' }] },
      { Statement: [{ Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: TABLE_ARN }] },
    ]);
  });

  it('refuse a role with AWS managed policies, whose statements the template does not hold', () => {
    const withManaged = template();
    withManaged.Resources.WorkerRole!.Properties!.ManagedPolicyArns = [
      'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    ];

    expect(() => rolesFromTemplate(withManaged)).toThrow(/WorkerRole has AWS managed policies/);
  });

  it('refuse a policy attached to something that is not a role of the template', () => {
    const stray = template();
    stray.Resources.WorkerRolePolicy!.Properties!.Roles = [{ Ref: 'Jobs' }];

    expect(() => rolesFromTemplate(stray)).toThrow(/attached to Jobs, which is not a role here/);
  });
});

describe('who may assume a role', () => {
  const roles = rolesFromTemplate(template());

  it('is the service its trust policy names, and no other', () => {
    const worker = roles.get('WorkerRole')!;

    expect(serviceCanAssume(worker, 'lambda.amazonaws.com')).toBe(true);
    expect(serviceCanAssume(worker, 'states.amazonaws.com')).toBe(false);
  });

  it('is decided with the trust policy’s conditions on the request’s context keys', () => {
    const machine = roles.get('MachineRole')!;

    expect(serviceCanAssume(machine, 'states.amazonaws.com', { 'aws:SourceAccount': '000000000000' })).toBe(
      true,
    );
    expect(serviceCanAssume(machine, 'states.amazonaws.com', { 'aws:SourceAccount': '111111111111' })).toBe(
      false,
    );
  });
});

describe('authorizing a request of a principal', () => {
  const principal = { role: rolesFromTemplate(template()).get('WorkerRole')!, sessionName: 'WorkerFunction' };

  it('names the principal as the assumed role with the session name', () => {
    expect(assumedRoleArn(principal)).toBe(
      'arn:aws:sts::000000000000:assumed-role/WorkerRole/WorkerFunction',
    );
  });

  it('lets through what the role’s policies allow', () => {
    expect(() => authorize(principal, { action: 'dynamodb:UpdateItem', resource: TABLE_ARN })).not.toThrow();
  });

  it('throws AccessDenied with the service’s error code and AWS’s message otherwise', () => {
    const denial = thrownBy(() =>
      authorize(principal, { action: 'dynamodb:DeleteItem', resource: TABLE_ARN }),
    );

    expect(denial).toBeInstanceOf(AccessDenied);
    expect(denial).toMatchObject({
      name: 'AccessDeniedException',
      code: 'AccessDeniedException',
      action: 'dynamodb:DeleteItem',
      resource: TABLE_ARN,
      message: `User: arn:aws:sts::000000000000:assumed-role/WorkerRole/WorkerFunction is not authorized to perform: dynamodb:DeleteItem on resource: ${TABLE_ARN} because no identity-based policy allows the dynamodb:DeleteItem action`,
    });
    expect(
      thrownBy(() =>
        authorize(principal, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }, 'AccessDenied'),
      ),
    ).toMatchObject({ name: 'AccessDenied' });
  });
});

describe('the role a resource names', () => {
  it('is the logical id its Fn::GetAtt Arn points at', () => {
    expect(roleLogicalIdOf({ 'Fn::GetAtt': ['WorkerRole', 'Arn'] }, 'WorkerFunction')).toBe('WorkerRole');
  });

  it('cannot be evaluated when it is not a role of the template', () => {
    expect(() => roleLogicalIdOf('arn:aws:iam::123456789012:role/Elsewhere', 'WorkerFunction')).toThrow(
      /WorkerFunction: its role is not a role of this template/,
    );
  });
});
