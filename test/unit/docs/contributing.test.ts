import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
const layout = readFileSync(path.join(ROOT, 'docs', 'contributing.md'), 'utf8');

const foldersOf = (dir: string) =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);

describe('the code layout in docs/contributing.md', () => {
  it.each(['lib', 'lambdas', 'lambdas/shared', 'local', 'tools'])('names every folder of %s/', (dir) => {
    const missing = foldersOf(dir).filter((folder) => !new RegExp(`(^|[\\s/])${folder}/`, 'm').test(layout));
    expect(missing).toEqual([]);
  });

  it('names only folders that exist', () => {
    const named = [...layout.matchAll(/^ {2}([a-z-]+)\/ /gm)].map((match) => match[1]!);
    const existing = new Set([
      ...foldersOf('lib'),
      ...foldersOf('lambdas'),
      ...foldersOf('local'),
      ...foldersOf('tools'),
    ]);
    expect(named.filter((folder) => !existing.has(folder))).toEqual([]);
  });
});
