import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** How the browser tests start Chromium: the executable and, when it needs them, its own libraries. */
export interface ChromiumLaunch {
  executablePath: string;
  /** Set when the machine lacks libraries the build links to: the environment to launch it with. */
  env?: Record<string, string>;
}

/**
 * The headless Chromium the browser tests drive: `CHROMIUM_PATH` when set, otherwise the build that
 * ships inside the `@sparticuz/chromium` npm package (unpacked once into the temp folder), so
 * `npm ci` is all a machine needs. That build links to NSS and a few other system libraries; on a
 * machine without them, the Amazon Linux copies the package ships (`al2023.tar.br`, what it unpacks
 * on Lambda) are unpacked too and put on `LD_LIBRARY_PATH`. The package is ESM only while jest runs
 * CommonJS, so a child Node process does the unpacking.
 */
export function chromiumForTests(env: NodeJS.ProcessEnv = process.env): ChromiumLaunch {
  if (env.CHROMIUM_PATH) {
    if (!existsSync(env.CHROMIUM_PATH)) {
      throw new Error(`CHROMIUM_PATH is set to ${env.CHROMIUM_PATH}, which does not exist`);
    }
    return { executablePath: env.CHROMIUM_PATH };
  }
  const executablePath = inPackage('process.stdout.write(await chromium.executablePath());');
  if (missingLibraries(executablePath).length === 0) return { executablePath };
  const unpacked = inPackage(
    "const { inflate } = await import('@sparticuz/chromium');" +
      "const { createRequire } = await import('node:module');" +
      "const bin = (await import('node:path')).join((await import('node:path')).dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', 'bin');" +
      "process.stdout.write(await inflate(bin + '/al2023.tar.br'));",
  );
  const libraries = path.join(unpacked, 'lib');
  const searchPath = [libraries, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const launchEnv = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  return { executablePath, env: { ...launchEnv, LD_LIBRARY_PATH: searchPath } };
}

/** The shared libraries `binary` links to that the dynamic loader cannot find (none when ldd is absent). */
export function missingLibraries(binary: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let listing: string;
  try {
    listing = execFileSync('ldd', [binary], { encoding: 'utf8', env, timeout: 30_000 });
  } catch {
    return [];
  }
  return listing
    .split('\n')
    .filter((line) => line.includes('=> not found'))
    .map((line) => line.trim().split(/\s+/)[0] ?? '');
}

function inPackage(body: string): string {
  const script = `const { default: chromium } = await import('@sparticuz/chromium');${body}`;
  return execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
    encoding: 'utf8',
    timeout: 120_000,
  }).trim();
}
