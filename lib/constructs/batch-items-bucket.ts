import { CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BATCH_ITEMS_PREFIX } from '../../lambdas/shared/batches/item-lists';

export interface BatchItemsBucketProps {
  /** Days until an item list expires (the jobs' TTL: the list is no use once they are gone). */
  readonly expirationDays: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** Where CDK puts the singleton function behind `autoDeleteObjects` (aws-cdk-lib's own ids). */
const AUTO_DELETE_PROVIDER_ID = 'Custom::S3AutoDeleteObjectsCustomResourceProvider';

/** Where StartBatchRun writes each run's item list for the Distributed Map (`batch-items/<runId>.json`). */
export class BatchItemsBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: BatchItemsBucketProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'ExpireItemLists',
          prefix: BATCH_ITEMS_PREFIX,
          expiration: Duration.days(props.expirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Working data only (the outcomes are in the table): nothing worth keeping after the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    this.logAutoDeleteProvider(props.logRetention ?? logs.RetentionDays.ONE_MONTH);
  }

  /**
   * The function CDK adds to empty the bucket on deletion would log to a log group Lambda creates on
   * first use: unencrypted and kept forever. Give it one like the others (the LogEncryption aspect
   * encrypts it); the function names it in its logging configuration, so it exists before any run.
   */
  private logAutoDeleteProvider(retention: logs.RetentionDays): void {
    const provider = Stack.of(this).node.tryFindChild(AUTO_DELETE_PROVIDER_ID);
    const handler = provider?.node.tryFindChild('Handler');
    if (!(handler instanceof CfnResource))
      throw new Error(`BatchItemsBucket: no ${AUTO_DELETE_PROVIDER_ID}/Handler to give a log group`);
    const logGroup = new logs.LogGroup(this, 'AutoDeleteObjectsLogs', {
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    handler.addPropertyOverride('LoggingConfig', { LogGroup: logGroup.logGroupName });
  }
}
