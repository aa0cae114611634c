import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompletingWriteFaults } from '../../../../tools/soak/completing-write-faults';
import { FaultProxy } from '../../../../tools/soak/fault-proxy';
import { SoakLedger } from '../../../../tools/soak/soak-ledger';

/** An UpdateItem as JobRepository.completeSubtask sends it (the fields the soak reads). */
const COMPLETING_WRITE = JSON.stringify({
  TableName: 'Jobs',
  Key: { pk: { S: 'JOB#job-1' }, sk: { S: 'SUBTASK#background' } },
  UpdateExpression: 'SET #status = :succeeded, #output = :output, #usage = :usage',
  ExpressionAttributeValues: {
    ':output': { S: 'the output' },
    ':usage': { M: { inputTokens: { N: '12' }, outputTokens: { N: '34' } } },
  },
});

describe('completing-write faults at the DynamoDB proxy', () => {
  let upstream: http.Server;
  let received: string[];
  let crashed: string[];
  let ledger: SoakLedger;
  let faults: CompletingWriteFaults;
  let proxy: FaultProxy;

  beforeEach(async () => {
    received = [];
    crashed = [];
    upstream = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push(body);
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    ledger = new SoakLedger();
    const crashes = {
      crash: (jobId: string, subtaskId: string) => crashed.push(`${jobId}/${subtaskId}`) > 0,
    };
    draws = [];
    faults = new CompletingWriteFaults(ledger, crashes, () => draws.shift() ?? 0);
    faults.settings = { crashRate: 1 };
    proxy = await FaultProxy.start(faults, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });
  afterEach(async () => {
    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  });
  // The random draws: the first decides a crash (below the rate), the second its timing.
  let draws: number[];
  const crashNext = (timing: 'before-write' | 'after-write') =>
    draws.push(0, timing === 'before-write' ? 0.1 : 0.9);

  /** Sends a request through the proxy; resolves with the status, or 'no answer' when the socket is closed at the end. */
  function send(body: string, target = 'DynamoDB_20120810.UpdateItem') {
    const request = http.request(proxy.url, { method: 'POST', headers: { 'x-amz-target': target } });
    const answered = new Promise<number | 'no answer'>((resolve) => {
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', () => resolve('no answer'));
    });
    request.end(body);
    return answered;
  }

  /** Waits until `check` holds, polling the event loop (no wall-clock deadline of its own). */
  async function until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise((resolve) => setImmediate(resolve));
  }

  it('crashes the worker before its write: the write never reaches DynamoDB and is never answered', async () => {
    crashNext('before-write');
    const answer = send(COMPLETING_WRITE);
    await until(() => crashed.length > 0);

    await proxy.close();
    expect(await answer).toBe('no answer');
    expect(received).toEqual([]);
    expect(crashed).toEqual(['job-1/background']);
    expect(ledger.entries.map((entry) => entry.kind === 'write' && entry.outcome)).toEqual([
      false,
      'dropped',
    ]);
  });

  it('crashes the worker after its write: DynamoDB applies it, the worker never hears back', async () => {
    crashNext('after-write');
    const answer = send(COMPLETING_WRITE);
    await until(() => crashed.length > 0);

    await proxy.close();
    expect(await answer).toBe('no answer');
    expect(received).toEqual([COMPLETING_WRITE]);
    expect(ledger.entries).toEqual([
      expect.objectContaining({
        kind: 'write',
        outcome: 'accepted',
        usage: { inputTokens: 12, outputTokens: 34 },
      }),
      expect.objectContaining({ kind: 'crash', when: 'after-write', subtaskId: 'background' }),
    ]);
  });

  it('passes every other request through untouched', async () => {
    const status = await send('{"TableName":"Jobs","Key":{}}', 'DynamoDB_20120810.GetItem');

    expect(status).toBe(200);
    expect(received).toEqual(['{"TableName":"Jobs","Key":{}}']);
    expect(crashed).toEqual([]);
    expect(ledger.entries).toEqual([]);
  });
});
