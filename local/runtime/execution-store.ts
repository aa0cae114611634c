import {
  ConditionalCheckFailedException,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ExecutionRecord, ExecutionStatus, HistoryEvent } from './step-functions';

/**
 * The local Step Functions service's memory, kept in the local DynamoDB (a local-only table beside
 * the template's), so that every process using a data folder sees every execution, and a restart
 * remembers them:
 *
 * - execution names stay taken for 90 days, as in AWS (`ExecutionAlreadyExists`);
 * - `ListExecutions`, `DescribeExecution` and `GetExecutionHistory` answer for executions run by any
 *   process, alive or gone (the console of `npm run serve` shows them all);
 * - `StopExecution` reaches an execution another process runs: that process picks the request up.
 *
 * An execution runs in the process that started it (its functions run there); the store records
 * which process (`ownerPid`). A RUNNING execution whose process is gone can never finish: readers
 * see it ABORTED with `Interrupted`, and the first reader writes that down.
 */
/** An execution as stored: its record without the in-memory history and events, and its process. */
export type StoredExecution = Omit<ExecutionRecord, 'history' | 'events'> & { ownerPid: number };

export const EXECUTIONS_TABLE = 'LocalStepFunctionsExecutions';
/** How long a name stays taken after its execution started (AWS: 90 days). */
export const NAME_RETENTION_DAYS = 90;
const RETENTION_MS = NAME_RETENTION_DAYS * 24 * 3_600_000;
const RECORD = 'EXECUTION';
const OUTPUT = 'OUTPUT';
const HISTORY_PREFIX = 'H#';
const STOP_PREFIX = 'STOP#';
const BY_STATE_MACHINE = 'byStateMachine';
/** History chunk size limit, well under DynamoDB's 400 KB item limit. */
const CHUNK_BYTES = 300_000;
/** Outputs above this are kept in an item of their own (an execution's input and output may each be 256 KB). */
const INLINE_OUTPUT_BYTES = 100_000;

