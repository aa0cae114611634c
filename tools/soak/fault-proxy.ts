import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the proxy received it (the body read in full). */
export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the upstream server answered. */
export interface UpstreamResponse {
  status: number;
  body: Buffer;
}

/**
 * What to do with one request:
 * - `forward`: pass it on (after `delayMs`) and return the answer;
 * - `drop-before-forward`: never pass it on and never answer: the caller died before its request left;
 * - `drop-after-forward`: pass it on, let it take effect, and never answer: the caller died waiting.
 */
export type ProxyVerdict =
  { kind: 'forward'; delayMs?: number } | { kind: 'drop-before-forward' } | { kind: 'drop-after-forward' };

export interface FaultProxyHooks {
  decide(request: ProxiedRequest): ProxyVerdict;
  /** Called with the upstream answer of every request that was passed on, before it is (or is not) delivered. */
  onUpstreamResponse?(request: ProxiedRequest, response: UpstreamResponse, verdict: ProxyVerdict): void;
}

const HOP_BY_HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

/**
 * A small HTTP proxy on loopback that can delay a request or drop it before or after it reaches the
 * upstream server. Dropped requests are held open, not answered: the process that sent them is
 * considered dead, so nothing it would do next (an SDK retry of the same request) may happen.
 */
export class FaultProxy {
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly held = new Set<ServerResponse>();
  private target: URL | undefined;
  private closing = false;

  private constructor(private readonly hooks: FaultProxyHooks) {
    this.server = http.createServer((request, response) => void this.handle(request, response));
  }

  /** Starts listening on a free loopback port; `target` may be set later, before the first request. */
  static async start(hooks: FaultProxyHooks, target?: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(hooks);
    if (target) proxy.setTarget(target);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  setTarget(target: string): void {
    this.target = new URL(target);
  }

  /** Stops listening and destroys every connection, held ones included. */
  async close(): Promise<void> {
    this.closing = true;
    for (const response of this.held) response.socket?.destroy();
    this.held.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private async handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const request: ProxiedRequest = {
      method: incoming.method ?? 'GET',
      path: incoming.url ?? '/',
      headers: incoming.headers,
      body: Buffer.concat(chunks),
    };
    if (this.closing) {
      response.socket?.destroy();
      return;
    }
    const verdict = this.hooks.decide(request);
    if (verdict.kind === 'drop-before-forward') {
      this.hold(response);
      return;
    }
    if (verdict.kind === 'forward' && verdict.delayMs) {
      await new Promise((resolve) => setTimeout(resolve, verdict.delayMs));
      // The caller gave up during the delay (its own timeout): like a server never reached.
      if (response.destroyed || this.closing) return;
    }
    // A caller that gives up (its own timeout) takes its upstream request down with it.
    const callerGone = new AbortController();
    response.once('close', () => callerGone.abort());
    try {
      const upstream = await this.forward(request, callerGone.signal);
      this.hooks.onUpstreamResponse?.(request, upstream, verdict);
      if (verdict.kind === 'drop-after-forward') {
        this.hold(response);
        return;
      }
      if (response.destroyed) return;
      response.writeHead(upstream.status, upstream.headers);
      response.end(upstream.body);
    } catch {
      response.socket?.destroy();
    }
  }

  private hold(response: ServerResponse): void {
    this.held.add(response);
    response.once('close', () => this.held.delete(response));
  }

  private forward(
    request: ProxiedRequest,
    signal: AbortSignal,
  ): Promise<UpstreamResponse & { headers: IncomingHttpHeaders }> {
    const target = this.target;
    if (!target) return Promise.reject(new Error('FaultProxy: no target set'));
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) => !HOP_BY_HOP_HEADERS.has(name.toLowerCase())),
    );
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.path,
          headers: { ...headers, host: target.host, 'content-length': String(request.body.length) },
          agent: this.agent,
          signal,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('error', reject);
          answer.on('end', () => {
            const answerHeaders = Object.fromEntries(
              Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP_HEADERS.has(name)),
            );
            resolve({
              status: answer.statusCode ?? 502,
              headers: answerHeaders,
              body: Buffer.concat(chunks),
            });
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(request.body);
    });
  }
}
