/** One entry of a run's item list: all the Map needs to run the item's job. */
export interface BatchItemRef {
  index: number;
  jobId: string;
}

/** Where item lists live in the batch items bucket; the state machine may read only below it. */
export const BATCH_ITEMS_PREFIX = 'batch-items/';

/** The object holding a run's item list (a JSON array the Distributed Map reads). */
export function batchItemsKey(runId: string): string {
  return `${BATCH_ITEMS_PREFIX}${runId}.json`;
}

/** Stores a run's item list for the Distributed Map (S3 in the cloud, a fake in tests). */
export interface BatchItemLists {
  /** Writes `items` as a JSON array at `key`, replacing what is there (a retried start writes the same list). */
  put(key: string, items: readonly BatchItemRef[]): Promise<void>;
}
