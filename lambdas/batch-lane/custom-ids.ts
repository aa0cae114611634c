/**
 * Custom ids of the lane's Message Batch requests: short, unique within a batch, and decodable back
 * to the item and the call (results come back in any order). `i7-p2`: item 7's plan, call 2 (the first
 * repair); `i7-w3`: item 7's subtask at plan position 3; `i7-s`: item 7's synthesis.
 */
export type DecodedCustomId =
  | { index: number; kind: 'plan'; call: number }
  | { index: number; kind: 'worker'; ordinal: number }
  | { index: number; kind: 'synthesis' };

export const planCustomId = (index: number, call: number) => `i${index}-p${call}`;
export const workerCustomId = (index: number, ordinal: number) => `i${index}-w${ordinal}`;
export const synthesisCustomId = (index: number) => `i${index}-s`;

const PATTERN = /^i(\d+)-(?:p(\d+)|w(\d+)|(s))$/;

export function decodeCustomId(customId: string): DecodedCustomId | undefined {
  const match = PATTERN.exec(customId);
  if (!match) return undefined;
  const index = Number(match[1]);
  if (match[2] !== undefined) return { index, kind: 'plan', call: Number(match[2]) };
  if (match[3] !== undefined) return { index, kind: 'worker', ordinal: Number(match[3]) };
  return { index, kind: 'synthesis' };
}
