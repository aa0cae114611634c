import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { LocalOrchestrator } from '../../local/runtime/stack';
import { type SimulatedModel, startSimulatedModel } from '../../local/simulated-model';

/**
 * The model API key must never leave the model client: not in logs, errors, job views or the table.
 * The Anthropic path is used with a recognisable key, against the simulated model as the endpoint.
 */
const API_KEY = 'sk-ant-api03-NEVER-LOG-THIS-KEY-0123456789abcdef';

let model: SimulatedModel;
let orchestrator: LocalOrchestrator;
const captured: string[] = [];
const restore: (() => void)[] = [];

beforeAll(async () => {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => (stream.write = write));
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      captured.push(
        args
          .map((arg) =>
            arg instanceof Error
              ? `${arg.stack} ${JSON.stringify(arg)}`
              : typeof arg === 'string'
                ? arg
                : JSON.stringify(arg),
          )
          .join(' '),
      );
    };
    restore.push(() => (console[method] = original));
  }
  model = await startSimulatedModel();
  orchestrator = await LocalOrchestrator.start({
    model: { kind: 'anthropic', apiKey: API_KEY, baseUrl: model.url },
    retryIntervalOverrides: { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 },
    // The functions' structured logs as deployed (quiet locally by default), down to debug, are searched too.
    functionEnvironment: { LOG_LEVEL: 'DEBUG' },
  });
});
afterAll(async () => {
  await orchestrator.close();
  await model.close();
  for (const undo of restore) undo();
});

async function run(task: string): Promise<unknown> {
  const started = await orchestrator.startJob({ task, profile: 'marketing' });
  await started.finished;
  return orchestrator.getJobView(started.jobId);
}

describe('the model API key', () => {
  it('appears in no log line, error, job view or table item, whether jobs succeed or fail', async () => {
    // Arrange: one job that succeeds, one whose workers keep failing, one whose planning is rejected.
    const views: unknown[] = [await run('Write a product description for a solar lantern')];
    model.setFaults([{ kind: 'server_error', role: 'worker', times: 20 }]);
    views.push(await run('Write a product description for a folding kettle'));
    model.setFaults([{ kind: 'bad_request', role: 'plan' }]);
    views.push(await run('Write a product description for a travel pillow'));

    // Act
    const tables = await orchestrator.dynamodb.client.send(
      new ScanCommand({ TableName: orchestrator.stack.tables[0]?.TableName }),
    );

    // Assert: the jobs ran through the key-bearing client, and the key is nowhere
    const statuses = views.map((view) => (view as { status: string }).status);
    expect(statuses[0]).toBe('SUCCEEDED');
    expect(['PARTIAL', 'FAILED']).toContain(statuses[1]);
    expect(statuses[2]).toBe('FAILED');
    expect(model.stats().total).toBeGreaterThan(5);
    const everything = [...captured, JSON.stringify(views), JSON.stringify(tables.Items)].join('\n');
    expect(everything).toContain('ModelRequestRejected');
    expect(captured.some((line) => line.includes('"function_name"') && line.includes('"jobId"'))).toBe(true);
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain(API_KEY.slice(-16));
  });
});
