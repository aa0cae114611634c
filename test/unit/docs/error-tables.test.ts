import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  ERROR_POLICY,
  type ErrorClass,
  errorsOfClass,
  RETRY_TIMING,
} from '../../../lambdas/shared/domain/error-policy';

const DOCS = path.join(__dirname, '..', '..', '..', 'docs');
const read = (page: string) => readFileSync(path.join(DOCS, page), 'utf8');

/** The rows of the first markdown table after `heading`, as arrays of trimmed cells. */
function tableAfter(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(heading);
  if (start < 0) throw new Error(`No "${heading}" in the page`);
  const rows = markdown
    .slice(start)
    .split('\n')
    .filter((line) => line.startsWith('|'));
  const firstBlock = rows.slice(0, rows.findIndex((_, i) => i > 0 && !rows[i + 1]?.startsWith('|')) + 1);
  return firstBlock.slice(2).map((line) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim()),
  );
}

const namesIn = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

describe('the retry table in docs/configuration.md', () => {
  const rows = tableAfter(read('configuration.md'), '## Retry policy');

  it('lists each class of the error policy once, with exactly its errors', () => {
    const classes = Object.keys(RETRY_TIMING).concat('final') as ErrorClass[];
    expect(rows.map((row) => row[0])).toEqual(classes);
    for (const row of rows) {
      expect({ class: row[0], errors: namesIn(row[1]!) }).toEqual({
        class: row[0],
        errors: errorsOfClass(row[0] as ErrorClass),
      });
    }
  });

  it('gives each retried class the timing the state machine uses', () => {
    for (const [name, timing] of Object.entries(RETRY_TIMING)) {
      const row = rows.find((candidate) => candidate[0] === name)!;
      expect(row.slice(2)).toEqual([
        `${timing.intervalSeconds} s`,
        `×${timing.backoffRate}`,
        String(timing.maxAttempts),
        `${timing.maxDelaySeconds} s`,
        'full',
      ]);
    }
  });
});

describe('the error table in docs/architecture.md', () => {
  const rows = tableAfter(read('architecture.md'), '## Errors');
  const documented = rows.flatMap((row) => namesIn(row[0]!));

  it('names every error of the error policy', () => {
    expect(Object.keys(ERROR_POLICY).filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('says which errors are retried and which are final, as the policy does', () => {
    for (const row of rows) {
      for (const name of namesIn(row[0]!)) {
        const entry = ERROR_POLICY[name as keyof typeof ERROR_POLICY];
        if (!entry) continue;
        expect({ name, retried: row[2]!.startsWith('retried') }).toEqual({
          name,
          retried: entry.class !== 'final',
        });
      }
    }
  });
});
