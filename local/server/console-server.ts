import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as path from 'node:path';
import { closeServer, listen, readBody } from './http';

/**
 * The local execution console (`npm run serve` → `/console`): static pages that are clients of the
 * local Step Functions endpoint (its JSON protocol) and of the jobs API, both reached through this
 * server on the same origin, so the browser needs no CORS and the engine has no side door.
 */
export interface ConsoleServer {
  /** The console's address, e.g. `http://127.0.0.1:8084/console`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ConsoleServerOptions {
  /** The jobs API's base URL; a function because the API server starts after this one. */
  apiUrl: () => string;
  sfnEndpoint: string;
  /** Handed to the page (same origin, loopback only) so it can call the jobs API as any client does. */
  apiKey: string;
  port?: number;
  host?: string;
}

const ASSETS_DIR = path.join(__dirname, 'console');
const ASSETS: Record<string, { file: string; type: string }> = {
  '/console/assets/console.js': { file: path.join(ASSETS_DIR, 'console.js'), type: 'text/javascript' },
  '/console/assets/console.css': { file: path.join(ASSETS_DIR, 'console.css'), type: 'text/css' },
  '/console/assets/dagre.min.js': {
    // The browser build dagre ships (its exports map only lists the Node entry points).
    file: path.join(path.dirname(require.resolve('@dagrejs/dagre/package.json')), 'dist', 'dagre.min.js'),
    type: 'text/javascript',
  },
};
const PAGES = new Set(['/console', '/console/', '/console/execution']);
const MAX_PROXIED_BODY_BYTES = 1_048_576;
const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Only requests addressed to a loopback name are answered: a page on another site that rebinds its
 * DNS name to 127.0.0.1 sends its own Host header and is refused, so it cannot read the API key.
 */
function isLoopbackHost(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.toLowerCase());
  return Boolean(match?.[1] && LOOPBACK_HOSTS.has(match[1]) && Number(match[2] ?? 80) === port);
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer) {
  response.writeHead(status, { 'content-type': type, ...SECURITY_HEADERS });
  response.end(body);
}

async function proxy(
  request: IncomingMessage,
  response: ServerResponse,
  target: string,
  forwardHeaders: string[],
): Promise<void> {
  const body = await readBody(request, MAX_PROXIED_BODY_BYTES);
  if (!body) return send(response, 413, 'text/plain', 'Request body too large');
  const headers: Record<string, string> = {};
  for (const name of forwardHeaders) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  try {
    const upstream = await fetch(target, {
      method: request.method ?? 'GET',
      headers,
      ...(body.length > 0 && request.method !== 'GET' ? { body } : {}),
    });
    const text = Buffer.from(await upstream.arrayBuffer());
    send(response, upstream.status, upstream.headers.get('content-type') ?? 'application/json', text);
  } catch (error) {
    send(
      response,
      502,
      'application/json',
      JSON.stringify({ error: { code: 'UPSTREAM_UNREACHABLE', message: String(error) } }),
    );
  }
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const host = options.host ?? '127.0.0.1';
  let port = 0;
  const server: Server = createServer((request, response) => {
    void (async () => {
      if (!isLoopbackHost(request.headers.host, port))
        return send(response, 403, 'text/plain', 'The console answers on loopback addresses only');
      const url = new URL(request.url ?? '/', 'http://localhost');
      const method = request.method ?? 'GET';
      if (url.pathname.startsWith('/console/api/')) {
        const rest = url.pathname.slice('/console/api'.length) + url.search;
        return proxy(request, response, `${options.apiUrl()}${rest}`, [
          'x-api-key',
          'content-type',
          'idempotency-key',
        ]);
      }
      if (url.pathname === '/console/sfn' && method === 'POST')
        return proxy(request, response, options.sfnEndpoint, ['x-amz-target', 'content-type']);
      if (method !== 'GET') return send(response, 405, 'text/plain', 'Method not allowed');
      if (url.pathname === '/') {
        response.writeHead(302, { location: '/console', ...SECURITY_HEADERS });
        return response.end();
      }
      if (PAGES.has(url.pathname))
        return send(
          response,
          200,
          'text/html; charset=utf-8',
          await readFile(path.join(ASSETS_DIR, 'index.html')),
        );
      if (url.pathname === '/console/config.json')
        return send(
          response,
          200,
          'application/json',
          JSON.stringify({ apiKey: options.apiKey, apiBase: '/console/api', sfnEndpoint: '/console/sfn' }),
        );
      const asset = ASSETS[url.pathname];
      if (asset) return send(response, 200, `${asset.type}; charset=utf-8`, await readFile(asset.file));
      return send(response, 404, 'text/plain', 'Not found');
    })().catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'text/plain', String(error));
    });
  });
  port = await listen(server, options.port ?? 0, host, 'CONSOLE_PORT');
  return { url: `http://${host}:${port}/console`, port, close: () => closeServer(server) };
}
