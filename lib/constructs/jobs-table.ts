import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

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
  public static readonly TTL_ATTRIBUTE = 'expiresAt';

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
  }
}
