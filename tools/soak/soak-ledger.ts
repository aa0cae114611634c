/** What the soak saw happen to one subtask, in the order it happened (one log for all subtasks). */
export type LedgerEntry =
  | { kind: 'invocation'; seq: number; jobId: string; subtaskId: string }
  /** The invocation ended ModelCapacityExceeded: the governor deferred it before any model call. */
  | { kind: 'deferral'; seq: number; jobId: string; subtaskId: string }
  | {
      kind: 'write';
      seq: number;
      jobId: string;
      subtaskId: string;
      /** `accepted`: DynamoDB applied it; `rejected`: its condition failed (the subtask had already succeeded). */
      outcome: 'accepted' | 'rejected' | 'dropped';
      output: string;
      usage: { inputTokens: number; outputTokens: number };
    }
  | { kind: 'crash'; seq: number; jobId: string; subtaskId: string; when: CrashTiming };

/** `before-write`: the function died with the model's answer in hand; `after-write`: it died once its write was applied. */
export type CrashTiming = 'before-write' | 'after-write';

type NewEntry = LedgerEntry extends infer E ? (E extends LedgerEntry ? Omit<E, 'seq'> : never) : never;

/**
 * The soak's own record of worker invocations, completing writes seen on the wire and injected
 * crashes: a source independent of what the functions store, for checking what they stored.
 */
export class SoakLedger {
  private readonly log: LedgerEntry[] = [];

  record(entry: NewEntry): void {
    this.log.push({ ...entry, seq: this.log.length + 1 } as LedgerEntry);
  }

  /** Entries of one job, in order. */
  forJob(jobId: string): LedgerEntry[] {
    return this.log.filter((entry) => entry.jobId === jobId);
  }

  get entries(): readonly LedgerEntry[] {
    return this.log;
  }
}

export const subtaskKeyOf = (jobId: string, subtaskId: string) => `${jobId}/${subtaskId}`;
