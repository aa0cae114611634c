import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { LambdaFunctionError, type LocalLambdaFunction } from '../../local/runtime/lambda';
import type { PolicyErrorName } from '../../lambdas/shared/domain/error-policy';
import { type SoakLedger, subtaskKeyOf } from './soak-ledger';

const WorkerPayloadSchema = z.object({ jobId: z.string(), subtaskId: z.string() });

/**
 * Lets the soak crash a running worker invocation the way Lambda reports a dead process: the Task
 * gets `Runtime.ExitError` with Lambda's cause. The handler itself is left alone (no test hooks in
 * production code); whatever it does after the crash is dropped at the DynamoDB proxy, as it would
 * die with the process.
 */
export class WorkerCrashes {
  private readonly running = new Map<string, (error: Error) => void>();

  constructor(private readonly ledger: SoakLedger) {}

  /** Wraps `worker.invoke` so every invocation is recorded and can be crashed. */
  attach(worker: LocalLambdaFunction): void {
    const invoke = worker.invoke.bind(worker);
    worker.invoke = async (payload: unknown) => {
      const parsed = WorkerPayloadSchema.safeParse(payload);
      if (!parsed.success) return invoke(payload);
      const { jobId, subtaskId } = parsed.data;
      const key = subtaskKeyOf(jobId, subtaskId);
      this.ledger.record({ kind: 'invocation', jobId, subtaskId });
      const crashed = new Promise<never>((_, reject) => this.running.set(key, reject));
      try {
        return await Promise.race([invoke(payload), crashed]);
      } catch (error) {
        if ((error as Error).name === ('ModelCapacityExceeded' satisfies PolicyErrorName))
          this.ledger.record({ kind: 'deferral', jobId, subtaskId });
        throw error;
      } finally {
        this.running.delete(key);
      }
    };
  }

  /** Ends the running invocation for this subtask with `Runtime.ExitError`; false when none runs. */
  crash(jobId: string, subtaskId: string): boolean {
    const reject = this.running.get(subtaskKeyOf(jobId, subtaskId));
    if (!reject) return false;
    reject(
      new LambdaFunctionError(
        'Runtime.ExitError' satisfies PolicyErrorName,
        `RequestId: ${randomUUID()} Error: Runtime exited with error: signal: killed (crash injected by the fault soak)`,
      ),
    );
    return true;
  }
}
