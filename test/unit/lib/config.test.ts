import * as path from 'node:path';
import { DEFAULT_BEDROCK_MODELS, parseBedrockModelId } from '../../../lib/bedrock-models';
import {
  DEFAULT_MODELS,
  LOG_RETENTION_DAYS,
  loadConfig,
  modelsForRole,
  parseConfig,
  profileModelProblems,
} from '../../../lib/config';
import { PROFILES } from '../../../lambdas/shared/domain/profiles';

describe('the deployment configuration', () => {
  it('takes approval and budget defaults and the approval timeout, refusing what a job could not run with', () => {
    expect(parseConfig({})).toMatchObject({ defaults: { approval: 'none' }, approvalTimeoutHours: 24 });
    expect(
      parseConfig({
        defaults: { approval: { autoApproveUnderUsd: 0.2 }, budget: { maxCostUsd: 1 } },
        approvalTimeoutHours: 4,
      }),
    ).toMatchObject({
      defaults: { approval: { autoApproveUnderUsd: 0.2 }, budget: { maxCostUsd: 1 } },
      approvalTimeoutHours: 4,
    });
    expect(() => parseConfig({ approvalTimeoutHours: 169 })).toThrow(/approvalTimeoutHours/);
    expect(() => parseConfig({ defaults: { budget: { maxCostUsd: -1 } } })).toThrow(
      /defaults\.budget\.maxCostUsd/,
    );
  });

  it('accepts every retention period CloudWatch Logs offers', () => {
    for (const days of LOG_RETENTION_DAYS)
      expect(parseConfig({ logRetentionDays: days }).logRetentionDays).toBe(days);
  });

  it('refuses a log retention CloudWatch Logs does not offer, listing the ones it does', () => {
    expect(() => parseConfig({ logRetentionDays: 31 })).toThrow(
      /logRetentionDays: must be one of CloudWatch Logs' retention periods: 1, 3, 5, 7, 14, 30, 60/,
    );
  });

  it('lets the per-role model variables and MODEL_PROVIDER win over the context', () => {
    const config = loadConfig(
      { models: { worker: 'claude-opus-5-5' } },
      { WORKER_MODEL: 'claude-haiku-5-5' },
    );
    expect(config.models.worker).toBe('claude-haiku-5-5');
    expect(loadConfig({ provider: 'anthropic' }, { MODEL_PROVIDER: 'bedrock' }).provider).toBe('bedrock');
  });

  it('names the field and the reason of every problem', () => {
    expect(() => parseConfig({ maxSubtasks: 0, planRepairAttempts: 9 })).toThrow(
      /maxSubtasks: .*; planRepairAttempts: /,
    );
  });
});

