import { randomUUID } from 'node:crypto';
import type { TextRef } from '../domain/schemas';

/**
 * Texts up to this many UTF-8 bytes stay inline in their item. With the other attributes of a job
 * item bounded (task, context, templates, plan), an inline text this size keeps every item well
 * under DynamoDB's 400 KB limit.
 */
export const INLINE_TEXT_MAX_BYTES = 64_000;

/** Bytes of text per chunk item: a chunk item is its key, this text and a few small attributes. */
export const TEXT_CHUNK_BYTES = 300_000;

export const CHUNK_SORT_KEY_PREFIX = 'CHUNK#';

/** Sort key prefix of one stored version of a text. */
export const chunkPrefix = (owner: string, version: string) => `${CHUNK_SORT_KEY_PREFIX}${owner}#${version}#`;

/** Sort key of chunk `index`; zero-padded so chunks sort in order. */
export const chunkSortKey = (owner: string, version: string, index: number) =>
  `${chunkPrefix(owner, version)}${String(index).padStart(4, '0')}`;

/** Splits `text` into pieces of at most `maxBytes` UTF-8 bytes, never inside a character. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let current = '';
  let currentBytes = 0;
  for (const char of text) {
    const bytes = Buffer.byteLength(char);
    if (currentBytes + bytes > maxBytes && current !== '') {
      pieces.push(current);
      current = '';
      currentBytes = 0;
    }
    current += char;
    currentBytes += bytes;
  }
  if (current !== '' || pieces.length === 0) pieces.push(current);
  return pieces;
}

/** How a text is to be stored: inline, or as chunk items under a fresh version. */
export type TextPlacement =
  | { kind: 'inline'; text: string }
  | { kind: 'chunked'; ref: TextRef; chunks: { sk: string; text: string }[] };

export function placeText(owner: string, text: string, newVersion: () => string = randomUUID): TextPlacement {
  const bytes = Buffer.byteLength(text);
  if (bytes <= INLINE_TEXT_MAX_BYTES) return { kind: 'inline', text };
  const version = newVersion();
  const pieces = splitUtf8(text, TEXT_CHUNK_BYTES);
  return {
    kind: 'chunked',
    ref: { version, chunks: pieces.length, bytes },
    chunks: pieces.map((piece, index) => ({ sk: chunkSortKey(owner, version, index), text: piece })),
  };
}

/**
 * Reassembles a chunked text from the partition's chunk items. Throws when a chunk is missing,
 * which would mean the item was written without its chunks: never expected, never hidden.
 */
export function assembleText(
  owner: string,
  ref: TextRef,
  chunkItems: readonly Record<string, unknown>[],
): string {
  const prefix = chunkPrefix(owner, ref.version);
  const byKey = new Map(
    chunkItems
      .filter((item) => typeof item.sk === 'string' && item.sk.startsWith(prefix))
      .map((item) => [item.sk, item.text]),
  );
  let text = '';
  for (let index = 0; index < ref.chunks; index++) {
    const piece = byKey.get(chunkSortKey(owner, ref.version, index));
    if (typeof piece !== 'string') {
      throw new Error(`Chunk ${index + 1} of ${ref.chunks} of ${owner} (version ${ref.version}) is missing`);
    }
    text += piece;
  }
  return text;
}
