import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { JobsTable } from '../../lib/constructs/jobs-table';
import { createDocumentClient, JobRepository } from '../../lambdas/shared/storage/job-repository';
import { ensureTable, type LocalDynamoDB, startLocalDynamoDB } from '../../local/runtime/dynamodb';
import { type CfnTemplate, createTableInput } from '../../local/runtime/synthesized-stack';

export interface TestTable {
  dynamodb: LocalDynamoDB;
  repository: JobRepository;
  /** The document client the repository uses, for reading raw items. */
  documents: DynamoDBDocumentClient;
  tableName: string;
  close(): Promise<void>;
}

let tableCounter = 0;

/** The jobs table's properties as the JobsTable construct synthesizes them (keys and indexes). */
function jobsTableProperties(): Parameters<typeof createTableInput>[1] {
  const stack = new Stack(new App(), 'TableOnly');
  new JobsTable(stack, 'Jobs');
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  const table = Object.values(template.Resources).find(
    (resource) => resource.Type === 'AWS::DynamoDB::Table',
  );
  return table?.Properties ?? {};
}

/** An in-memory dynalite with the jobs table as the stack defines it, for tests of the Lambda cores. */
export async function startTestTable(now?: () => Date): Promise<TestTable> {
  const dynamodb = await startLocalDynamoDB();
  const tableName = `jobs-test-${++tableCounter}`;
  await ensureTable(dynamodb.client, createTableInput(tableName, jobsTableProperties()));
  const documents = createDocumentClient({ region: 'us-east-1', endpoint: dynamodb.endpoint });
  const repository = new JobRepository(documents, tableName, 30, now);
  return { dynamodb, repository, documents, tableName, close: () => dynamodb.close() };
}
