import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  jobsTableSchema,
  type KeySchemaElement,
  type TableSchema,
  TTL_ATTRIBUTE,
} from '../../lambdas/shared/storage/table-layout';

export interface JobsTableProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN (job history outlives the stack)
   */
  readonly removalPolicy?: RemovalPolicy;
}

const ATTRIBUTE_TYPES = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
} as const;

/** A key schema of the table layout as the CDK takes it. */
function cdkKeys(keys: KeySchemaElement[], schema: TableSchema) {
  const attribute = (keyType: KeySchemaElement['KeyType']): dynamodb.Attribute | undefined => {
    const name = keys.find((key) => key.KeyType === keyType)?.AttributeName;
    const definition = schema.AttributeDefinitions.find((candidate) => candidate.AttributeName === name);
    return definition && { name: definition.AttributeName, type: ATTRIBUTE_TYPES[definition.AttributeType] };
  };
  const partitionKey = attribute('HASH');
  if (!partitionKey) throw new Error('The table layout names no defined partition key');
  return { partitionKey, sortKey: attribute('RANGE') };
}

/**
 * One table for jobs and their subtasks (pk `JOB#<id>`; sk `JOB` or `SUBTASK#<id>`), billed on
 * demand, with point-in-time recovery and a TTL attribute (`expiresAt`, epoch seconds). Its keys and
 * indexes are the table layout's (`jobsTableSchema`).
 */
export class JobsTable extends Construct {
  public readonly table: dynamodb.Table;
  public static readonly TTL_ATTRIBUTE = TTL_ATTRIBUTE;

  constructor(scope: Construct, id: string, props: JobsTableProps = {}) {
    super(scope, id);
    const schema = jobsTableSchema();
    this.table = new dynamodb.Table(this, 'Table', {
      ...cdkKeys(schema.KeySchema, schema),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: JobsTable.TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of schema.GlobalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.IndexName,
        ...cdkKeys(index.KeySchema, schema),
        projectionType: dynamodb.ProjectionType[index.Projection.ProjectionType],
        nonKeyAttributes: index.Projection.NonKeyAttributes,
      });
    }
  }
}