describe('configuration', () => {
  it('defaults to models that are not in the SDK deprecated list', () => {
    const sdkDir = path.dirname(require.resolve('@anthropic-ai/sdk'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DEPRECATED_MODELS } = require(path.join(sdkDir, 'internal', 'data', 'deprecated-models.js')) as {
      DEPRECATED_MODELS: Record<string, string>;
    };
    expect(Object.keys(DEPRECATED_MODELS).length).toBeGreaterThan(0);
    for (const model of Object.values(DEFAULT_MODELS)) expect(DEPRECATED_MODELS).not.toHaveProperty(model);
  });

  it('fails with the field named when a value is out of range', () => {
    expect(() => parseConfig({ maxConcurrency: 0 })).toThrow(/maxConcurrency/);
    expect(() => parseConfig({ maxSubtasks: 0 })).toThrow(/maxSubtasks/);
    expect(() => parseConfig({ maxConcurency: 5 })).toThrow(/Unrecognized key/);
  });
});

describe('models a role may call', () => {
  const withWorkerModel = (model: string) => [{ ...PROFILES[1]!, models: { worker: model } }];

  it('are the deployment model plus any a profile sets for that role', () => {
    const config = parseConfig({ provider: 'bedrock' });
    expect(modelsForRole(config, 'worker', withWorkerModel('us.anthropic.claude-opus-5-5'))).toEqual([
      config.models.worker,
      'us.anthropic.claude-opus-5-5',
    ]);
    expect(modelsForRole(config, 'orchestrator', withWorkerModel('us.anthropic.claude-opus-5-5'))).toEqual([
      config.models.orchestrator,
    ]);
  });

  it('refuse a profile model id of the other provider, naming the profile', () => {
    expect(profileModelProblems('bedrock', withWorkerModel('claude-opus-5-5'))).toEqual([
      'profile marketing: models.worker "claude-opus-5-5" is not a Bedrock model id (provider is "bedrock")',
    ]);
    expect(profileModelProblems('anthropic', withWorkerModel('us.anthropic.claude-opus-5-5'))).toEqual([
      'profile marketing: models.worker "us.anthropic.claude-opus-5-5" is a Bedrock model id (provider is "anthropic")',
    ]);
    expect(profileModelProblems('anthropic', withWorkerModel('claude-opus-5-5'))).toEqual([]);
  });
});

describe('deployment settings for a first deploy', () => {
  it('caps maxConcurrency at 40, saying why', () => {
    expect(parseConfig({ maxConcurrency: 40 }).maxConcurrency).toBe(40);
    expect(() => parseConfig({ maxConcurrency: 41 })).toThrow(
      /maxConcurrency: must be at most 40: an inline Map state runs at most 40 iterations at once/,
    );
  });

  it('takes the KMS key of an existing secret, and only with that secret', () => {
    const secret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:anthropic-AbCdEf';
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(parseConfig({ apiKeySecretArn: secret, apiKeySecretKmsKeyArn: key }).apiKeySecretKmsKeyArn).toBe(
      key,
    );
    expect(() => parseConfig({ apiKeySecretKmsKeyArn: key })).toThrow(
      /apiKeySecretKmsKeyArn: is the key of an existing secret: set apiKeySecretArn too/,
    );
    expect(() => parseConfig({ apiKeySecretArn: secret, apiKeySecretKmsKeyArn: 'alias/mine' })).toThrow(
      /apiKeySecretKmsKeyArn: must be a KMS key ARN/,
    );
  });

  it('sets the API Gateway account role by default', () => {
    expect(parseConfig({}).api.cloudWatchRole).toBe(true);
    expect(parseConfig({ api: { cloudWatchRole: false } }).api.cloudWatchRole).toBe(false);
  });
});

describe('provider configuration', () => {
  it('defaults to the anthropic provider and its models', () => {
    expect(parseConfig({})).toMatchObject({ provider: 'anthropic', models: DEFAULT_MODELS });
  });

  it('defaults bedrock to inference profiles of the same models as the anthropic defaults', () => {
    const config = parseConfig({ provider: 'bedrock' });

    expect(config.models).toEqual(DEFAULT_BEDROCK_MODELS);
    for (const role of ['orchestrator', 'worker', 'synthesis'] as const) {
      expect(parseBedrockModelId(config.models[role])).toEqual({
        id: config.models[role],
        foundationModelId: `anthropic.${DEFAULT_MODELS[role]}`,
        inferenceProfile: 'us',
      });
    }
  });

  it('fails with the field named when a model id does not fit the provider', () => {
    expect(() => parseConfig({ provider: 'bedrock', models: { worker: 'claude-haiku-5-5' } })).toThrow(
      /models\.worker: "claude-haiku-5-5" is not a Bedrock model id/,
    );
    expect(() => parseConfig({ models: { synthesis: 'us.anthropic.claude-sonnet-5-5' } })).toThrow(
      /models\.synthesis: .* set provider "bedrock"/,
    );
    expect(() =>
      parseConfig({ provider: 'bedrock', models: { worker: 'us.meta.llama4-maverick-v1:0' } }),
    ).toThrow(/models\.worker/);
    expect(() => parseConfig({ provider: 'vertex' })).toThrow(/provider/);
  });

  it('refuses an API key secret with bedrock', () => {
    expect(() =>
      parseConfig({ provider: 'bedrock', apiKeySecretArn: 'arn:aws:secretsmanager:us-east-1:1:secret:k' }),
    ).toThrow(/apiKeySecretArn: is only used with provider "anthropic"/);
  });

  it('takes the provider from MODEL_PROVIDER over the CDK context', () => {
    expect(loadConfig({ provider: 'anthropic' }, { MODEL_PROVIDER: 'bedrock' }).provider).toBe('bedrock');
    expect(loadConfig('{"provider":"bedrock"}', {}).provider).toBe('bedrock');
  });
});

describe('batchMap setting', () => {
  it('defaults to inline and rejects anything else, naming the field', () => {
    expect(parseConfig({}).batchMap).toBe('inline');
    expect(() => parseConfig({ batchMap: 'parallel' })).toThrow(/batchMap/);
  });
});
