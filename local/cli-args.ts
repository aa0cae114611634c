import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type JobRequest, JobRequestSchema, PROFILES } from '../lambdas/shared/schemas';

export const USAGE = `Usage: npm start -- "<task>" [--profile NAME] [--context '<json>' | --context-file FILE] [--json]

Runs one orchestrator-workers job on the local stack and prints the result.
  --profile NAME        job profile (default: "default")
  --context JSON        a JSON object with extra context for the task
  --context-file FILE   read the context object from a JSON file
  --json                print the job view as JSON instead of the synthesis text
  -h, --help            show this help

With ANTHROPIC_API_KEY set the real Anthropic API is used (and ANTHROPIC_BASE_URL if set);
otherwise the simulated model, a local test double, answers. MODEL_PROVIDER=bedrock runs the
Bedrock code path (against the simulated model, or Amazon Bedrock with BEDROCK_LIVE=1).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CliCommand = { kind: 'help' } | { kind: 'run'; request: JobRequest; json: boolean };

/** Parses and validates the command line; every problem is a UsageError naming the argument. */
export function parseCliArgs(
  argv: string[],
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        profile: { type: 'string' },
        context: { type: 'string' },
        'context-file': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (positionals.length === 0) throw new UsageError('Missing the task: npm start -- "<task>"');
  if (positionals.length > 1) {
    throw new UsageError(
      `Expected one task argument but got ${positionals.length}; quote the task as one argument`,
    );
  }
  if (values.context !== undefined && values['context-file'] !== undefined) {
    throw new UsageError('Use either --context or --context-file, not both');
  }

  let context: unknown = {};
  if (values.context !== undefined) context = parseContextJson(values.context, '--context');
  if (values['context-file'] !== undefined) {
    let text: string;
    try {
      text = readFile(values['context-file']);
    } catch (error) {
      throw new UsageError(
        `--context-file: cannot read ${values['context-file']} (${(error as NodeJS.ErrnoException).code ?? error})`,
      );
    }
    context = parseContextJson(text, '--context-file');
  }
  if (context === null || typeof context !== 'object' || Array.isArray(context)) {
    throw new UsageError('context: must be a JSON object, e.g. {"audience":"runners"}');
  }

  const profile = values.profile ?? 'default';
  if (!(PROFILES as readonly string[]).includes(profile)) {
    throw new UsageError(`--profile: unknown profile "${profile}"; known profiles: ${PROFILES.join(', ')}`);
  }

  const request = JobRequestSchema.safeParse({ task: positionals[0], context, profile });
  if (!request.success) {
    const problems = request.error.issues.map(
      (issue) => `${issue.path.join('.') || 'request'}: ${issue.message}`,
    );
    throw new UsageError(problems.join('; '));
  }
  return { kind: 'run', request: request.data, json: values.json ?? false };
}

function parseContextJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag}: not valid JSON (${error instanceof Error ? error.message : error})`);
  }
}
