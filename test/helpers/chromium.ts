import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * The headless Chromium the browser tests drive: `CHROMIUM_PATH` when set, otherwise the build that
 * ships inside the `@sparticuz/chromium` npm package (unpacked once into the temp folder), so
 * `npm ci` is all a machine needs. The package is ESM only while jest runs CommonJS, so a child Node
 * process asks it for the path.
 */
export function chromiumExecutable(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHROMIUM_PATH) {
    if (!existsSync(env.CHROMIUM_PATH)) {
      throw new Error(`CHROMIUM_PATH is set to ${env.CHROMIUM_PATH}, which does not exist`);
    }
    return env.CHROMIUM_PATH;
  }
  const script =
    "const { default: chromium } = await import('@sparticuz/chromium');" +
    'process.stdout.write(await chromium.executablePath());';
  return execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
    encoding: 'utf8',
    timeout: 60_000,
  }).trim();
}
