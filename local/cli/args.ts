import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CUSTOM_PROFILE, DEFAULT_PROFILE, PROFILE_NAMES } from '../../lambdas/shared/domain/profiles';
import { type JobRequest, JobRequestSchema } from '../../lambdas/shared/domain/schemas';

export const USAGE = `Usage: npm start -- "<task>" [--profile NAME] [--context '<json>' | --context-file FILE]
                      [--templates-file FILE] [--approval none|required | --auto-approve-under USD]
                      [--max-cost-usd USD] [--max-output-tokens N] [--yes] [--json]
       npm start -- --list-profiles

Runs one orchestrator-workers job on the local stack and prints the result.
  --profile NAME        job profile: research (default), marketing, project or custom
  --templates-file FILE the custom profile's templates: {"orchestrator","worker","synthesis"?}
  --list-profiles       list the profiles and exit
  --context JSON        a JSON object with extra context for the task
  --context-file FILE   read the context object from a JSON file
  --approval MODE       required: show the plan and its estimate and ask before any worker runs;
                        none: never ask (default: the profile's, then the deployment's)
  --auto-approve-under USD  ask only when the estimate is at least USD
  --max-cost-usd USD    the job's budget: no model call starts that could take it over USD
  --max-output-tokens N the job's budget of output tokens
  --yes                 approve the plan without asking (needed to approve without a terminal)
  --json                print the job view as JSON instead of the synthesis text
  -h, --help            show this help

With ANTHROPIC_API_KEY set the real Anthropic API is used (and ANTHROPIC_BASE_URL if set);
otherwise the simulated model, a local test double, answers. MODEL_PROVIDER=bedrock runs the
Bedrock code path (against the simulated model, or Amazon Bedrock with BEDROCK_LIVE=1).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'list-profiles'; json: boolean }
  | { kind: 'run'; request: JobRequest; json: boolean; yes: boolean };

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
        'templates-file': { type: 'string' },
        'list-profiles': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        approval: { type: 'string' },
        'auto-approve-under': { type: 'string' },
        'max-cost-usd': { type: 'string' },
        'max-output-tokens': { type: 'string' },
        yes: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values['list-profiles']) return { kind: 'list-profiles', json: values.json ?? false };
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

  let templates: unknown;
  if (values['templates-file'] !== undefined) {
    let text: string;
    try {
      text = readFile(values['templates-file']);
    } catch (error) {
      throw new UsageError(
        `--templates-file: cannot read ${values['templates-file']} (${(error as NodeJS.ErrnoException).code ?? error})`,
      );
    }
    try {
      templates = JSON.parse(text);
    } catch (error) {
      throw new UsageError(
        `--templates-file: not valid JSON (${error instanceof Error ? error.message : error})`,
      );
    }
  }

  const profile = values.profile ?? (templates === undefined ? DEFAULT_PROFILE : CUSTOM_PROFILE);
  if (!(PROFILE_NAMES as readonly string[]).includes(profile)) {
    throw new UsageError(
      `--profile: unknown profile "${profile}"; known profiles: ${PROFILE_NAMES.join(', ')}`,
    );
  }

  if (values.approval !== undefined && values['auto-approve-under'] !== undefined)
    throw new UsageError('Use either --approval or --auto-approve-under, not both');
  if (values.approval !== undefined && !['none', 'required'].includes(values.approval))
    throw new UsageError(`--approval: must be none or required (got "${values.approval}")`);
  const number = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value))
      throw new UsageError(`${flag}: must be a number (got "${text}")`);
    return value;
  };
  const autoApproveUnderUsd = number('--auto-approve-under', values['auto-approve-under']);
  const maxCostUsd = number('--max-cost-usd', values['max-cost-usd']);
  const maxOutputTokens = number('--max-output-tokens', values['max-output-tokens']);
  const approval =
    autoApproveUnderUsd !== undefined
      ? { autoApproveUnderUsd }
      : (values.approval as 'none' | 'required' | undefined);
  const budget =
    maxCostUsd !== undefined || maxOutputTokens !== undefined
      ? {
          ...(maxCostUsd !== undefined ? { maxCostUsd } : {}),
          ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
        }
      : undefined;

  const request = JobRequestSchema.safeParse({
    task: positionals[0],
    context,
    profile,
    ...(templates === undefined ? {} : { templates }),
    ...(approval === undefined ? {} : { approval }),
    ...(budget === undefined ? {} : { budget }),
  });
  if (!request.success) {
    const flags: Record<string, string> = {
      'approval.autoApproveUnderUsd': '--auto-approve-under',
      'budget.maxCostUsd': '--max-cost-usd',
      'budget.maxOutputTokens': '--max-output-tokens',
    };
    const problems = request.error.issues.map((issue) => {
      const path = issue.path.join('.');
      return `${flags[path] ?? (path || 'request')}: ${issue.message}`;
    });
    throw new UsageError(problems.join('; '));
  }
  return { kind: 'run', request: request.data, json: values.json ?? false, yes: values.yes ?? false };
}

function parseContextJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${flag}: not valid JSON (${error instanceof Error ? error.message : error})`);
  }
}