export const EXECUTIONS_TABLE_INPUT: CreateTableCommandInput = {
  TableName: EXECUTIONS_TABLE,
  BillingMode: 'PAY_PER_REQUEST',
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
    { AttributeName: 'stateMachineArn', AttributeType: 'S' },
    { AttributeName: 'listKey', AttributeType: 'S' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: BY_STATE_MACHINE,
      KeySchema: [
        { AttributeName: 'stateMachineArn', KeyType: 'HASH' },
        { AttributeName: 'listKey', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
};

/** Whether the process `pid` still runs (on this machine). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const INTERRUPTED_CAUSE = 'The local process that ran this execution ended before it did';

interface RecordItem {
  pk: string;
  sk: string;
  stateMachineArn: string;
  listKey: string;
  executionArn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output?: string;
  outputStored?: boolean;
  error?: string;
  cause?: string;
  startDate: number;
  stopDate?: number;
  ownerPid: number;
  expiresAt: number;
}

export class ExecutionStore {
  private readonly documents: DynamoDBDocumentClient;
  /** Per execution: history events not yet written, and the write in progress. */
  private readonly pending = new Map<string, { events: HistoryEvent[]; writing: Promise<void> }>();

  constructor(
    client: DynamoDBClient,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    this.documents = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  /**
   * Takes the execution's name for this process. Returns undefined when it was free (or last used
   * more than 90 days ago), otherwise the execution that holds it.
   */
  async claim(record: ExecutionRecord, now = Date.now()): Promise<StoredExecution | undefined> {
    const item: RecordItem = {
      pk: record.executionArn,
      sk: RECORD,
      stateMachineArn: record.stateMachineArn,
      listKey: `${record.startDate.toISOString()}#${record.name}`,
      executionArn: record.executionArn,
      name: record.name,
      status: record.status,
      input: record.input,
      startDate: record.startDate.getTime(),
      ownerPid: process.pid,
      expiresAt: record.startDate.getTime() + RETENTION_MS,
    };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: EXECUTIONS_TABLE,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const existing = await this.get(record.executionArn);
    if (!existing) throw new Error(`Execution ${record.executionArn} is taken but cannot be read`);
    return existing;
  }

  /** Queues history events; they are written in order, in as few items as their size allows. */
  appendHistory(executionArn: string, events: readonly HistoryEvent[]): void {
    if (events.length === 0) return;
    let entry = this.pending.get(executionArn);
    if (!entry) {
      entry = { events: [], writing: Promise.resolve() };
      this.pending.set(executionArn, entry);
    }
    const wasEmpty = entry.events.length === 0;
    entry.events.push(...events);
    if (wasEmpty) {
      const current = entry;
      current.writing = current.writing.then(() => this.flush(executionArn, current)).catch(this.onError);
    }
  }

  private async flush(executionArn: string, entry: { events: HistoryEvent[] }): Promise<void> {
    // Let the engine add what it has ready before writing (one item per burst, not per event).
    await new Promise((resolve) => setImmediate(resolve));
    while (entry.events.length > 0) {
      const chunk: HistoryEvent[] = [];
      let bytes = 0;
      while (entry.events.length > 0) {
        const next = entry.events[0] as HistoryEvent;
        const size = Buffer.byteLength(JSON.stringify(next));
        if (chunk.length > 0 && bytes + size > CHUNK_BYTES) break;
        chunk.push(fitEvent(next, size));
        bytes += size;
        entry.events.shift();
      }
      const first = chunk[0] as HistoryEvent;
      await this.documents.send(
        new PutCommand({
          TableName: EXECUTIONS_TABLE,
          Item: {
            pk: executionArn,
            sk: `${HISTORY_PREFIX}${String(first.id).padStart(10, '0')}`,
            events: JSON.stringify(chunk),
          },
        }),
      );
    }
  }

  /** Writes what is queued, then the execution's end (status, output, error, stop time). */
  async finish(record: ExecutionRecord): Promise<void> {
    try {
      await this.pending.get(record.executionArn)?.writing;
      this.pending.delete(record.executionArn);
      const output = record.output;
      const outputStored = output !== undefined && Buffer.byteLength(output) > INLINE_OUTPUT_BYTES;
      if (outputStored) {
        await this.documents.send(
          new PutCommand({
            TableName: EXECUTIONS_TABLE,
            Item: { pk: record.executionArn, sk: OUTPUT, output },
          }),
        );
      }
      const values: Record<string, unknown> = {
        ':status': record.status,
        ':stopDate': (record.stopDate ?? new Date()).getTime(),
      };
      const sets = ['#status = :status', 'stopDate = :stopDate'];
      const names: Record<string, string> = { '#status': 'status' };
      const fields = { output: outputStored ? undefined : output, error: record.error, cause: record.cause };
      for (const [field, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        sets.push(`#${field} = :${field}`);
        names[`#${field}`] = field;
        values[`:${field}`] = value;
      }
      if (outputStored) {
        sets.push('outputStored = :stored');
        values[':stored'] = true;
      }
      await this.documents.send(
        new UpdateCommand({
          TableName: EXECUTIONS_TABLE,
          Key: { pk: record.executionArn, sk: RECORD },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      this.onError(error);
    }
  }

  async get(executionArn: string): Promise<StoredExecution | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: EXECUTIONS_TABLE, Key: { pk: executionArn, sk: RECORD } }),
    );
    if (!Item) return undefined;
    const item = Item as RecordItem;
    if (item.outputStored) {
      const stored = await this.documents.send(
        new GetCommand({ TableName: EXECUTIONS_TABLE, Key: { pk: executionArn, sk: OUTPUT } }),
      );
      item.output = (stored.Item as { output?: string } | undefined)?.output;
    }
    return this.settle(item);
  }

  /** Every execution of a state machine, newest first. */
  async list(stateMachineArn: string): Promise<StoredExecution[]> {
    const items: RecordItem[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: EXECUTIONS_TABLE,
          IndexName: BY_STATE_MACHINE,
          KeyConditionExpression: 'stateMachineArn = :arn',
          ExpressionAttributeValues: { ':arn': stateMachineArn },
          ScanIndexForward: false,
          ExclusiveStartKey: cursor,
        }),
      );
      items.push(...((page.Items ?? []) as RecordItem[]));
      cursor = page.LastEvaluatedKey;
    } while (cursor);
    return Promise.all(items.map((item) => this.settle(item)));
  }

  /** The execution's history as written so far, oldest first. */
  async history(executionArn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: EXECUTIONS_TABLE,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': executionArn, ':prefix': HISTORY_PREFIX },
          ExclusiveStartKey: cursor,
        }),
      );
      for (const item of page.Items ?? [])
        events.push(...(JSON.parse(String(item.events)) as HistoryEvent[]));
      cursor = page.LastEvaluatedKey;
    } while (cursor);
    return events;
  }

  /** Asks the process that runs a RUNNING execution to stop it (it looks for requests every second). */
  async requestStop(execution: StoredExecution, error?: string, cause?: string): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: EXECUTIONS_TABLE,
        Item: {
          pk: `${STOP_PREFIX}${execution.ownerPid}`,
          sk: execution.executionArn,
          ...(error !== undefined ? { error } : {}),
          ...(cause !== undefined ? { cause } : {}),
        },
      }),
    );
  }

  /** Stop requests for this process's executions, each removed as it is read. */
  async takeStopRequests(): Promise<{ executionArn: string; error?: string; cause?: string }[]> {
    const { Items = [] } = await this.documents.send(
      new QueryCommand({
        TableName: EXECUTIONS_TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `${STOP_PREFIX}${process.pid}` },
      }),
    );
    for (const item of Items) {
      await this.documents.send(
        new DeleteCommand({ TableName: EXECUTIONS_TABLE, Key: { pk: item.pk, sk: item.sk } }),
      );
    }
    return Items.map((item) => ({
      executionArn: String(item.sk),
      ...(item.error !== undefined ? { error: String(item.error) } : {}),
      ...(item.cause !== undefined ? { cause: String(item.cause) } : {}),
    }));
  }

  /** A RUNNING record whose process is gone ends ABORTED (Interrupted), here and in the store. */
  private async settle(item: RecordItem): Promise<StoredExecution> {
    if (item.status === 'RUNNING' && !processAlive(item.ownerPid)) {
      const stopDate = Date.now();
      try {
        await this.documents.send(
          new UpdateCommand({
            TableName: EXECUTIONS_TABLE,
            Key: { pk: item.pk, sk: RECORD },
            UpdateExpression:
              'SET #status = :aborted, stopDate = :stopDate, #error = :error, #cause = :cause',
            ConditionExpression: '#status = :running AND ownerPid = :pid',
            ExpressionAttributeNames: { '#status': 'status', '#error': 'error', '#cause': 'cause' },
            ExpressionAttributeValues: {
              ':aborted': 'ABORTED',
              ':running': 'RUNNING',
              ':pid': item.ownerPid,
              ':stopDate': stopDate,
              ':error': 'Interrupted',
              ':cause': INTERRUPTED_CAUSE,
            },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      Object.assign(item, { status: 'ABORTED', stopDate, error: 'Interrupted', cause: INTERRUPTED_CAUSE });
    }
    return {
      executionArn: item.executionArn,
      stateMachineArn: item.stateMachineArn,
      name: item.name,
      status: item.status,
      input: item.input,
      startDate: new Date(item.startDate),
      ownerPid: item.ownerPid,
      ...(item.output !== undefined ? { output: item.output } : {}),
      ...(item.error !== undefined ? { error: item.error } : {}),
      ...(item.cause !== undefined ? { cause: item.cause } : {}),
      ...(item.stopDate !== undefined ? { stopDate: new Date(item.stopDate) } : {}),
    };
  }
}

/** An event too large for a history item keeps its type and name; its data is marked as left out. */
function fitEvent(event: HistoryEvent, size: number): HistoryEvent {
  if (size <= CHUNK_BYTES) return event;
  const { id, previousEventId, timestamp, type } = event;
  return { id, previousEventId, timestamp, type, truncated: `event data of ${size} bytes not kept locally` };
}
