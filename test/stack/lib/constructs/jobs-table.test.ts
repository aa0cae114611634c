import { jobsTableSchema } from '../../../../lambdas/shared/storage/table-layout';
import { synthesize } from '../../../helpers/synth';

const { template } = synthesize();

describe('jobs table', () => {
  it('is on demand, with point-in-time recovery, TTL and encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it("has exactly the table layout's keys and indexes, which the unit tests' local tables use", () => {
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const { KeySchema, AttributeDefinitions, GlobalSecondaryIndexes } = tables[0]?.Properties ?? {};

    expect(tables).toHaveLength(1);
    expect({ KeySchema, AttributeDefinitions, GlobalSecondaryIndexes }).toEqual(jobsTableSchema());
  });
});
