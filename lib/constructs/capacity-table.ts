import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

export interface CapacityTableProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.DESTROY (it holds only leases and buckets, which are rebuilt from nothing)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The model-call governor's state, shared by every execution: one small item per `modelLimits` key
 * (pk `LIMIT#<key>`) holding its leases and token buckets. A table of its own rather than a key
 * prefix in the jobs table: only the model-calling functions are granted it (GetItem, PutItem, UpdateItem),
 * its hot, constantly rewritten items stay out of the job history's backups, and it needs neither
 * point-in-time recovery nor retention.
 */
export class CapacityTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: CapacityTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
  }
}
