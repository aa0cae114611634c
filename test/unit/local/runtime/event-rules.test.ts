import { LocalEventRules, type LocalEvent } from '../../../../local/runtime/event-rules';
import type { LocalLambdaFunction } from '../../../../local/runtime/lambda';
import {
  type CfnTemplate,
  type LocalEventRuleSpec,
  localStackFromTemplate,
} from '../../../../local/runtime/synthesized-stack';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:RecorderFunction';
const RULE_ARN = 'arn:aws:events:us-east-1:000000000000:rule/EndsRule';

const rule: LocalEventRuleSpec = {
  logicalId: 'EndsRule',
  arn: RULE_ARN,
  eventPattern: { source: ['aws.states'], detail: { status: ['FAILED'] } },
  targets: [FUNCTION_ARN],
};

const event: LocalEvent = {
  version: '0',
  id: 'event-1',
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  account: '000000000000',
  time: '2026-12-01T00:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { status: 'FAILED' },
};

/** EventBridge's permission on the function as CDK synthesizes it for a rule target. */
const permissionFrom = (sourceArn: string) => ({
  functionArn: FUNCTION_ARN,
  action: 'lambda:InvokeFunction',
  principal: 'events.amazonaws.com',
  sourceArn,
});

function rulesWith(permissions: ReturnType<typeof permissionFrom>[] | undefined) {
  const invoke = jest.fn(() => Promise.resolve(null));
  const warnings: string[] = [];
  const functions = new Map([[FUNCTION_ARN, { invoke } as unknown as LocalLambdaFunction]]);
  const rules = new LocalEventRules([rule], functions, {
    ...(permissions ? { permissions } : {}),
    warn: (line) => warnings.push(line),
  });
  return { rules, invoke, warnings };
}

describe('an EventBridge rule delivering to a function, locally', () => {
  it('invokes the function when its permission lets events.amazonaws.com invoke it from the rule', async () => {
    const { rules, invoke, warnings } = rulesWith([permissionFrom(RULE_ARN)]);

    rules.publish(event);
    await rules.settled();

    expect(invoke).toHaveBeenCalledWith(event);
    expect(rules.failures).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('does not invoke the function without that permission, records the failure and says so in one line', async () => {
    const { rules, invoke, warnings } = rulesWith([]);

    rules.publish(event);
    await rules.settled();

    expect(invoke).not.toHaveBeenCalled();
    expect(rules.failures).toHaveLength(1);
    expect(warnings).toEqual([
      `warning: EventBridge rule EndsRule did not invoke ${FUNCTION_ARN}: no permission of the function lets events.amazonaws.com call lambda:InvokeFunction from ${RULE_ARN} (AWS drops the delivery and counts it in the rule's FailedInvocations)`,
    ]);
  });

  it('does not invoke the function when its permission names another rule as the source', async () => {
    const { rules, invoke } = rulesWith([
      permissionFrom('arn:aws:events:us-east-1:000000000000:rule/OtherRule'),
    ]);

    rules.publish(event);
    await rules.settled();

    expect(invoke).not.toHaveBeenCalled();
    expect(rules.failures).toHaveLength(1);
  });

  it('invokes the function without checking when local IAM is off', async () => {
    const { rules, invoke } = rulesWith(undefined);

    rules.publish(event);
    await rules.settled();

    expect(invoke).toHaveBeenCalledTimes(1);
  });
});

describe('the permissions read from the template', () => {
  it('resolve the function and the rule to the ARNs the rule and its target have locally', () => {
    const template: CfnTemplate = {
      Resources: {
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: { DefinitionString: '{}', RoleArn: { 'Fn::GetAtt': ['Role', 'Arn'] } },
        },
        Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [] } } },
        RecorderFunction: {
          Type: 'AWS::Lambda::Function',
          Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] } },
        },
        EndsRule: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventPattern: { source: ['aws.states'] },
            Targets: [{ Arn: { 'Fn::GetAtt': ['RecorderFunction', 'Arn'] }, Id: 'Target0' }],
          },
        },
        EndsRuleAllowEventRule: {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            Action: 'lambda:InvokeFunction',
            FunctionName: { 'Fn::GetAtt': ['RecorderFunction', 'Arn'] },
            Principal: 'events.amazonaws.com',
            SourceArn: { 'Fn::GetAtt': ['EndsRule', 'Arn'] },
          },
        },
      },
    };

    const stack = localStackFromTemplate(template, {
      orchestratorLogicalId: 'Machine',
      batchLogicalId: 'Machine',
      jobsTableLogicalId: 'Table',
      functions: [],
    });

    expect(stack.rules).toEqual([
      {
        logicalId: 'EndsRule',
        arn: RULE_ARN,
        eventPattern: { source: ['aws.states'] },
        targets: [FUNCTION_ARN],
      },
    ]);
    expect(stack.eventPermissions).toEqual([permissionFrom(RULE_ARN)]);
  });
});
