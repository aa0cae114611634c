import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { TestTable } from './local-table';

/** DynamoDB's hard limit on one item. */
export const DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024;

/**
 * An item's size as DynamoDB counts it (UTF-8 bytes of attribute names and string values, numbers
 * by digits, 3 bytes plus 1 per element for lists and maps). dynalite counts string *characters*,
 * which undercounts multi-byte text, so limit tests measure items with this instead.
 */
export function dynamoItemSize(item: Record<string, unknown>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value),
    0,
  );
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') {
    const digits =
      String(Math.abs(value))
        .replace(/[.e+-]/g, '')
        .replace(/^0+/, '').length || 1;
    return Math.ceil(digits / 2) + 1;
  }
  if (typeof value === 'boolean' || value === null || value === undefined) return 1;
  if (Array.isArray(value))
    return 3 + value.reduce((sum: number, element) => sum + 1 + valueSize(element), 0);
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === 'object') {
    return (
      3 +
      Object.entries(value).reduce(
        (sum, [name, element]) => sum + 1 + Buffer.byteLength(name) + valueSize(element),
        0,
      )
    );
  }
  throw new Error(`Cannot size a ${typeof value}`);
}

/** The largest item in the table, by DynamoDB's count, and its key. */
export async function largestItem(table: TestTable): Promise<{ bytes: number; sk: string }> {
  let largest = { bytes: 0, sk: '' };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await table.documents.send(
      new ScanCommand({ TableName: table.tableName, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? []) {
      const bytes = dynamoItemSize(item);
      if (bytes > largest.bytes) largest = { bytes, sk: `${String(item.pk)} ${String(item.sk)}` };
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return largest;
}
