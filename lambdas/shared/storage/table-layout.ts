/**
 * The single table's layout: keys, entity names, indexes and the TTL attribute. It imports nothing,
 * so the CDK construct that creates the table shares it without pulling in the AWS SDK.
 *
 * A job and its subtasks share a partition (`JOB#<id>`), as do a batch run and its items
 * (`BATCH#<runId>`), so one Query reads a whole job or run.
 */
export const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
export const subtaskKey = (jobId: string, subtaskId: string) => ({
  pk: `JOB#${jobId}`,
  sk: `SUBTASK#${subtaskId}`,
});
export const batchRunKey = (runId: string) => ({ pk: `BATCH#${runId}`, sk: 'RUN' });
export const batchItemKey = (runId: string, index: number) => ({
  pk: `BATCH#${runId}`,
  sk: `ITEM#${String(index).padStart(5, '0')}`,
});

/** The `entity` attribute, the partition of the by-creation-time index: jobs and batch runs are listed. */
export const ENTITY = { job: 'job', batchRun: 'batch' } as const;

/** The table's indexes for listing jobs and runs newest first (subtasks and items lack `createdAt`). */
export const JOB_INDEXES = {
  /** Partition `entity`, sort `createdAt`. */
  byCreatedAt: 'byCreatedAt',
  /** Partition `jobStatus`, sort `createdAt`. */
  byStatus: 'byStatus',
} as const;

/** Attributes the listing indexes project, besides the keys. */
export const JOB_SUMMARY_ATTRIBUTES = ['jobId', 'status', 'task', 'profile', 'updatedAt', 'error'] as const;

/** Epoch seconds after which DynamoDB deletes an item. */
export const TTL_ATTRIBUTE = 'expiresAt';

export interface KeySchemaElement {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}
export interface AttributeDefinition {
  AttributeName: string;
  AttributeType: 'S' | 'N' | 'B';
}
export interface GlobalSecondaryIndex {
  IndexName: string;
  KeySchema: KeySchemaElement[];
  Projection: { ProjectionType: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
}
/** A table's keys and indexes in the shape CreateTable and CloudFormation's AWS::DynamoDB::Table share. */
export interface TableSchema {
  KeySchema: KeySchemaElement[];
  AttributeDefinitions: AttributeDefinition[];
  GlobalSecondaryIndexes: GlobalSecondaryIndex[];
}

const keySchema = (partitionKey: string, sortKey: string): KeySchemaElement[] => [
  { AttributeName: partitionKey, KeyType: 'HASH' },
  { AttributeName: sortKey, KeyType: 'RANGE' },
];

/** Newest first, with the summary attributes; only jobs and runs carry `createdAt`, so it stays small. */
const listingIndex = (indexName: string, partitionKey: string): GlobalSecondaryIndex => ({
  IndexName: indexName,
  KeySchema: keySchema(partitionKey, 'createdAt'),
  Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...JOB_SUMMARY_ATTRIBUTES] },
});

/**
 * The jobs table's keys and indexes. The JobsTable construct builds the deployed table from it, and
 * tests create their local table from it without synthesizing a stack. Every key is a string.
 */
export function jobsTableSchema(): TableSchema {
  const tableKeys = keySchema('pk', 'sk');
  const indexes = [
    listingIndex(JOB_INDEXES.byCreatedAt, 'entity'),
    listingIndex(JOB_INDEXES.byStatus, 'jobStatus'),
  ];
  const keyNames = [...tableKeys, ...indexes.flatMap((index) => index.KeySchema)].map(
    (key) => key.AttributeName,
  );
  return {
    KeySchema: tableKeys,
    AttributeDefinitions: [...new Set(keyNames)].map((name): AttributeDefinition => ({
      AttributeName: name,
      AttributeType: 'S',
    })),
    GlobalSecondaryIndexes: indexes,
  };
}

/**
 * The model-capacity table (its own table: the governor's state is hot, short-lived and shared by
 * every execution, and only the model-calling functions may touch it): one item per limit key.
 */
export const capacityKey = (limitKey: string) => ({ pk: `LIMIT#${limitKey}` });
