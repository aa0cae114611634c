import { Match } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../../../lambdas/api/routes';
import { synthesize } from '../../../helpers/synth';

const { template, json } = synthesize({
  api: { throttleRateLimit: 7, throttleBurstLimit: 14, quotaPerDay: 500, maxBodyBytes: 32_768 },
});

/** `/jobs/{jobId}` for each method resource in the template. */
function methodPaths(): string[] {
  const resources = json.Resources;
  const pathOf = (resourceId: unknown): string => {
    if (typeof resourceId === 'object' && resourceId && 'Fn::GetAtt' in resourceId) return '';
    const id = (resourceId as { Ref: string }).Ref;
    const resource = resources[id]?.Properties as { ParentId: unknown; PathPart: string };
    return `${pathOf(resource.ParentId)}/${resource.PathPart}`;
  };
  return Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
    .map((method) => `${method.Properties?.HttpMethod} ${pathOf(method.Properties?.ResourceId)}`)
    .sort();
}

describe('jobs API', () => {
  it('has exactly the routes of the shared route table', () => {
    expect(methodPaths()).toEqual(ROUTES.map((route) => `${route.method} ${route.resource}`).sort());
  });

  it('requires an API key on every method and sends every route to the api function', () => {
    const methods = template.findResources('AWS::ApiGateway::Method');
    expect(Object.keys(methods)).toHaveLength(ROUTES.length);
    for (const method of Object.values(methods)) {
      expect(method.Properties).toMatchObject({ ApiKeyRequired: true, Integration: { Type: 'AWS_PROXY' } });
    }
  });

  it('has a usage plan with the configured throttling and quota, bound to the key and the stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 7, BurstLimit: 14 },
      Quota: { Limit: 500, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  it('logs access and traces requests', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('requestId'),
      }),
    });
  });

  it('answers a missing or wrong key in the documented error shape', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'INVALID_API_KEY',
      StatusCode: '403',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"code":"INVALID_API_KEY"') },
    });
  });

  it('gives the api function the body limit and the state machine to start', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Jobs API'),
      Environment: {
        Variables: Match.objectLike({
          MAX_BODY_BYTES: '32768',
          STATE_MACHINE_ARN: { Ref: Match.stringLikeRegexp('StateMachine') },
        }),
      },
    });
  });

  it('lets the api function stop only executions of the orchestrator state machine', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([logicalId]) => logicalId.startsWith('JobsApi'))
      .map(([, policy]) => policy);
    const stop = policies
      .flatMap(
        (policy) =>
          policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      )
      .filter((statement) => [statement.Action].flat().includes('states:StopExecution'));
    expect(stop).toHaveLength(1);
    expect(JSON.stringify(stop[0]?.Resource)).toMatch(/:execution:/);
    expect(JSON.stringify(stop[0]?.Resource)).toMatch(/StateMachine/);
  });

  it("sets the account's CloudWatch Logs role for access logging by default, and keeps it when the stack goes", () => {
    const accounts = template.findResources('AWS::ApiGateway::Account');
    expect(Object.keys(accounts)).toHaveLength(1);
    const account = Object.values(accounts)[0]!;
    expect(account.DeletionPolicy).toBe('Retain');
    const roleId = (account.Properties.CloudWatchRoleArn as { 'Fn::GetAtt': [string, string] })[
      'Fn::GetAtt'
    ][0];
    const role = json.Resources[roleId]!;
    expect(role.Type).toBe('AWS::IAM::Role');
    expect(JSON.stringify(role.Properties)).toContain('logs:PutLogEvents');
    expect(JSON.stringify(role.Properties)).toContain('apigateway.amazonaws.com');
    expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    expect((role as { DeletionPolicy?: string }).DeletionPolicy).toBe('Retain');
    // The stage (with access logging) is created only once the account setting is in place.
    const stages = Object.values(template.findResources('AWS::ApiGateway::Stage'));
    expect(stages).toHaveLength(1);
    expect(stages[0]!.DependsOn).toEqual(expect.arrayContaining([Object.keys(accounts)[0]]));
  });

  it('leaves the account setting alone with api.cloudWatchRole false', () => {
    const { template: without } = synthesize({ api: { cloudWatchRole: false } });
    expect(Object.keys(without.findResources('AWS::ApiGateway::Account'))).toEqual([]);
  });

  it('renders every gateway response as valid JSON in the documented error shape', () => {
    const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'));
    expect(responses.length).toBeGreaterThanOrEqual(6);
    // API Gateway substitutes $context.error.messageString with the message as a quoted JSON string.
    const gatewayMessage = JSON.stringify('Missing Authentication Token "x"');
    for (const response of responses) {
      const body = String(
        (response.Properties.ResponseTemplates as Record<string, string>)['application/json'],
      ).replaceAll('$context.error.messageString', gatewayMessage);
      const parsed = JSON.parse(body) as { error: { code: string; message: string } };
      expect(parsed.error).toEqual({ code: expect.any(String), message: expect.any(String) });
    }
    const default4xx = responses.find((response) => response.Properties.ResponseType === 'DEFAULT_4XX')!;
    const body = String(
      (default4xx.Properties.ResponseTemplates as Record<string, string>)['application/json'],
    ).replaceAll('$context.error.messageString', gatewayMessage);
    expect(JSON.parse(body)).toEqual({
      error: { code: 'BAD_REQUEST', message: 'Missing Authentication Token "x"' },
    });
  });
});
