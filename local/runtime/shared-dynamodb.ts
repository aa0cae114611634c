import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ClassicLevel } from 'classic-level';
import dynalite from 'dynalite';
import { LOCAL_CREDENTIALS, type LocalDynamoDB } from './dynamodb';

/**
 * One local DynamoDB for every process using a data folder (`npm start`, `npm run batch`,
 * `npm run serve`, any number at once).
 *
 * - The folder's LevelDB files can be opened by one process only. The process that holds them, the
 *   **owner**, serves them on a port recorded in `<dataDir>/dynamodb.json`.
 * - Listening on that port is the ownership: the kernel gives it to one process at a time and frees
 *   it when the owner exits or crashes, so there is no lock file to go stale.
 * - Every process (the owner too) talks to the store through a forwarder of its own, whose address
 *   never changes while the process runs (its functions' `DYNAMODB_ENDPOINT`). When the owner goes
 *   (exits, or crashes), a forward is refused, and the process that needed it takes the recorded port
 *   itself, opens the files once the old owner has let them go, and the request goes on: a refused
 *   connection never reached a server, so sending it again is safe. Nothing above the forwarder sees
 *   the hand-over.
 */
export interface SharedDynamoDB extends LocalDynamoDB {
  /** Whether this process serves the files right now. */
  owns(): boolean;
  /** The recorded port of the folder's store. */
  storePort: number;
}

export interface SharedDynamoDBOptions {
  /** The local data folder: LevelDB in `dynamodb/`, the store's port in `dynamodb.json`. */
  dataDir: string;
  /** The forwarder's port (`DYNAMODB_PORT`); default any free port. */
  port?: number;
  host?: string;
  /** How long a request waits for a new owner after the last one went. @default 20000 */
  handOverTimeoutMs?: number;
}

/** The data folder cannot be shared: said in one line, and the CLIs exit 2 on it. */
export class LocalStoreUnavailable extends Error {
  override readonly name = 'LocalStoreUnavailable';
}

const RECORD_FILE = 'dynamodb.json';
const IDENTITY_PATH = '/local-store';
const IDENTITY_HEADER = 'x-local-store';

interface StoreRecord {
  port: number;
  /** The owner's process: while it lives, a port that does not answer is a busy owner, not a stranger. */
  pid?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function listenOn(server: Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') resolve(false);
      else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, exclusive: true });
  });
}

/**
 * Stops listening and ends every connection as soon as it is idle: other processes keep theirs
 * alive, and would otherwise go on using this one for as long as they run.
 */
