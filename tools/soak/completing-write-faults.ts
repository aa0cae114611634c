import { z } from 'zod';
import type { FaultProxyHooks, ProxiedRequest, ProxyVerdict, UpstreamResponse } from './fault-proxy';
import type { CrashTiming, SoakLedger } from './soak-ledger';
import type { WorkerCrashes } from './worker-crashes';

const numberAttribute = z.object({ N: z.string() }).transform((value) => Number(value.N));

/**
 * The write that stores a subtask's output (JobRepository.completeSubtask): an UpdateItem on a
 * subtask item that sets `:output`. Only the fields the soak checks are read.
 */
const CompletingWriteSchema = z.object({
  Key: z.object({
    pk: z.object({ S: z.string().startsWith('JOB#') }),
    sk: z.object({ S: z.string().startsWith('SUBTASK#') }),
  }),
  ExpressionAttributeValues: z.object({
    ':output': z.object({ S: z.string() }),
    ':usage': z.object({
      M: z.object({ inputTokens: numberAttribute, outputTokens: numberAttribute }),
    }),
  }),
});

export interface CompletingWrite {
  jobId: string;
  subtaskId: string;
  output: string;
  usage: { inputTokens: number; outputTokens: number };
}

/** The completing write in a DynamoDB request, or undefined for any other request. */
export function completingWriteOf(request: ProxiedRequest): CompletingWrite | undefined {
  if (request.headers['x-amz-target'] !== 'DynamoDB_20120810.UpdateItem') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = CompletingWriteSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { Key, ExpressionAttributeValues: values } = parsed.data;
  return {
    jobId: Key.pk.S.slice('JOB#'.length),
    subtaskId: Key.sk.S.slice('SUBTASK#'.length),
    output: values[':output'].S,
    usage: values[':usage'].M,
  };
}

export interface CompletingWriteFaultSettings {
  /** Probability 0..1 that a worker dies at its completing write (half before it is applied, half after). */
  crashRate: number;
}

/**
 * Proxy hooks in front of DynamoDB: records every completing write and its outcome in the ledger
 * and, at `crashRate`, crashes the worker that sent it either before the write leaves (the model's
 * answer is lost) or after it is applied (the answer is stored, the worker never learns it).
 */
export class CompletingWriteFaults implements FaultProxyHooks {
  settings: CompletingWriteFaultSettings = { crashRate: 0 };

  constructor(
    private readonly ledger: SoakLedger,
    private readonly crashes: Pick<WorkerCrashes, 'crash'>,
    private readonly random: () => number,
  ) {}

  decide(request: ProxiedRequest): ProxyVerdict {
    const write = completingWriteOf(request);
    if (!write) return { kind: 'forward' };
    const timing = this.crashTiming();
    if (timing === 'before-write' && this.crashes.crash(write.jobId, write.subtaskId)) {
      this.ledger.record({ kind: 'crash', jobId: write.jobId, subtaskId: write.subtaskId, when: timing });
      this.ledger.record({ kind: 'write', ...write, outcome: 'dropped' });
      return { kind: 'drop-before-forward' };
    }
    return timing === 'after-write' ? { kind: 'drop-after-forward' } : { kind: 'forward' };
  }

  onUpstreamResponse(request: ProxiedRequest, response: UpstreamResponse, verdict: ProxyVerdict): void {
    const write = completingWriteOf(request);
    if (!write) return;
    this.ledger.record({
      kind: 'write',
      ...write,
      outcome: response.status === 200 ? 'accepted' : 'rejected',
    });
    if (verdict.kind === 'drop-after-forward' && this.crashes.crash(write.jobId, write.subtaskId)) {
      this.ledger.record({
        kind: 'crash',
        jobId: write.jobId,
        subtaskId: write.subtaskId,
        when: 'after-write',
      });
    }
  }

  private crashTiming(): CrashTiming | undefined {
    if (this.settings.crashRate <= 0 || this.random() >= this.settings.crashRate) return undefined;
    return this.random() < 0.5 ? 'before-write' : 'after-write';
  }
}
