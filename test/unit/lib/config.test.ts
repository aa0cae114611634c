import { LOG_RETENTION_DAYS, loadConfig, parseConfig } from '../../../lib/config';

describe('the deployment configuration', () => {
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
