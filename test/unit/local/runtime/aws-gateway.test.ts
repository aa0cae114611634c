import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalAwsGateway } from '../../../../local/runtime/aws-gateway';

/** A model API that never answers, and says when a request's connection closed. */
async function silentUpstream(): Promise<{ server: Server; url: string; closed: Promise<number> }> {
  let closedAt: (at: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => (closedAt = resolve));
  const server = createServer((request: IncomingMessage, response) => {
    request.resume();
    response.on('close', () => closedAt(Date.now()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, closed };
}

const principal = {
  role: {
    logicalId: 'WorkerRole',
    arn: 'arn:aws:iam::000000000000:role/WorkerRole',
    trustPolicy: { Statement: [] },
    policies: [],
  },
  sessionName: 'worker',
};

describe('the local AWS gateway’s model route', () => {
  it('ends the request at the model when its caller gives up, as a closed connection does', async () => {
    const upstream = await silentUpstream();
    const gateway = await LocalAwsGateway.start({ upstreams: {}, anthropicUpstream: upstream.url });
    try {
      const { anthropicBaseUrl } = gateway.openSession(principal);
      const caller = new AbortController();
      const call = fetch(`${anthropicBaseUrl}/v1/messages`, {
        method: 'POST',
        body: '{}',
        signal: caller.signal,
      }).catch((error: unknown) => error);

      await new Promise((resolve) => setTimeout(resolve, 100));
      const gaveUpAt = Date.now();
      caller.abort();
      await call;

      const closedAt = await Promise.race([
        upstream.closed,
        new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 2_000)),
      ]);
      expect(closedAt - gaveUpAt).toBeLessThan(1_000);
    } finally {
      await gateway.close();
      upstream.server.closeAllConnections();
      await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    }
  });
});
