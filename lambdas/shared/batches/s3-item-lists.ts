import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BatchItemLists, BatchItemRef } from './item-lists';

/** Item lists as JSON objects in the batch items bucket. */
export class S3BatchItemLists implements BatchItemLists {
  constructor(
    private readonly s3: Pick<S3Client, 'send'>,
    private readonly bucketName: string,
  ) {}

  async put(key: string, items: readonly BatchItemRef[]): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucketName,
        Key: key,
        Body: JSON.stringify(items),
        ContentType: 'application/json',
      }),
    );
  }
}
