import { startLocalServer, type LocalServer } from '../../local/server/server';

/** The batch routes over real HTTP, against `npm run serve`'s server started in-process. */
let server: LocalServer;
const FAST_RETRIES = {
  Plan: 5,
  RunSubtask: 5,
  Synthesize: 5,
  RunJob: 5,
  StartBatchRun: 5,
  FinishBatchRun: 5,
};

beforeAll(async () => {
  server = await startLocalServer({
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
    apiKey: 'test-api-key-456',
  });
  server.orchestrator.simulatedModel?.setLatency(0);
});
afterAll(() => server.close());

interface Reply {
  status: number;
  body: Record<string, unknown> & {
    error?: { code: string; message: string; details?: { field: string }[] };
  };
}

async function call(method: string, route: string, body?: unknown): Promise<Reply> {
  const response = await fetch(`${server.apiUrl}${route}`, {
    method,
    headers: {
      'x-api-key': server.apiKey,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Reply['body']) : {} };
}

async function waitForRun(runId: string, timeoutMs = 60_000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await call('GET', `/batches/${runId}`);
    if (reply.body.status !== 'RUNNING') return reply;
    if (Date.now() > deadline) throw new Error(`Batch run ${runId} still RUNNING`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('batch API', () => {
  it('runs inline items, then reports the run with per-item job ids and counts', async () => {
    const accepted = await call('POST', '/batches', {
      batchName: 'adhoc-copy',
      items: [{ task: 'Write a product description for a desk lamp' }, { task: 'Write one for a desk fan' }],
      maxConcurrency: 2,
    });

    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ batchName: 'adhoc-copy', status: 'RUNNING', itemCount: 2 });
    const runId = String(accepted.body.runId);
    const finished = await waitForRun(runId);
    expect(finished.body).toMatchObject({
      runId,
      status: 'COMPLETED',
      trigger: 'api',
      counts: { SUCCEEDED: 2 },
      items: [
        { index: 0, jobId: `${runId}-001`, status: 'SUCCEEDED', error: null },
        { index: 1, jobId: `${runId}-002`, status: 'SUCCEEDED', error: null },
      ],
    });
    const job = await call('GET', `/jobs/${runId}-001`);
    expect(job.body).toMatchObject({
      status: 'SUCCEEDED',
      task: 'Write a product description for a desk lamp',
    });

    const listed = await call('GET', '/batches?limit=5');
    expect(listed.status).toBe(200);
    expect((listed.body.items as { runId: string }[]).map((run) => run.runId)).toContain(runId);
  });

  it('starts a batch definition by name with its items', async () => {
    const accepted = await call('POST', '/batches', {
      batchName: 'weekly-research-briefs',
      maxConcurrency: 1,
    });

    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ batchName: 'weekly-research-briefs', itemCount: 4 });
    const run = await waitForRun(String(accepted.body.runId));
    expect(run.body).toMatchObject({ status: 'COMPLETED', counts: { SUCCEEDED: 4 } });
    expect((run.body.items as { task: string }[])[0]?.task).toBe(
      'What are the trade-offs between heat pumps and gas boilers for older houses?',
    );
  });

  it.each([
    [{ batchName: 'no-such-batch' }, 'batchName', /no batch definition named "no-such-batch"/],
    [{ batchName: 'x' }, 'batchName', /batchName: must be 3–40 characters/],
    [{ batchName: 'adhoc', items: [] }, 'items', /items: .*1/],
    [{ batchName: 'adhoc', items: [{ task: '' }] }, 'items.0.task', /items\.0\.task: must not be empty/],
    [{ batchName: 'adhoc', items: [{ task: 'ok' }], maxConcurrency: 0 }, 'maxConcurrency', /maxConcurrency/],
    [{ batchName: 'adhoc', extra: true }, 'extra', /extra: is not a known body field/],
  ])('rejects %j with a 400 naming %s', async (body, field, message) => {
    const reply = await call('POST', '/batches', body);

    expect(reply.status).toBe(400);
    expect(reply.body.error?.code).toBe('VALIDATION_FAILED');
    expect(reply.body.error?.message).toMatch(message);
    expect(reply.body.error?.details?.map((detail) => detail.field)).toContain(field);
  });

  it('answers 404 for an unknown run and 400 for a malformed run id or token', async () => {
    expect((await call('GET', '/batches/unknown-run-123')).body.error?.code).toBe('BATCH_RUN_NOT_FOUND');
    expect((await call('GET', '/batches/Bad_Id')).status).toBe(400);
    expect((await call('GET', '/batches?nextToken=garbage')).body.error?.message).toMatch(/^nextToken:/);
    expect((await call('GET', '/batches?limit=0')).status).toBe(400);
  });
});
