import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../../../../local/runtime/dynamodb';
import { openSharedDynamoDB, type SharedDynamoDB } from '../../../../local/runtime/shared-dynamodb';

const TABLE = {
  TableName: 'Things',
  BillingMode: 'PAY_PER_REQUEST' as const,
  KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' as const }],
  AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' as const }],
};

const put = (db: SharedDynamoDB, id: string) =>
  db.client.send(new PutItemCommand({ TableName: 'Things', Item: { id: { S: id } } }));
const has = async (db: SharedDynamoDB, id: string) =>
  (await db.client.send(new GetItemCommand({ TableName: 'Things', Key: { id: { S: id } } }))).Item !==
  undefined;

describe('the shared local DynamoDB of a data folder', () => {
  let dataDir: string;
  const opened: SharedDynamoDB[] = [];
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'shared-dynamodb-'));
  });
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const open = async () => {
    const db = await openSharedDynamoDB({ dataDir });
    opened.push(db);
    return db;
  };

  it('serves the first opener and connects the later ones to it', async () => {
    // Arrange
    const first = await open();
    const second = await open();
    await ensureTable(first.client, TABLE);

    // Act
    await put(first, 'from-first');
    await put(second, 'from-second');

    // Assert
    expect(first.owns()).toBe(true);
    expect(second.owns()).toBe(false);
    expect(await has(second, 'from-first')).toBe(true);
    expect(await has(first, 'from-second')).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dataDir, 'dynamodb.json'), 'utf8'))).toEqual({
      port: first.storePort,
      pid: process.pid,
    });
  });

  it('lets only the opener that recorded its port touch the files, so openers racing on an empty folder all start', async () => {
    // Arrange: no time to wait for files held by someone else, so any contention would fail an opener.
    const racing = Array.from({ length: 6 }, () => openSharedDynamoDB({ dataDir, handOverTimeoutMs: 1 }));

    // Act
    const settled = await Promise.allSettled(racing);
    for (const outcome of settled) if (outcome.status === 'fulfilled') opened.push(outcome.value);

    // Assert
    expect(settled.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    expect(opened.filter((db) => db.owns())).toHaveLength(1);
    await ensureTable(opened[0]!.client, TABLE);
    await Promise.all(opened.map((db, index) => put(db, `opener-${index}`)));
    expect(await has(opened[5]!, 'opener-0')).toBe(true);
  });

  it('hands the files over when the owner closes while others still use them', async () => {
    // Arrange
    const owner = await open();
    const client = await open();
    await ensureTable(owner.client, TABLE);
    await put(owner, 'before');

    // Act: the owner goes; the client's next request finds no one and takes over.
    await owner.close();
    opened.splice(opened.indexOf(owner), 1);
    await put(client, 'after');
    const third = await open();

    // Assert
    expect(client.owns()).toBe(true);
    expect(third.owns()).toBe(false);
    expect(await has(third, 'before')).toBe(true);
    expect(await has(third, 'after')).toBe(true);
  });

  it('takes over from an owner that crashed (killed, no clean-up)', async () => {
    // Arrange: another process owns the folder, then dies without closing anything.
    const child = spawn(
      process.execPath,
      [
        '--require',
        'tsx/cjs',
        '-e',
        `require(${JSON.stringify(path.join(__dirname, '../../../../local/runtime/shared-dynamodb.ts'))})
          .openSharedDynamoDB({ dataDir: ${JSON.stringify(dataDir)} })
          .then((db) => { process.stdout.write('owner ' + db.owns() + '\\n'); setInterval(() => {}, 1000); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((resolve) =>
      child.stdout.once('data', (chunk: Buffer) => resolve(String(chunk))),
    );
    expect(line.trim()).toBe('owner true');
    const client = await open();
    await ensureTable(client.client, TABLE);
    await put(client, 'while-owned-elsewhere');

    // Act
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await put(client, 'after-the-crash');

    // Assert
    expect(client.owns()).toBe(true);
    expect(await has(client, 'while-owned-elsewhere')).toBe(true);
    expect(await has(client, 'after-the-crash')).toBe(true);
  }, 30_000);

  it('connects to a recorded owner that lives but is too busy to answer, instead of moving away from it', async () => {
    // Arrange: another process owns the folder, then blocks its event loop for longer than an opener waits.
    const child = spawn(
      process.execPath,
      [
        '--require',
        'tsx/cjs',
        '-e',
        `require(${JSON.stringify(path.join(__dirname, '../../../../local/runtime/shared-dynamodb.ts'))})
          .openSharedDynamoDB({ dataDir: ${JSON.stringify(dataDir)} })
          .then(async (db) => {
            const { ensureTable } = require(${JSON.stringify(path.join(__dirname, '../../../../local/runtime/dynamodb.ts'))});
            await ensureTable(db.client, ${JSON.stringify(TABLE)});
            process.stdout.write('ready\\n');
            setTimeout(() => { const until = Date.now() + 7500; while (Date.now() < until); }, 50);
            setInterval(() => {}, 1000);
          });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const recorded = readFileSync(path.join(dataDir, 'dynamodb.json'), 'utf8');
      await new Promise((resolve) => setTimeout(resolve, 200));

      // Act
      const db = await open();
      await put(db, 'to-the-busy-owner');

      // Assert
      expect(db.owns()).toBe(false);
      expect(readFileSync(path.join(dataDir, 'dynamodb.json'), 'utf8')).toBe(recorded);
      expect(await has(db, 'to-the-busy-owner')).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }, 30_000);

  it('moves to a new port when the recorded one belongs to another program', async () => {
    // Arrange
    const squatter = createServer((socket) => socket.end('not a DynamoDB\n'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    writeFileSync(path.join(dataDir, 'dynamodb.json'), JSON.stringify({ port }));
    try {
      // Act
      const db = await open();
      await ensureTable(db.client, TABLE);
      await put(db, 'moved');

      // Assert
      expect(db.owns()).toBe(true);
      expect(db.storePort).not.toBe(port);
      expect(await has(db, 'moved')).toBe(true);
    } finally {
      squatter.close();
    }
  }, 30_000);
});
