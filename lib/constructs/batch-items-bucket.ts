import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BATCH_ITEMS_PREFIX } from '../../lambdas/shared/batches/item-lists';

export interface BatchItemsBucketProps {
  /** Days until an item list expires (the jobs' TTL: the list is no use once they are gone). */
  readonly expirationDays: number;
}

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
  }
}
