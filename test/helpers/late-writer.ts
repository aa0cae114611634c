import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambdas/shared/storage/job-repository';

type Env = Record<string, string | undefined>;

/**
 * A handler module for timeout tests: it waits until the test releases it, then writes one item.
 * `written` settles with that write's outcome.
 */
export const lateWriter: { release: () => void; written: Promise<unknown> } = {
  release: () => undefined,
  written: Promise.resolve(),
};

export function createHandler(env: Env) {
  const documents = createDocumentClient({
    region: 'us-east-1',
    endpoint: env.DYNAMODB_ENDPOINT,
    credentials: env,
  });
  return async (event: { pk: string }) => {
    const released = new Promise<void>((resolve) => (lateWriter.release = resolve));
    lateWriter.written = released.then(() =>
      documents.send(
        new UpdateCommand({
          TableName: env.TABLE_NAME,
          Key: { pk: event.pk, sk: 'LATE' },
          UpdateExpression: 'SET landed = :yes',
          ExpressionAttributeValues: { ':yes': true },
        }),
      ),
    );
    await lateWriter.written;
    return { wrote: true };
  };
}
