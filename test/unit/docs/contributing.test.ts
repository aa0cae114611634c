import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');

interface LayoutEntry {
  /** The folder the entry is listed under ('' at the top, else ending in '/'). */
  parent: string;
  /** A folder (ending in '/'), a file or a glob, as written. */
  name: string;
}

/**
 * The entries of the code block under "## Code layout". Indentation nests an entry in the folder above
 * it; one line may list several entries before its description (`plan/ worker/ synthesize/`); a line
 * indented deeper than one step continues the description above.
 */
function layoutEntries(markdown: string): LayoutEntry[] {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Code layout\n'));
  const block = section?.match(/^```\n([\s\S]*?)^```/m)?.[1];
  if (!block) throw new Error('No code block under "## Code layout"');
  const entries: LayoutEntry[] = [];
  // The folders enclosing the current line; `path` is undefined for a line of several entries.
  const enclosing: { indent: number; path: string | undefined }[] = [];
  let previousIndent = 0;
  for (const line of block.split('\n').filter((text) => text.trim() !== '')) {
    const indent = line.length - line.trimStart().length;
    if (indent > previousIndent + 2) continue;
    previousIndent = indent;
    while (enclosing.length > 0 && enclosing.at(-1)!.indent >= indent) enclosing.pop();
    const parent = enclosing.length > 0 ? enclosing.at(-1)!.path : '';
    if (parent === undefined) throw new Error(`"${line.trim()}" is nested under a line of several entries`);
    const names = line.trim().split(/ {2,}/)[0]!.split(' ');
    for (const name of names) entries.push({ parent, name });
    enclosing.push({ indent, path: names.length === 1 ? `${parent}${names[0]}` : undefined });
  }
  return entries;
}

const foldersOf = (dir: string) =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);

const foldersListedUnder = (entries: LayoutEntry[], dir: string) =>
  entries
    .filter((entry) => entry.parent === `${dir}/` && entry.name.endsWith('/'))
    .map((entry) => entry.name.slice(0, -1));

describe('reading the code layout', () => {
  const markdown = [
    '# Contributing',
    '## Code layout',
    '```',
    'lib/                 the CDK app',
    '  app.ts             builds the App',
    '  constructs/        one construct per concern',
    '    jobs-table.ts    the table',
    'lambdas/             the functions',
    '  plan/ worker/      the model-calling functions,',
    '                     runtime/ is not an entry: this line continues the description',
    '  shared/            shared code',
    '    domain/          schemas',
    'bin/app.ts           CDK entry point',
    '```',
    '## Testing',
    '```',
    'npm test',
    '```',
  ].join('\n');

  it('nests entries by indentation, several folders on one line, and skips description lines', () => {
    expect(layoutEntries(markdown)).toEqual([
      { parent: '', name: 'lib/' },
      { parent: 'lib/', name: 'app.ts' },
      { parent: 'lib/', name: 'constructs/' },
      { parent: 'lib/constructs/', name: 'jobs-table.ts' },
      { parent: '', name: 'lambdas/' },
      { parent: 'lambdas/', name: 'plan/' },
      { parent: 'lambdas/', name: 'worker/' },
      { parent: 'lambdas/', name: 'shared/' },
      { parent: 'lambdas/shared/', name: 'domain/' },
      { parent: '', name: 'bin/app.ts' },
    ]);
  });

  it('lists under a folder its own entries only, not those nested deeper or under another folder', () => {
    const entries = layoutEntries(markdown);

    expect(foldersListedUnder(entries, 'lambdas')).toEqual(['plan', 'worker', 'shared']);
    expect(foldersListedUnder(entries, 'lambdas/shared')).toEqual(['domain']);
  });
});

describe('the code layout in docs/contributing.md', () => {
  const entries = layoutEntries(readFileSync(path.join(ROOT, 'docs', 'contributing.md'), 'utf8'));
  const dirs = ['lib', 'lambdas', 'lambdas/shared', 'local', 'tools'];

  it.each(dirs)('lists every folder of %s/ under it', (dir) => {
    const listed = foldersListedUnder(entries, dir);

    expect(foldersOf(dir).filter((folder) => !listed.includes(folder))).toEqual([]);
  });

  it.each(dirs)('lists under %s/ only folders it has', (dir) => {
    const existing = foldersOf(dir);

    expect(foldersListedUnder(entries, dir).filter((folder) => !existing.includes(folder))).toEqual([]);
  });

  it('names only files and folders that exist', () => {
    const missing = entries
      .map((entry) => `${entry.parent}${entry.name}`)
      .filter((name) => !name.includes('*') && !existsSync(path.join(ROOT, name)));

    expect(missing).toEqual([]);
  });
});
