import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** Folders git ignores (.gitignore's folder lines), and .git itself: not part of the repository. */
const IGNORED_FOLDERS = new Set([
  '.git',
  ...readFileSync(path.join(ROOT, '.gitignore'), 'utf8')
    .split('\n')
    .filter((line) => line.endsWith('/'))
    .map((line) => line.slice(0, -1)),
]);

/** Paths of the repository's markdown and code files, relative to its root. */
function sourceFiles(dir = ''): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return IGNORED_FOLDERS.has(entry.name) ? [] : sourceFiles(relative);
    return /\.(md|ts|js|mjs|cjs)$/.test(entry.name) ? [relative] : [];
  });
}

const MARKDOWN_LINK = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)/gm;
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)(['"])(\.\.?\/[^'"]*)\1/g;
/** Documents that live beside the repository in its authors' workspace, never in it. */
const WORKSPACE_DOCUMENTS = /shared\/(ARCHITECTURE|STYLE)\.md/g;

/** The relative link targets of a markdown file (no URL, no in-page anchor). */
const markdownTargets = (text: string) =>
  [...text.matchAll(MARKDOWN_LINK)]
    .map((match) => (match[1] ?? match[2])!)
    .filter((target) => !/^([a-z][a-z0-9+.-]*:|#|\/)/i.test(target))
    .map((target) => target.replace(/[#?].*$/, ''));

const importSpecifiers = (text: string) => [...text.matchAll(IMPORT)].map((match) => match[2]!);

/**
 * What a file (path relative to the repository root) refers to outside the repository: relative
 * markdown links and relative imports that resolve above the root, and the authors' workspace documents.
 */
function referencesOutside(file: string, text: string): string[] {
  const targets = file.endsWith('.md') ? markdownTargets(text) : importSpecifiers(text);
  const escaping = targets.filter((target) => {
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), target));
    return resolved === '..' || resolved.startsWith('../');
  });
  return [...escaping, ...[...text.matchAll(WORKSPACE_DOCUMENTS)].map((match) => match[0])];
}

describe('a reference outside the repository', () => {
  // Built from parts, so this file does not hold the references it describes.
  const up = (levels: number) => '../'.repeat(levels);
  const workspace = (name: string) => `shared/${name}.md`;

  it('is a markdown link that climbs above the root, or any mention of the workspace documents', () => {
    const markdown = [
      `See [the style](${up(2)}${workspace('STYLE')}), [the API](api.md#jobs), [the code](../lambdas/plan/)`,
      'and [AWS](https://docs.aws.amazon.com/) ([ref]).',
      '',
      `[ref]: ${up(2)}outside/notes.md`,
      `[parent]: ${up(2)}`,
      `Written to \`${workspace('ARCHITECTURE')}\`.`,
    ].join('\n');

    expect(referencesOutside('docs/guide.md', markdown)).toEqual([
      `${up(2)}${workspace('STYLE')}`,
      `${up(2)}outside/notes.md`,
      up(2),
      workspace('STYLE'),
      workspace('ARCHITECTURE'),
    ]);
  });

  it('is an import that climbs above the root, not a function importing its own ../shared/', () => {
    const code = [
      "import { parseEnv } from '../shared/runtime/env';",
      "import { view } from '../../lambdas/shared/views/job-view';",
      `import type { Plan } from '${up(3)}shared/plan';`,
      `const style = require('${up(4)}shared/style');`,
      "export { x } from './x';",
    ].join('\n');

    expect(referencesOutside('lambdas/plan/handler.ts', code)).toEqual([
      `${up(3)}shared/plan`,
      `${up(4)}shared/style`,
    ]);
  });
});

describe('the repository', () => {
  it('refers to nothing outside itself, in its markdown links, imports or mentions', () => {
    const files = sourceFiles();
    const outside = files.flatMap((file) =>
      referencesOutside(file.split(path.sep).join('/'), readFileSync(path.join(ROOT, file), 'utf8')).map(
        (reference) => `${file}: ${reference}`,
      ),
    );

    expect(files).toEqual(expect.arrayContaining(['README.md', path.join('lambdas', 'plan', 'handler.ts')]));
    expect(outside).toEqual([]);
  });
});

describe('a file path named in prose', () => {
  /** Repository paths written out in text (messages, comments, docs), e.g. `lambdas/shared/domain/pricing.ts`. */
  const NAMED_PATH =
    /(?<![\w./-])((?:lambdas|lib|local|tools|test|scripts|bin|profiles|batches|docs)\/[\w./-]*\.(?:ts|js|json|md))\b/g;
  /** A placeholder (`batches/NAME.json`), not a file. */
  const isPlaceholder = (named: string) => /[A-Z]{2,}/.test(named);

  it('names a file that exists, wherever the source or the docs mention one (tests name their own fixtures)', () => {
    const stale = sourceFiles()
      .filter((file) => !file.startsWith(`test${path.sep}`))
      .flatMap((file) => {
        const text = readFileSync(path.join(ROOT, file), 'utf8');
        return [...text.matchAll(NAMED_PATH)]
          .map((match) => match[1]!)
          .filter(
            (named) => !named.includes('*') && !isPlaceholder(named) && !existsSync(path.join(ROOT, named)),
          )
          .map((named) => `${file}: ${named}`);
      });

    expect(stale).toEqual([]);
  });
});
