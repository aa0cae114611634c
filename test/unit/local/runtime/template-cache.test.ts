import { parseConfig } from '../../../../lib/config';
import { TEMPLATE_INPUTS, templateCacheKey } from '../../../../local/runtime/template-cache';

describe('the template cache', () => {
  it('is keyed by the configuration as well as the sources', () => {
    // Arrange
    const base = parseConfig({});
    const otherWorker = parseConfig({ models: { worker: 'claude-haiku-4-5' } });

    // Act / Assert
    expect(templateCacheKey(base)).toBe(templateCacheKey(parseConfig({})));
    expect(templateCacheKey(otherWorker)).not.toBe(templateCacheKey(base));
    expect(TEMPLATE_INPUTS).toEqual(
      expect.arrayContaining(['lib', 'lambdas', 'profiles', 'batches', 'cdk.json']),
    );
  });
});
