import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { buildOpenApiDocument } from '../../lambdas/api/openapi';
import { TERMINAL_JOB_STATUSES } from '../../lambdas/shared/domain/schemas';
import { startLocalServer, type LocalServer } from '../../local/server/server';

/** The jobs API over real HTTP, against `npm run serve`'s server started in-process. */
let server: LocalServer;
let sfn: SFNClient;
const FAST_RETRIES = { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 };

beforeAll(async () => {
  server = await startLocalServer({
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
    apiKey: 'test-api-key-123',
  });
  sfn = new SFNClient({
    endpoint: server.sfnEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
});
afterAll(async () => {
  sfn.destroy();
  await server.close();
});
beforeEach(() => {
  server.orchestrator.simulatedModel?.setFaults([]);
  server.orchestrator.simulatedModel?.setLatency(0);
});

interface Reply {
  status: number;
  body: Record<string, unknown> & {
    error?: { code: string; message: string; details?: { field: string }[] };
  };
  headers: Headers;
}

async function call(
  method: string,
  route: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string>; key?: string | null } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== null) headers['x-api-key'] = options.key ?? server.apiKey;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${server.apiUrl}${route}`, {
    method,
    headers,
    body: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Reply['body']) : {},
    headers: response.headers,
  };
}

async function waitForTerminal(jobId: string, timeoutMs = 30_000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await call('GET', `/jobs/${jobId}`);
    if (TERMINAL_JOB_STATUSES.includes(reply.body.status as never)) return reply;
    if (Date.now() > deadline) throw new Error(`Job ${jobId} still ${String(reply.body.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const task = 'Write a product description for a new eco-friendly water bottle';

describe('jobs API routes', () => {
  it('starts a job that can be followed from POST to SUCCEEDED by polling GET', async () => {
    const created = await call('POST', '/jobs', { body: { task, context: { targetAudience: 'hikers' } } });

    expect(created.status).toBe(202);
    expect(created.body).toEqual({
      jobId: expect.stringMatching(/^product-description/),
      status: 'QUEUED',
      executionArn: expect.stringContaining(':execution:orchestrator:'),
    });
    const finished = await waitForTerminal(String(created.body.jobId));
    expect(finished.status).toBe(200);
    expect(finished.body).toMatchObject({
      status: 'SUCCEEDED',
      context: { targetAudience: 'hikers' },
      synthesis: expect.any(String),
      error: null,
      consoleUrl: `${server.consoleUrl}/execution?arn=${encodeURIComponent(String(created.body.executionArn))}`,
    });
    expect((finished.body.subtasks as unknown[]).length).toBeGreaterThanOrEqual(2);
  });

  it('lists jobs newest first, filters by status and pages with nextToken', async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const created = await call('POST', '/jobs', { body: { task: `List test ${n}: research tidal power` } });
      ids.push(String(created.body.jobId));
      await waitForTerminal(String(created.body.jobId));
    }

    const first = await call('GET', '/jobs?limit=2');
    const second = await call('GET', `/jobs?limit=2&nextToken=${String(first.body.nextToken)}`);
    const succeeded = await call('GET', '/jobs?status=SUCCEEDED&limit=100');
    const failed = await call('GET', '/jobs?status=FAILED');

    expect(first.status).toBe(200);
    const firstIds = (first.body.items as { jobId: string }[]).map((item) => item.jobId);
    expect(firstIds).toEqual([ids[2], ids[1]]);
    expect((second.body.items as { jobId: string }[])[0]?.jobId).toBe(ids[0]);
    expect((succeeded.body.items as { status: string }[]).every((item) => item.status === 'SUCCEEDED')).toBe(
      true,
    );
    expect((succeeded.body.items as { jobId: string }[]).map((item) => item.jobId)).toEqual(
      expect.arrayContaining(ids),
    );
    expect(failed.body.items).toEqual([]);
  });

  it('serves the OpenAPI document, the same as openapi.json in the repository', async () => {
    const reply = await call('GET', '/openapi.json');
    const file = JSON.parse(
      readFileSync(path.join(__dirname, '..', '..', 'openapi.json'), 'utf8'),
    ) as unknown;

    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(buildOpenApiDocument());
    expect(file).toEqual(reply.body);
    expect(Object.keys(reply.body.paths as object)).toEqual([
      '/jobs',
      '/jobs/{jobId}',
      '/jobs/{jobId}/approval',
      '/profiles',
      '/batches',
      '/batches/{runId}',
      '/openapi.json',
    ]);
  });

  it('lists the profiles with their types, bounds and template variables', async () => {
    const reply = await call('GET', '/profiles');

    expect(reply.status).toBe(200);
    const items = reply.body.items as {
      name: string;
      default: boolean;
      subtaskTypes: { name: string }[] | null;
      templates: unknown;
    }[];
    expect(items.map((item) => item.name)).toEqual(['research', 'marketing', 'project', 'custom']);
    expect(items.filter((item) => item.default).map((item) => item.name)).toEqual(['research']);
    expect(items.find((item) => item.name === 'project')?.subtaskTypes?.map((type) => type.name)).toEqual([
      'researcher',
      'architect',
      'developer',
      'reviewer',
    ]);
    expect(items.find((item) => item.name === 'custom')?.templates).toMatchObject({
      worker: { required: ['subtask.description'] },
    });
  });
});

describe('bad input', () => {
  const big = 'x'.repeat(8_001);
  const cases: [string, string, string, Parameters<typeof call>[2], number, string][] = [
    [
      'invalid JSON',
      'POST',
      '/jobs',
      { rawBody: '{"task": ', headers: { 'content-type': 'application/json' } },
      400,
      'body',
    ],
    [
      'an empty body',
      'POST',
      '/jobs',
      { rawBody: '', headers: { 'content-type': 'application/json' } },
      400,
      'body',
    ],
    ['a JSON array body', 'POST', '/jobs', { body: [] }, 400, 'body'],
    ['a JSON string body', 'POST', '/jobs', { body: 'a task' }, 400, 'body'],
    [
      'text/plain content type',
      'POST',
      '/jobs',
      { rawBody: '{"task":"x"}', headers: { 'content-type': 'text/plain' } },
      415,
      'Content-Type',
    ],
    ['no content type', 'POST', '/jobs', { rawBody: '{"task":"x"}' }, 415, 'Content-Type'],
    ['a missing task', 'POST', '/jobs', { body: {} }, 400, 'task'],
    ['an empty task', 'POST', '/jobs', { body: { task: '' } }, 400, 'task'],
    ['a blank task', 'POST', '/jobs', { body: { task: '   ' } }, 400, 'task'],
    ['an oversized task', 'POST', '/jobs', { body: { task: big } }, 400, 'task'],
    ['a numeric task', 'POST', '/jobs', { body: { task: 42 } }, 400, 'task'],
    ['a null task', 'POST', '/jobs', { body: { task: null } }, 400, 'task'],
    ['an array context', 'POST', '/jobs', { body: { task: 'x', context: [1] } }, 400, 'context'],
    ['a string context', 'POST', '/jobs', { body: { task: 'x', context: 'audience' } }, 400, 'context'],
    [
      'an oversized context',
      'POST',
      '/jobs',
      { body: { task: 'x', context: { blob: 'y'.repeat(17_000) } } },
      400,
      'context',
    ],
    ['an unknown field', 'POST', '/jobs', { body: { task: 'x', priority: 1 } }, 400, 'priority'],
    ['an unknown profile', 'POST', '/jobs', { body: { task: 'x', profile: 'poetry' } }, 400, 'profile'],
    [
      'the custom profile without templates',
      'POST',
      '/jobs',
      { body: { task: 'x', profile: 'custom' } },
      400,
      'templates',
    ],
    [
      'templates with another profile',
      'POST',
      '/jobs',
      {
        body: {
          task: 'x',
          profile: 'research',
          templates: { orchestrator: '{{task}}', worker: '{{subtask.description}}' },
        },
      },
      400,
      'templates',
    ],
    [
      'a template with an unknown variable',
      'POST',
      '/jobs',
      {
        body: {
          task: 'x',
          profile: 'custom',
          templates: { orchestrator: '{{task}} {{tone}}', worker: '{{subtask.description}}' },
        },
      },
      400,
      '{{tone}}',
    ],
    [
      'a template naming a missing context field',
      'POST',
      '/jobs',
      {
        body: {
          task: 'x',
          profile: 'custom',
          templates: { orchestrator: '{{task}} for {{context.audience}}', worker: '{{subtask.description}}' },
        },
      },
      400,
      'context.audience',
    ],
    [
      'a worker template without the subtask',
      'POST',
      '/jobs',
      {
        body: {
          task: 'x',
          profile: 'custom',
          templates: { orchestrator: '{{task}}', worker: 'Write something' },
        },
      },
      400,
      'templates.worker',
    ],
    ['a numeric profile', 'POST', '/jobs', { body: { task: 'x', profile: 7 } }, 400, 'profile'],
    [
      'a body over the size limit',
      'POST',
      '/jobs',
      { body: { task: 'x', context: { blob: 'z'.repeat(70_000) } } },
      413,
      'body',
    ],
    [
      'a malformed Idempotency-Key',
      'POST',
      '/jobs',
      { body: { task: 'x' }, headers: { 'idempotency-key': 'has spaces in it' } },
      400,
      'Idempotency-Key',
    ],
    ['a query string on POST', 'POST', '/jobs?dryRun=true', { body: { task: 'x' } }, 400, 'dryRun'],
    ['a zero limit', 'GET', '/jobs?limit=0', {}, 400, 'limit'],
    ['a huge limit', 'GET', '/jobs?limit=5000', {}, 400, 'limit'],
    ['a non-numeric limit', 'GET', '/jobs?limit=ten', {}, 400, 'limit'],
    ['a fractional limit', 'GET', '/jobs?limit=2.5', {}, 400, 'limit'],
    ['a limit given twice', 'GET', '/jobs?limit=1&limit=2', {}, 400, 'limit'],
    ['an unknown status', 'GET', '/jobs?status=DONE', {}, 400, 'status'],
    ['a garbage nextToken', 'GET', '/jobs?nextToken=not-a-token', {}, 400, 'nextToken'],
    [
      'a forged nextToken',
      'GET',
      `/jobs?nextToken=${Buffer.from('{"k":{"pk":1}}').toString('base64url')}`,
      {},
      400,
      'nextToken',
    ],
    ['an unknown query parameter', 'GET', '/jobs?sort=asc', {}, 400, 'sort'],
    ['an unknown job id', 'GET', '/jobs/no-such-job-here', {}, 404, 'jobId'],
    ['path traversal in the job id', 'GET', '/jobs/..%2F..%2Fetc%2Fpasswd', {}, 400, 'jobId'],
    ['upper case in the job id', 'GET', '/jobs/ABC-DEF', {}, 400, 'jobId'],
    ['an over-long job id', 'GET', `/jobs/${'a'.repeat(81)}`, {}, 400, 'jobId'],
    ['cancelling an unknown job', 'DELETE', '/jobs/no-such-job-here', {}, 404, 'jobId'],
  ];

  it.each(cases)(
    'answers %s with a 4xx naming the field',
    async (_label, method, route, options, status, field) => {
      const reply = await call(method, route, options);

      expect(reply.status).toBe(status);
      expect(reply.body.error?.code).toEqual(expect.any(String));
      expect(reply.body.error?.message).toContain(field);
      expect(reply.status).toBeLessThan(500);
    },
  );

  it.each([
    ['a missing API key', null, 401, 'MISSING_API_KEY'],
    ['a wrong API key', 'not-the-key', 403, 'INVALID_API_KEY'],
  ])('refuses %s on every route', async (_label, key, status, code) => {
    for (const [method, route] of [
      ['POST', '/jobs'],
      ['GET', '/jobs'],
      ['GET', '/jobs/some-job'],
      ['DELETE', '/jobs/some-job'],
      ['GET', '/openapi.json'],
    ] as const) {
      const reply = await call(method, route, { key, body: method === 'POST' ? { task } : undefined });
      expect([reply.status, reply.body.error?.code]).toEqual([status, code]);
    }
  });

  it('answers an unknown route or method with a 404 in the error shape', async () => {
    expect((await call('GET', '/nothing-here')).status).toBe(404);
    expect((await call('PUT', '/jobs/abc-def', { body: {} })).body.error?.code).toBe('ROUTE_NOT_FOUND');
  });
});

describe('idempotency', () => {
  it('returns the same job for the same key and body, starting one execution', async () => {
    const headers = { 'idempotency-key': `same-key-${Date.now()}` };
    const first = await call('POST', '/jobs', { body: { task, context: { a: 1, b: 2 } }, headers });
    const second = await call('POST', '/jobs', { body: { context: { b: 2, a: 1 }, task }, headers });

    expect(second.status).toBe(202);
    expect(second.body.jobId).toBe(first.body.jobId);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const executions = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: server.orchestrator.stateMachineArn }),
    );
    expect(executions.executions?.filter((execution) => execution.name === first.body.jobId)).toHaveLength(1);
  });

  it('refuses the same key with another body with a 409', async () => {
    const headers = { 'idempotency-key': `reused-key-${Date.now()}` };
    await call('POST', '/jobs', { body: { task }, headers });

    const reused = await call('POST', '/jobs', { body: { task: 'Something else entirely' }, headers });

    expect(reused.status).toBe(409);
    expect(reused.body.error).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: expect.stringContaining('Idempotency-Key'),
    });
  });
});

