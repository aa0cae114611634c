import { createModelGateway, type ModelRequest } from '../../lambdas/shared/model/gateway';
import { ModelEnvSchema, parseEnv } from '../../lambdas/shared/runtime/env';

type Env = Record<string, string | undefined>;

/**
 * A handler module for timeout tests: it calls the model once, waits until the test releases it,
 * then calls the model again. `called` settles with the second call's outcome.
 */
export const lateModelCaller: { release: () => void; called: Promise<unknown> } = {
  release: () => undefined,
  called: Promise.resolve(),
};

export function createHandler(env: Env) {
  const gateway = createModelGateway(parseEnv(ModelEnvSchema, { ...env, MODEL: 'claude-haiku-5-5' }));
  const request: ModelRequest = {
    model: 'claude-haiku-5-5',
    system: 'Answer briefly.',
    messages: [{ role: 'user', content: 'Say hello.' }],
    maxTokens: 64,
    timeoutMs: 30_000,
  };
  return async () => {
    await gateway.complete(request);
    const released = new Promise<void>((resolve) => (lateModelCaller.release = resolve));
    lateModelCaller.called = released.then(() => gateway.complete(request));
    await lateModelCaller.called;
    return { called: true };
  };
}
