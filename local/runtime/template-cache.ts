import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { OrchestratorConfig } from '../../lib/config';
import { loadOnDemand } from './load-on-demand';
import {
  type CfnTemplate,
  localStackFromTemplate,
  type SynthesizedStack,
  type TemplateBindings,
} from './synthesized-stack';

const ROOT = path.join(__dirname, '..', '..');

/**
 * Everything that shapes the synthesized template, relative to the checkout: the CDK app and the
 * handlers it points at, the profiles and batch definitions it builds from, its context, the exact
 * dependency versions, and the code that turns the app into the local stack.
 */
export const TEMPLATE_INPUTS = [
  'lib',
  'lambdas',
  'profiles',
  'batches',
  'cdk.json',
  'package-lock.json',
  'local/runtime/synthesis.ts',
] as const;

/** Bump when the cache file's shape changes. */
const CACHE_FORMAT = 2;
/** Cache files kept per folder (other configurations, other checkouts of the sources). */
const KEEP = 8;

interface CacheFile {
  format: number;
  key: string;
  template: CfnTemplate;
  /** Handler modules relative to the checkout, so a moved checkout still hits. */
  bindings: TemplateBindings;
}

function filesUnder(relative: string): string[] {
  const absolute = path.join(ROOT, relative);
  let stat;
  try {
    stat = statSync(absolute);
  } catch {
    return [];
  }
  if (!stat.isDirectory()) return [relative];
  return readdirSync(absolute, { withFileTypes: true })
    .filter((entry) => entry.name !== 'node_modules' && !entry.name.startsWith('.'))
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => filesUnder(path.join(relative, entry.name)));
}

/** A hash of the configuration and of every file in `TEMPLATE_INPUTS` (names and contents). */
export function templateCacheKey(config: OrchestratorConfig): string {
  const hash = createHash('sha256');
  hash.update(`format ${CACHE_FORMAT}\n${JSON.stringify(config)}\n`);
  for (const file of TEMPLATE_INPUTS.flatMap(filesUnder)) {
    hash.update(`${file.split(path.sep).join('/')}\n`);
    hash.update(readFileSync(path.join(ROOT, file)));
    hash.update('\n');
  }
  return hash.digest('hex').slice(0, 32);
}

export interface LoadedStack {
  stack: SynthesizedStack;
  /** `hit`: read from the cache; `miss`: synthesized (and written to the cache when it has a folder). */
  cache: 'hit' | 'miss';
  key: string;
}

// One synthesis per configuration per process, with or without a cache folder.
const memo = new Map<string, { template: CfnTemplate; bindings: TemplateBindings }>();

/** Forgets what this process synthesized or read (tests of the cache files). */
export function forgetLoadedStacks(): void {
  memo.clear();
}

/**
 * The local stack for `config`: from the template cache in `cacheDir` when a file there has this
 * configuration's and these sources' key, otherwise synthesized by the CDK (loaded only then) and
 * cached. A cache file that cannot be read is treated as a miss and replaced.
 */
export async function loadLocalStack(
  config: OrchestratorConfig,
  options: {
    cacheDir?: string;
    /** Tests only: changes (a copy of) the template before the local stack reads it. */
    editTemplate?: (template: CfnTemplate) => void;
  } = {},
): Promise<LoadedStack> {
  const key = templateCacheKey(config);
  const build = ({ template, bindings }: { template: CfnTemplate; bindings: TemplateBindings }) => {
    if (!options.editTemplate) return localStackFromTemplate(template, bindings);
    const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
    options.editTemplate(copy);
    return localStackFromTemplate(copy, bindings);
  };
  const remembered = memo.get(key);
  if (remembered) {
    return { stack: build(remembered), cache: 'hit', key };
  }
  const file = options.cacheDir ? path.join(options.cacheDir, `${key}.json`) : undefined;
  const cached = file ? readCache(file, key) : undefined;
  if (cached) {
    memo.set(key, cached);
    return { stack: build(cached), cache: 'hit', key };
  }
  // Let what the caller started meanwhile (DynamoDB, the model) get going before the CPU is held.
  await new Promise((resolve) => setImmediate(resolve));
  // The CDK takes most of a second just to load: only a miss pays for it.
  const { synthesizeTemplate } = loadOnDemand<typeof import('./synthesis')>(
    path.join(__dirname, 'synthesis'),
  );
  const synthesized = synthesizeTemplate(config);
  memo.set(key, synthesized);
  if (file && options.cacheDir) writeCache(options.cacheDir, file, key, synthesized);
  return { stack: build(synthesized), cache: 'miss', key };
}

function readCache(file: string, key: string): Pick<CacheFile, 'template' | 'bindings'> | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
    if (parsed.format !== CACHE_FORMAT || parsed.key !== key) return undefined;
    return {
      template: parsed.template,
      bindings: {
        ...parsed.bindings,
        functions: parsed.bindings.functions.map((fn) => ({ ...fn, entry: path.join(ROOT, fn.entry) })),
      },
    };
  } catch {
    return undefined;
  }
}

function writeCache(
  dir: string,
  file: string,
  key: string,
  { template, bindings }: { template: CfnTemplate; bindings: TemplateBindings },
): void {
  mkdirSync(dir, { recursive: true });
  const content: CacheFile = {
    format: CACHE_FORMAT,
    key,
    template,
    bindings: {
      ...bindings,
      functions: bindings.functions.map((fn) => ({ ...fn, entry: path.relative(ROOT, fn.entry) })),
    },
  };
  // Written aside and renamed: a process reading at the same time sees the old file or the whole new one.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(content));
  renameSync(temporary, file);
  const mtime = (name: string) => {
    try {
      return statSync(path.join(dir, name)).mtimeMs;
    } catch {
      return 0; // removed by another process meanwhile
    }
  };
  const others = readdirSync(dir)
    .filter((name) => name.endsWith('.json') && name !== path.basename(file))
    .map((name) => ({ name, mtime: mtime(name) }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const stale of others.slice(KEEP - 1)) rmSync(path.join(dir, stale.name), { force: true });
}
