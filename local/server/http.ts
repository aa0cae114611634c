import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Reads a request body up to `limit` bytes; returns undefined when it is larger. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) tooLarge = true;
    else chunks.push(chunk as Buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

/** A fixed port is taken (by another `npm run serve`, say): the CLI says so in one line and exits 2. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

/** Listens on loopback; a port in use fails with a message naming the variable that moves it. */
export async function listen(
  server: Server,
  port: number,
  host: string,
  portVariable: string,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new PortInUseError(
              `port ${port} is in use (another npm run serve?); set ${portVariable} to another port`,
            )
          : error,
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
