import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../../lib/app';
import { parseConfig, type OrchestratorConfigInput } from '../../../lib/config';
import { acknowledgeNagFindings, NAG_ACKNOWLEDGEMENTS } from '../../../lib/nag-acknowledgements';

const VARIANTS: [string, OrchestratorConfigInput][] = [
  ['the default stack', {}],
  ['the Bedrock stack', { provider: 'bedrock' }],
  ['the Distributed Map stack', { batchMap: 'distributed' }],
];

/** Findings before acknowledgement, per variant, so the test can check that every acknowledgement is used. */
const rawFindings: string[] = [];

describe('cdk-nag (AwsSolutions)', () => {
  it.each(VARIANTS)('leaves no unacknowledged finding in %s', (_label, config) => {
    // Arrange
    const { stack } = buildApp({ config: parseConfig(config), skipBundling: true });
    rawFindings.push(
      ...new AwsSolutionsChecks().validateScope(stack).violations.map((violation) => violation.ruleName),
    );

    // Act
    const unacknowledged = acknowledgeNagFindings(stack);

    // Assert
    expect(unacknowledged).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });

  it('fixes rather than acknowledges the managed Lambda execution policy (IAM4)', () => {
    expect(rawFindings.length).toBeGreaterThan(0);
    expect(rawFindings.filter((rule) => rule.startsWith('AwsSolutions-IAM4'))).toEqual([]);
  });

  it('justifies every acknowledgement, and each one is still needed', () => {
    for (const entry of NAG_ACKNOWLEDGEMENTS) {
      expect(entry.reason.length).toBeGreaterThan(40);
      expect(rawFindings.some((rule) => entry.rule.test(rule))).toBe(true);
    }
  });
});
