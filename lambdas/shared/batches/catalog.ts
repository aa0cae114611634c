import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type BatchDefinition, BatchDefinitionSchema } from '../domain/batch-schemas';

/** Where the batch definitions live in the repository. */
export const DEFAULT_BATCHES_DIR = path.join(__dirname, '..', '..', '..', 'batches');

/** A batch definition file that cannot be used; the message names the file and each bad field. */
export class InvalidBatchDefinition extends Error {
  override readonly name = 'InvalidBatchDefinition';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`Invalid batch definition ${file}: ${problems.join('; ')}`);
  }
}

/** Parses one definition file's text; `file` is only used in the error message. */
export function parseBatchDefinition(file: string, text: string): BatchDefinition {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidBatchDefinition(file, [
      `not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    ]);
  }
  const result = BatchDefinitionSchema.safeParse(raw);
  if (!result.success) {
    throw new InvalidBatchDefinition(
      file,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

export function loadBatchDefinitionFile(file: string): BatchDefinition {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidBatchDefinition(file, [
      `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    ]);
  }
  return parseBatchDefinition(file, text);
}

/** Every `*.json` in `dir`, validated; names must be unique (each becomes a schedule). */
export function loadBatchDefinitions(dir: string = DEFAULT_BATCHES_DIR): BatchDefinition[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort();
  const definitions: BatchDefinition[] = [];
  const fileOfName = new Map<string, string>();
  for (const name of files) {
    const file = path.join(path.relative(process.cwd(), dir) || '.', name);
    const definition = loadBatchDefinitionFile(file);
    const clash = fileOfName.get(definition.name);
    if (clash)
      throw new InvalidBatchDefinition(file, [`name: "${definition.name}" is already used by ${clash}`]);
    fileOfName.set(definition.name, file);
    definitions.push(definition);
  }
  return definitions;
}
