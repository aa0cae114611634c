import { createDocumentClient, JobRepository } from '../../lambdas/shared/job-repository';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from '../../local/local-dynamodb';

export interface TestTable {
  dynamodb: LocalDynamoDB;
  repository: JobRepository;
  tableName: string;
  close(): Promise<void>;
}

let tableCounter = 0;

/** An in-memory dynalite with the jobs table's key schema, for tests of the Lambda cores. */
export async function startTestTable(now?: () => Date): Promise<TestTable> {
  const dynamodb = await startLocalDynamoDB();
  const tableName = `jobs-test-${++tableCounter}`;
  await ensureTable(dynamodb.client, {
    TableName: tableName,
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    BillingMode: 'PAY_PER_REQUEST',
  });
  const documents = createDocumentClient({ region: 'us-east-1', endpoint: dynamodb.endpoint });
  const repository = new JobRepository(documents, tableName, 30, now);
  return { dynamodb, repository, tableName, close: () => dynamodb.close() };
}