function closeServer(server: Server, graceMs = 2_000): Promise<void> {
  return new Promise((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 20);
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Serves the folder's LevelDB files on the recorded port, while this process owns them. */
class StoreOwner {
  private dynaliteServer: Server | undefined;
  private ready: Promise<void> | undefined;
  private releasing = false;
  private failure: Error | undefined;
  /** Requests dynalite is still working on: their connection may be gone, their operation is not. */
  private inFlight = 0;
  private whenIdle: (() => void) | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly levelDir: string,
  ) {}

  /**
   * Takes `port` (0: a new one) if no other process holds it; undefined when one does. The files are
   * opened only by `open()`: a process that took a fresh port but then lost the race to record it
   * must never have held them, or the winner would find them locked.
   */
  static async claim(port: number, host: string, dataDir: string): Promise<StoreOwner | undefined> {
    // The server must exist (and listen) before its owner can be made: requests wait for it.
    const bound: { owner?: StoreOwner } = {};
    const server = http.createServer((request, response) => {
      if (bound.owner) bound.owner.handle(request, response, dataDir);
      else response.writeHead(503).end();
    });
    server.keepAliveTimeout = 30_000;
    if (!(await listenOn(server, port, host))) return undefined;
    const owner = new StoreOwner(
      server,
      (server.address() as AddressInfo).port,
      path.join(dataDir, 'dynamodb'),
    );
    bound.owner = owner;
    return owner;
  }

  /**
   * Opens the files, waiting up to `waitForFilesMs` for a previous owner to close them; resolves when
   * they are open, rejects when they could not be (another program holds them).
   */
  async open(waitForFilesMs: number): Promise<void> {
    this.ready ??= this.openFiles(this.levelDir, waitForFilesMs).catch((error: unknown) => {
      this.failure = error instanceof Error ? error : new Error(String(error));
    });
    await this.ready;
    if (this.failure) throw this.failure;
  }

  private async openFiles(levelDir: string, waitForFilesMs: number): Promise<void> {
    mkdirSync(levelDir, { recursive: true });
    // A previous owner may still be closing them: the port is free before its files are.
    const deadline = Date.now() + waitForFilesMs;
    for (;;) {
      const probe = new ClassicLevel(levelDir);
      try {
        await probe.open();
        await probe.close();
        break;
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code;
        if (code !== 'LEVEL_LOCKED') throw error;
        if (Date.now() > deadline) {
          throw new LocalStoreUnavailable(
            `the local data folder ${path.dirname(levelDir)} is held by another program that does not share it; stop it, or set LOCAL_DATA_DIR to another folder`,
          );
        }
        await sleep(25);
      }
    }
    const server = dynalite({ path: levelDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    // Listening (on a port nobody uses) only so that dynalite's close() closes the files too.
    await listenOn(server, 0, '127.0.0.1');
    this.dynaliteServer = server;
  }

  private handle(request: IncomingMessage, response: ServerResponse, dataDir: string): void {
    response.setHeader(IDENTITY_HEADER, String(process.pid));
    // Letting go: answer what comes, but on connections that then close (the next request goes to the next owner).
    if (this.releasing) response.setHeader('connection', 'close');
    if (request.method === 'GET' && request.url === IDENTITY_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ dataDir: realpathSync(dataDir), pid: process.pid }));
      return;
    }
    void (this.ready ?? Promise.resolve()).then(() => {
      if (!this.dynaliteServer) {
        response.writeHead(503, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(
          JSON.stringify({ __type: 'LocalStoreUnavailable', message: this.failure?.message ?? 'not open' }),
        );
        return;
      }
      this.track(response);
      this.dynaliteServer.emit('request', request, response);
    });
  }

  /** Counts a request as in flight until dynalite answers it (`end`), even on a closed connection. */
  private track(response: ServerResponse): void {
    this.inFlight += 1;
    const end = response.end.bind(response);
    let answered = false;
    response.end = ((...args: Parameters<typeof end>) => {
      if (!answered) {
        answered = true;
        this.inFlight -= 1;
        if (this.inFlight === 0) this.whenIdle?.();
      }
      return end(...args);
    }) as typeof response.end;
  }

  private drained(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.whenIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Lets the port go (new requests go to the next owner), finishes what is in flight, closes the files. */
  async release(): Promise<void> {
    this.releasing = true;
    await closeServer(this.server);
    await this.ready;
    // Closing the files under an operation still running would crash this process ("Database is closed").
    await this.drained(30_000);
    const dynaliteServer = this.dynaliteServer;
    if (dynaliteServer) await new Promise<void>((resolve) => dynaliteServer.close(() => resolve()));
  }
}

function readRecord(file: string): StoreRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoreRecord>;
    if (typeof parsed.port !== 'number' || parsed.port <= 0) return undefined;
    return typeof parsed.pid === 'number' ? { port: parsed.port, pid: parsed.pid } : { port: parsed.port };
  } catch {
    return undefined;
  }
}

