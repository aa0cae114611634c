import {
  assembleText,
  INLINE_TEXT_MAX_BYTES,
  placeText,
  splitUtf8,
  TEXT_CHUNK_BYTES,
} from '../../../../../lambdas/shared/storage/large-text';

describe('splitting text by UTF-8 bytes', () => {
  it('never splits a multi-byte character and never exceeds the byte budget', () => {
    const text = 'aé大🚲'.repeat(50);

    const pieces = splitUtf8(text, 7);

    expect(pieces.join('')).toBe(text);
    for (const piece of pieces) expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(7);
    expect(pieces.every((piece) => !piece.includes('\uFFFD'))).toBe(true);
    expect(pieces.length).toBeGreaterThan(1);
  });

  it('returns one empty piece for an empty text', () => {
    expect(splitUtf8('', 10)).toEqual(['']);
  });
});

describe('placing a text inline or in chunks', () => {
  it('keeps a text up to the inline limit inline', () => {
    const text = 'x'.repeat(INLINE_TEXT_MAX_BYTES);

    expect(placeText('SUBTASK#a#output', text)).toEqual({ kind: 'inline', text });
  });

  it('chunks a larger text under a fresh version and reassembles it in order', () => {
    const text = '大'.repeat(TEXT_CHUNK_BYTES); // three bytes each: three chunks
    const placement = placeText('SUBTASK#a#output', text, () => 'v1');
    if (placement.kind !== 'chunked') throw new Error('expected chunks');

    expect(placement.ref).toEqual({ version: 'v1', chunks: 3, bytes: 3 * TEXT_CHUNK_BYTES });
    expect(placement.chunks.map((chunk) => chunk.sk)).toEqual([
      'CHUNK#SUBTASK#a#output#v1#0000',
      'CHUNK#SUBTASK#a#output#v1#0001',
      'CHUNK#SUBTASK#a#output#v1#0002',
    ]);
    // Items come back in any order, mixed with another version's leftovers.
    const items = [...placement.chunks.reverse(), { sk: 'CHUNK#SUBTASK#a#output#v0#0000', text: 'stale' }];
    expect(assembleText('SUBTASK#a#output', placement.ref, items)).toBe(text);
  });

  it('refuses to return a text with a missing chunk', () => {
    const ref = { version: 'v1', chunks: 2, bytes: 10 };
    const items = [{ sk: 'CHUNK#JOB#synthesis#v1#0000', text: 'half' }];

    expect(() => assembleText('JOB#synthesis', ref, items)).toThrow(
      'Chunk 2 of 2 of JOB#synthesis (version v1) is missing',
    );
  });
});
