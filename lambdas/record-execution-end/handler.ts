import * as z from 'zod';
import { CommonEnvSchema, parseEnv } from '../shared/runtime/env';
import { lambdaEntry } from '../shared/runtime/lambda-handler';
import { batchRepositoriesFromEnv } from '../shared/storage/batch-repositories-from-env';
import { ExecutionStatusChangeEventSchema, recordExecutionEnd } from './record-execution-end';

const RecordExecutionEndEnvSchema = CommonEnvSchema.extend({
  ORCHESTRATOR_STATE_MACHINE_ARN: z.string().min(1),
  BATCH_STATE_MACHINE_ARN: z.string().min(1),
});

export const { createHandler, handler } = lambdaEntry(
  ExecutionStatusChangeEventSchema,
  (rawEnv, observability) => {
    const env = parseEnv(RecordExecutionEndEnvSchema, rawEnv);
    const repositories = batchRepositoriesFromEnv(rawEnv, observability.tracer);
    const stateMachines = {
      orchestrator: env.ORCHESTRATOR_STATE_MACHINE_ARN,
      batch: env.BATCH_STATE_MACHINE_ARN,
    };
    return async (event) => {
      const result = await recordExecutionEnd(event, { ...repositories, stateMachines });
      const recorded =
        (result.kind === 'job' && (result.jobFailed || result.subtasksFailed.length > 0)) ||
        (result.kind === 'batch' && result.runFailed);
      // An execution whose own failure handling ran (MarkFailed, RecordBatchFailure) needs no line.
      if (recorded)
        observability.logger.warn('Recorded an execution that ended without recording its outcome', {
          executionArn: event.detail.executionArn,
          status: event.detail.status,
          result,
        });
      return result;
    };
  },
);
