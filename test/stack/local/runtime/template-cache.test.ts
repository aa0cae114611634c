import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../../../lib/config';
import {
  forgetLoadedStacks,
  loadLocalStack,
  templateCacheKey,
} from '../../../../local/runtime/template-cache';

describe('the template cache', () => {
  let cacheDir: string;
  beforeEach(() => {
    cacheDir = mkdtempSync(path.join(tmpdir(), 'template-cache-'));
    forgetLoadedStacks();
  });
  afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('synthesizes on a miss, then serves the same local stack from the cache file', async () => {
    // Arrange
    const config = parseConfig({ maxConcurrency: 7 });

    // Act
    const first = await loadLocalStack(config, { cacheDir });
    forgetLoadedStacks();
    const second = await loadLocalStack(config, { cacheDir });

    // Assert
    expect(first.cache).toBe('miss');
    expect(second.cache).toBe('hit');
    expect(readdirSync(cacheDir)).toEqual([`${first.key}.json`]);
    expect(second.stack.orchestrator.definition).toEqual(first.stack.orchestrator.definition);
    expect(second.stack.functions).toEqual(first.stack.functions);
    expect(second.stack.tables).toEqual(first.stack.tables);
    expect(JSON.stringify(second.stack.orchestrator.definition)).toContain('"MaxConcurrency":7');
  }, 120_000);

  it('treats an unreadable cache file as a miss and replaces it', async () => {
    // Arrange
    const config = parseConfig({});
    const key = templateCacheKey(config);
    writeFileSync(path.join(cacheDir, `${key}.json`), '{"format":1,"key":');

    // Act
    const loaded = await loadLocalStack(config, { cacheDir });
    forgetLoadedStacks();
    const again = await loadLocalStack(config, { cacheDir });

    // Assert
    expect(loaded.cache).toBe('miss');
    expect(again.cache).toBe('hit');
  }, 120_000);
});