describe('plan approval over HTTP', () => {
  async function awaitingJob(): Promise<Reply> {
    const created = await call('POST', '/jobs', {
      body: { task, profile: 'marketing', approval: 'required', budget: { maxCostUsd: 3 } },
    });
    expect(created.status).toBe(202);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const reply = await call('GET', `/jobs/${String(created.body.jobId)}`);
      const stored = await server.orchestrator.repository.getJob(String(created.body.jobId));
      if (reply.body.status === 'AWAITING_APPROVAL' && stored?.approvalToken) return reply;
      if (Date.now() > deadline) throw new Error(`Job still ${String(reply.body.status)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('waits with its plan and estimate, never showing the token, and succeeds once approved', async () => {
    const awaiting = await awaitingJob();
    const jobId = String(awaiting.body.jobId);
    const listed = await call('GET', '/jobs?status=AWAITING_APPROVAL');

    expect(awaiting.body.estimate).toMatchObject({ costUsd: expect.any(Number) });
    expect(JSON.stringify(awaiting.body)).not.toContain('local-task-token');
    expect(JSON.stringify(listed.body)).not.toContain('local-task-token');
    expect((listed.body.items as { jobId: string }[]).map((item) => item.jobId)).toContain(jobId);

    const approved = await call('POST', `/jobs/${jobId}/approval`, {
      body: { decision: 'approve', comment: 'ok' },
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      jobId,
      status: 'RUNNING',
      approval: { decision: 'approve', comment: 'ok' },
    });
    const finished = await waitForTerminal(jobId);
    expect(finished.body.status).toBe('SUCCEEDED');
  });

  it('answers 409 when the job is not awaiting approval, 404 for an unknown job, 400 for a bad body', async () => {
    const created = await call('POST', '/jobs', { body: { task } });
    const jobId = String(created.body.jobId);
    await waitForTerminal(jobId);

    const notAwaiting = await call('POST', `/jobs/${jobId}/approval`, { body: { decision: 'approve' } });
    const unknown = await call('POST', '/jobs/no-such-job-here/approval', { body: { decision: 'approve' } });
    const bad = await call('POST', `/jobs/${jobId}/approval`, { body: { decision: 'maybe' } });
    const trimOnReject = await call('POST', `/jobs/${jobId}/approval`, {
      body: { decision: 'reject', subtasks: ['a'] },
    });

    expect(notAwaiting.status).toBe(409);
    expect(notAwaiting.body.error?.code).toBe('JOB_NOT_AWAITING_APPROVAL');
    expect(unknown.status).toBe(404);
    expect(bad.status).toBe(400);
    expect(bad.body.error?.details?.[0]?.field).toBe('decision');
    expect(trimOnReject.status).toBe(400);
    expect(trimOnReject.body.error?.details?.[0]?.field).toBe('subtasks');
  });

  it('refuses a trim naming a subtask the plan lacks (the job keeps waiting), then takes a rejection', async () => {
    const awaiting = await awaitingJob();
    const jobId = String(awaiting.body.jobId);
    const stored = await server.orchestrator.repository.getJob(jobId);
    const [first] = stored?.plan?.subtasks ?? [];
    if (!first) throw new Error('expected a subtask');
    const rejected = await call('POST', `/jobs/${jobId}/approval`, {
      body: { decision: 'approve', subtasks: [first.id, 'not-a-subtask'] },
    });

    expect(rejected.status).toBe(400);
    expect(rejected.body.error?.message).toContain('not in the plan: not-a-subtask');
    const stillWaiting = await call('GET', `/jobs/${jobId}`);
    expect(stillWaiting.body.status).toBe('AWAITING_APPROVAL');
    const rejectedPlan = await call('POST', `/jobs/${jobId}/approval`, { body: { decision: 'reject' } });
    expect(rejectedPlan.status).toBe(200);
    expect(rejectedPlan.body).toMatchObject({ status: 'CANCELLED', error: { name: 'PlanRejected' } });
  });
});

describe('cancelling', () => {
  it('stops the execution and ends the job CANCELLED; cancelling again is a 409', async () => {
    server.orchestrator.simulatedModel?.setLatency({ worker: 5_000 });
    const created = await call('POST', '/jobs', { body: { task } });
    const jobId = String(created.body.jobId);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const cancelled = await call('DELETE', `/jobs/${jobId}`);
    const again = await call('DELETE', `/jobs/${jobId}`);

    expect(cancelled.status).toBe(202);
    expect(cancelled.body).toMatchObject({ jobId, status: 'CANCELLED' });
    const view = await call('GET', `/jobs/${jobId}`);
    expect(view.body).toMatchObject({ status: 'CANCELLED', error: { name: 'JobCancelled' } });
    const execution = await sfn.send(
      new DescribeExecutionCommand({ executionArn: String(created.body.executionArn) }),
    );
    expect(execution.status).toBe('ABORTED');
    expect(again.status).toBe(409);
    expect(again.body.error?.code).toBe('JOB_ALREADY_FINISHED');
  });

  it('refuses to cancel a finished job', async () => {
    const created = await call('POST', '/jobs', { body: { task } });
    await waitForTerminal(String(created.body.jobId));

    const reply = await call('DELETE', `/jobs/${String(created.body.jobId)}`);

    expect(reply.status).toBe(409);
    expect((await call('GET', `/jobs/${String(created.body.jobId)}`)).body.status).toBe('SUCCEEDED');
  });
});

describe('load', () => {
  it('brings 20 jobs posted at once to a terminal status', async () => {
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        call('POST', '/jobs', { body: { task: `Concurrent job ${n}: compare solar and wind` } }),
      ),
    );
    expect(created.every((reply) => reply.status === 202)).toBe(true);

    const finished = await Promise.all(
      created.map((reply) => waitForTerminal(String(reply.body.jobId), 60_000)),
    );

    expect(finished.map((reply) => reply.body.status)).toEqual(Array(20).fill('SUCCEEDED'));
  });
});

describe('local Step Functions endpoint', () => {
  it('refuses StartExecution with an input over 256 KiB with the API’s ValidationException', async () => {
    const input = JSON.stringify({ jobId: 'too-large', padding: 'x'.repeat(262_144) });
    await expect(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: server.orchestrator.stateMachineArn,
          name: 'too-large',
          input,
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('starts, describes, lists, reads the history of and stops executions through @aws-sdk/client-sfn', async () => {
    const stateMachineArn = server.orchestrator.stateMachineArn;
    const name = `sdk-direct-${Date.now()}`;
    const input = JSON.stringify({ jobId: name, request: { task: 'Research the history of tea' } });

    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
    const repeated = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: '{"jobId":"other"}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await server.orchestrator.stepFunctions.waitForExecution(String(started.executionArn));
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'SUCCEEDED' }));
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));

    expect(repeated.executionArn).toBe(started.executionArn);
    expect(started.startDate).toBeInstanceOf(Date);
    expect(described).toMatchObject({ name, status: 'SUCCEEDED', input });
    expect(JSON.parse(String(described.output))).toMatchObject({
      jobId: name,
      result: { status: 'SUCCEEDED' },
    });
    expect(listed.executions?.map((execution) => execution.name)).toContain(name);
    const types = history.events?.map((event) => event.type) ?? [];
    expect(types[0]).toBe('ExecutionStarted');
    expect(types).toEqual(
      expect.arrayContaining([
        'TaskStateEntered',
        'MapStateEntered',
        'MapIterationStarted',
        'TaskStateExited',
        'ExecutionSucceeded',
      ]),
    );
    expect(history.events?.[1]?.previousEventId).toBe(1);
    expect((await call('GET', `/jobs/${name}`)).body.status).toBe('SUCCEEDED');

    server.orchestrator.simulatedModel?.setLatency({ plan: 5_000 });
    const slow = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name: `${name}-stop`,
        input: JSON.stringify({ jobId: `${name}-stop`, request: { task: 'x y z' } }),
      }),
    );
    await sfn.send(
      new StopExecutionCommand({
        executionArn: slow.executionArn,
        error: 'Test',
        cause: 'stopped by the test',
      }),
    );
    const stopped = await sfn.send(new DescribeExecutionCommand({ executionArn: slow.executionArn }));
    expect(stopped).toMatchObject({ status: 'ABORTED', error: 'Test', cause: 'stopped by the test' });
    await expect(
      sfn.send(
        new DescribeExecutionCommand({
          executionArn: `${stateMachineArn.replace('stateMachine', 'execution')}:nope`,
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
  });
});

describe('stopping the local server', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'serve-stop-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('marks jobs still running at shutdown as FAILED (Interrupted)', async () => {
    const first = await startLocalServer({
      model: { kind: 'simulated', options: { latencyMs: { worker: 10_000 } } },
      dataDir,
    });
    const created = await fetch(`${first.apiUrl}/jobs`, {
      method: 'POST',
      headers: { 'x-api-key': first.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ task }),
    }).then((response) => response.json() as Promise<{ jobId: string }>);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const interruptedAtStop = await first.close();
    const second = await startLocalServer({ model: { kind: 'simulated' }, dataDir });
    const job = await second.orchestrator.repository.getJob(created.jobId);
    await second.close();

    expect(interruptedAtStop).toEqual([created.jobId]);
    expect(job).toMatchObject({
      status: 'FAILED',
      error: { name: 'Interrupted', message: expect.stringContaining('stopped') },
    });
    expect(second.interruptedAtStart).toEqual([]);
  });

  it('marks jobs left unfinished by a crashed server when it starts again', async () => {
    const crashed = await startLocalServer({ model: { kind: 'simulated' }, dataDir });
    await crashed.orchestrator.repository.createJob({
      jobId: 'left-by-a-crash',
      status: 'RUNNING',
      task: 't',
      context: {},
      profile: 'research',
    });
    await crashed.close({ simulateCrash: true });

    const restarted = await startLocalServer({ model: { kind: 'simulated' }, dataDir });
    const job = await restarted.orchestrator.repository.getJob('left-by-a-crash');
    await restarted.close();

    expect(restarted.interruptedAtStart).toEqual(['left-by-a-crash']);
    expect(job).toMatchObject({
      status: 'FAILED',
      error: { name: 'Interrupted', message: expect.stringContaining('crashed') },
    });
  });
});
