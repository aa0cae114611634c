import * as path from 'node:path';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildApp } from '../../../../lib/app';
import { parseConfig } from '../../../../lib/config';

describe('bundling for deployment', () => {
  it.each(['anthropic', 'bedrock'] as const)(
    'bundles every function with esbuild, without Docker, for provider %s',
    (provider) => {
      const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
      try {
        const { app } = buildApp({ config: parseConfig({ provider }), outdir });
        app.synth();
        const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
        // Provider anthropic adds the batch lane's function (the Message Batches API).
        expect(assets).toHaveLength(provider === 'anthropic' ? 13 : 12);
        const errorModuleCopies: number[] = [];
        let modelFunctions = 0;
        for (const asset of assets) {
          const bundle = path.join(outdir, asset, 'index.js');
          expect(statSync(bundle).size).toBeGreaterThan(10_000);
          // One copy of the SDK's error classes (the message is unique to APIConnectionTimeoutError): with
          // two (its CJS and ESM builds), errors thrown by the Bedrock client would fail `instanceof` in
          // classifyModelError and escape unnamed.
          const code = readFileSync(bundle, 'utf8');
          const copies = code.match(/["']Request timed out\.["']/g)?.length ?? 0;
          errorModuleCopies.push(copies);
          if (copies > 0) modelFunctions++;
          // The runtime's AWS SDK is required, not bundled: every function talks to DynamoDB.
          expect(code).toContain('require("@aws-sdk/client-dynamodb")');
          expect(code).toContain('require("@aws-sdk/lib-dynamodb")');
          expect(code).not.toContain('DynamoDB_20120810');
          // `import * as z`: zod's locales (e.g. the Indonesian error messages) stay out of the bundle.
          expect(code).not.toContain('Input tidak valid');
          // The Bedrock SDK (SigV4 signing and its AWS dependencies) only in bedrock deployments.
          expect(code.includes('AWS4-HMAC-SHA256')).toBe(provider === 'bedrock' && copies > 0);
          expect(statSync(bundle).size).toBeLessThan(provider === 'anthropic' ? 1_000_000 : 1_048_576);
        }
        expect(modelFunctions).toBe(provider === 'anthropic' ? 4 : 3);
        expect(Math.max(...errorModuleCopies)).toBe(1);
      } finally {
        rmSync(outdir, { recursive: true, force: true });
      }
    },
  );
});
