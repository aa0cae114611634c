import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildOpenApiDocument } from '../lambdas/api/openapi';

/** Writes openapi.json at the repository root from the zod schemas (`npm run openapi`). */
const target = path.join(__dirname, '..', 'openapi.json');
writeFileSync(target, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
process.stdout.write(`Wrote ${target}\n`);
