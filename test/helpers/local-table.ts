import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient, JobRepository } from '../../lambdas/shared/storage/job-repository';
import { jobsTableSchema } from '../../lambdas/shared/storage/table-layout';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from '../../local/runtime/dynamodb';

export interface TestTable {
  dynamodb: LocalDynamoDB;
  repository: JobRepository;
  /** The document client the repository uses, for reading raw items. */
  documents: DynamoDBDocumentClient;
  tableName: string;
  close(): Promise<void>;
}

let tableCounter = 0;

/**
 * An in-memory dynalite with the jobs table's keys and indexes from the table layout, for tests of the
 * Lambda cores. The stack test of JobsTable keeps the deployed table equal to the same layout.
 */
export async function startTestTable(now?: () => Date): Promise<TestTable> {
  const dynamodb = await startLocalDynamoDB();
  const tableName = `jobs-test-${++tableCounter}`;
  await ensureTable(dynamodb.client, {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    ...jobsTableSchema(),
  });
  const documents = createDocumentClient({ region: 'us-east-1', endpoint: dynamodb.endpoint });
  const repository = new JobRepository(documents, tableName, 30, now);
  return { dynamodb, repository, documents, tableName, close: () => dynamodb.close() };
}
