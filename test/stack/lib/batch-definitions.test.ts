import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildApp } from '../../../lib/app';
import { parseConfig } from '../../../lib/config';

describe('an invalid batch definition', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'batches-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fails the CDK app (and so cdk synth) naming the file and field', () => {
    const definition = {
      name: 'weekly-briefs',
      schedule: { expression: 'cron(30 7 ? * MON *)', timeZone: 'America/New_York' },
      items: [{ task: '' }],
    };
    writeFileSync(path.join(dir, 'briefs.json'), JSON.stringify(definition));

    expect(() => buildApp({ config: parseConfig({}), skipBundling: true, batchesDir: dir })).toThrow(
      /Invalid batch definition .*briefs\.json: items\.0\.task: must not be empty/,
    );
  });
});
