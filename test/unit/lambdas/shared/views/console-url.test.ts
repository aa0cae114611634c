import { executionConsoleUrl } from '../../../../../lambdas/shared/views/console-url';

describe('executionConsoleUrl', () => {
  it('links a deployed execution to the Step Functions console in the region of its ARN', () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:execution:WorkflowStateMachine1A2B3C:my-job-1a2b3c';

    expect(executionConsoleUrl(arn, 'http://127.0.0.1:8084/console')).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}`,
    );
  });

  it('uses the partition of the ARN for GovCloud and China', () => {
    expect(executionConsoleUrl('arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:m:j')).toMatch(
      /^https:\/\/us-gov-west-1\.console\.amazonaws-us-gov\.com\/states\/home\?region=us-gov-west-1#/,
    );
    expect(executionConsoleUrl('arn:aws-cn:states:cn-north-1:123456789012:execution:m:j')).toMatch(
      /^https:\/\/cn-north-1\.console\.amazonaws\.cn\//,
    );
  });

  it('links a local execution to the local console when one runs, and to nothing otherwise', () => {
    const arn = 'arn:aws:states:us-east-1:000000000000:execution:orchestrator:my-job-1a2b3c';

    expect(executionConsoleUrl(arn, 'http://127.0.0.1:8084/console/')).toBe(
      `http://127.0.0.1:8084/console/execution?arn=${encodeURIComponent(arn)}`,
    );
    expect(executionConsoleUrl(arn)).toBeNull();
  });

  it('gives null without an execution ARN', () => {
    expect(executionConsoleUrl(null)).toBeNull();
    expect(executionConsoleUrl('not-an-arn')).toBeNull();
    expect(executionConsoleUrl('arn:aws:states:us-east-1:123456789012:stateMachine:orchestrator')).toBeNull();
  });
});
