import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  JOB_INDEXES,
  JOB_SUMMARY_ATTRIBUTES,
  TTL_ATTRIBUTE,
} from '../../lambdas/shared/storage/table-layout';

export interface JobsTableProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN (job history outlives the stack)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * One table for jobs and their subtasks (pk `JOB#<id>`; sk `JOB` or `SUBTASK#<id>`), billed on
 * demand, with point-in-time recovery and a TTL attribute (`expiresAt`, epoch seconds).
 */
export class JobsTable extends Construct {
  public readonly table: dynamodb.Table;
  public static readonly TTL_ATTRIBUTE = TTL_ATTRIBUTE;

  constructor(scope: Construct, id: string, props: JobsTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: JobsTable.TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Listing newest first, all jobs or one status. Only job items carry these keys, so the indexes stay small.
    const summary = {
      sortKey: { name: 'createdAt', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...JOB_SUMMARY_ATTRIBUTES],
    };
    this.table.addGlobalSecondaryIndex({
      indexName: JOB_INDEXES.byCreatedAt,
      partitionKey: { name: 'entity', type: dynamodb.AttributeType.STRING },
      ...summary,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: JOB_INDEXES.byStatus,
      partitionKey: { name: 'jobStatus', type: dynamodb.AttributeType.STRING },
      ...summary,
    });
  }
}