/** Writes the record unless one exists (`exclusive`), or replaces it atomically. */
function writeRecord(file: string, record: StoreRecord, exclusive: boolean): boolean {
  const text = `${JSON.stringify(record)}\n`;
  if (exclusive) {
    try {
      writeFileSync(file, text, { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
  return true;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Who answers on `port`: a store of this data folder (`ours`), some other program (`foreign`), or
 * nobody in time (`silent`: an owner whose event loop is busy, say synthesizing, looks like this too).
 */
function whoServes(host: string, port: number, dataDir: string): Promise<'ours' | 'foreign' | 'silent'> {
  return new Promise((resolve) => {
    const request = http.get(
      { host, port, path: IDENTITY_PATH, agent: false, timeout: 2_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => resolve('silent'));
        response.on('end', () => {
          if (response.statusCode !== 200 || !response.headers[IDENTITY_HEADER]) return resolve('foreign');
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { dataDir?: string };
            resolve(body.dataDir === realpathSync(dataDir) ? 'ours' : 'foreign');
          } catch {
            resolve('foreign');
          }
        });
      },
    );
    request.on('timeout', () => request.destroy());
    // A reply that is not HTTP at all is another program; a reset or a timeout says nothing.
    request.on('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'HPE_INVALID_CONSTANT' || error.code?.startsWith('HPE_') ? 'foreign' : 'silent'),
    );
  });
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * Opens the data folder's shared DynamoDB: owns it when no live process does, otherwise connects to
 * the owner. Throws `LocalStoreUnavailable` when the folder cannot be shared (its files are held by
 * a program that does not take part, or its recorded port belongs to another program).
 */
export async function openSharedDynamoDB(options: SharedDynamoDBOptions): Promise<SharedDynamoDB> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const recordFile = path.join(dataDir, RECORD_FILE);
  const handOverTimeoutMs = options.handOverTimeoutMs ?? 20_000;

  let owner: StoreOwner | undefined;
  let storePort = 0;
  const startDeadline = Date.now() + 5_000;
  for (;;) {
    const record = readRecord(recordFile);
    if (record) {
      owner = await StoreOwner.claim(record.port, host, dataDir);
      if (owner) {
        storePort = record.port;
        break;
      }
      const answer = await whoServes(host, record.port, dataDir);
      // A silent port whose recorded owner lives is that owner, busy: its requests will be answered.
      if (answer === 'ours' || (answer === 'silent' && record.pid !== undefined && isAlive(record.pid))) {
        storePort = record.port;
        break;
      }
      if (answer === 'foreign' || Date.now() > startDeadline) {
        // Not a store of this folder on the recorded port: some other program took it. Move.
        const moved = await StoreOwner.claim(0, host, dataDir);
        if (!moved) continue;
        if (readRecord(recordFile)?.port === record.port) {
          writeRecord(recordFile, { port: moved.port, pid: process.pid }, false);
          // Whoever reads the record now may already send to it: serve them until letting go.
          await moved.open(handOverTimeoutMs).catch(() => undefined);
        }
        await moved.release();
        continue;
      }
      await sleep(50);
      continue;
    }
    const fresh = await StoreOwner.claim(0, host, dataDir);
    if (!fresh) continue;
    if (writeRecord(recordFile, { port: fresh.port, pid: process.pid }, true)) {
      owner = fresh;
      storePort = fresh.port;
      break;
    }
    // Another process recorded its port first: use that one.
    await fresh.release();
  }
  if (owner) {
    try {
      // A previous owner may still be closing the files (the port is free before they are), however slowly.
      await owner.open(handOverTimeoutMs);
    } catch (error) {
      await owner.release();
      throw error;
    }
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let takingOver: Promise<void> | undefined;
  const takeOver = () => {
    takingOver ??= (async () => {
      if (owner) return;
      const claimed = await StoreOwner.claim(storePort, host, dataDir);
      if (!claimed) return;
      if (readRecord(recordFile)?.port === storePort)
        writeRecord(recordFile, { port: storePort, pid: process.pid }, false);
      await claimed.open(handOverTimeoutMs).catch(() => undefined);
      owner = claimed;
    })().finally(() => (takingOver = undefined));
    return takingOver;
  };

  const send = (request: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const headers = { ...request.headers };
      delete headers.host;
      delete headers.connection;
      const forward = http.request(
        { host, port: storePort, method: request.method, path: request.url, headers, agent },
        (reply) => {
          const chunks: Buffer[] = [];
          reply.on('data', (chunk: Buffer) => chunks.push(chunk));
          reply.on('end', () =>
            resolve({ status: reply.statusCode ?? 500, headers: reply.headers, body: Buffer.concat(chunks) }),
          );
          reply.on('error', reject);
        },
      );
      forward.on('error', reject);
      forward.end(body);
    });

  const forwarder = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const deadline = Date.now() + handOverTimeoutMs;
        for (;;) {
          try {
            const reply = await send(request, body);
            const headers = { ...reply.headers };
            delete headers.connection;
            delete headers['keep-alive'];
            delete headers[IDENTITY_HEADER];
            response.writeHead(reply.status, headers);
            response.end(reply.body);
            return;
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code ?? '';
            if (!CONNECTION_ERRORS.has(code) || Date.now() > deadline) {
              response.writeHead(503, { 'content-type': 'application/x-amz-json-1.0' });
              response.end(
                JSON.stringify({
                  __type: 'com.amazonaws.dynamodb.v20120810#ServiceUnavailableException',
                  message: `The local DynamoDB of ${dataDir} is unavailable: ${(error as Error).message}`,
                }),
              );
              return;
            }
            // The owner has gone: take its place (or let another process that did), then send again.
            await takeOver();
            await sleep(owner ? 0 : 25);
          }
        }
      })();
    });
  });
  if (!(await listenOn(forwarder, options.port ?? 0, host))) {
    await owner?.release();
    throw new LocalStoreUnavailable(
      `DynamoDB port ${options.port} is in use; set DYNAMODB_PORT to another port`,
    );
  }
  const { port } = forwarder.address() as AddressInfo;
  const endpoint = `http://${host}:${port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  return {
    endpoint,
    port,
    client,
    storePort,
    owns: () => owner !== undefined,
    close: async () => {
      client.destroy();
      forwarder.closeAllConnections();
      await new Promise<void>((resolve) => forwarder.close(() => resolve()));
      agent.destroy();
      await takingOver;
      await owner?.release();
      owner = undefined;
    },
  };
}
