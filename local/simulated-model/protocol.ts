/**
 * The slice of the Anthropic Messages API wire format the simulated model speaks: request
 * validation, reading text out of a request, and the success and error bodies.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { formatIssues, type FaultKind, type RequestRole } from './faults';

const blockSchema = z.looseObject({ type: z.string() });

/** Zod schema of a `POST /v1/messages` body; unknown fields pass through, as the real API tolerates many. */
export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  system: z
    .union([z.string(), z.array(z.looseObject({ type: z.literal('text'), text: z.string() }))])
    .optional(),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['user', 'assistant']),
        content: z.union([z.string(), z.array(blockSchema)]),
      }),
    )
    .min(1),
  output_config: z.looseObject({ format: z.looseObject({ type: z.string() }).nullish() }).nullish(),
  tools: z.array(z.looseObject({ name: z.string() })).optional(),
  tool_choice: z.looseObject({ type: z.string(), name: z.string().optional() }).optional(),
});

/** A validated Messages API request. */
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

/** Outcome of reading a request body. */
export type ParsedRequest = { ok: true; request: MessagesRequest } | { ok: false; message: string };

/** Parses and validates a request body. */
export function parseMessagesRequest(body: string): ParsedRequest {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, message: 'Request body is not valid JSON' };
  }
  const result = messagesRequestSchema.safeParse(json);
  return result.success
    ? { ok: true, request: result.data }
    : { ok: false, message: formatIssues(result.error) };
}

function blockText(block: unknown): string {
  if (typeof block !== 'object' || block === null) return '';
  const { type, text, content, input } = block as Record<string, unknown>;
  if (type === 'text' && typeof text === 'string') return text;
  if (type === 'tool_result') return contentText(content);
  if (type === 'tool_use') return JSON.stringify(input ?? {});
  return '';
}

/** The text of a message's content: a string, or its text-bearing blocks joined. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map(blockText).filter(Boolean).join('\n');
}

/** The text of every user turn, in order. */
export function userTexts(request: MessagesRequest): string[] {
  return request.messages
    .filter((message) => message.role === 'user')
    .map((message) => contentText(message.content));
}

/** The request's whole text: system prompt, then every message. This is what fault `match` sees. */
export function requestText(request: MessagesRequest): string {
  return [contentText(request.system), ...request.messages.map((message) => contentText(message.content))]
    .filter(Boolean)
    .join('\n\n');
}

/** The tool name when `tool_choice` forces one tool, else null. */
export function forcedToolName(request: MessagesRequest): string | null {
  return request.tool_choice?.type === 'tool' ? (request.tool_choice.name ?? null) : null;
}

/**
 * Which call of the orchestrator-workers system this is. Structured output or a forced tool
 * means the planner; otherwise the user turns' tags decide.
 */
export function detectRole(request: MessagesRequest): RequestRole {
  if (request.output_config?.format?.type === 'json_schema' || forcedToolName(request) !== null)
    return 'plan';
  const text = userTexts(request).join('\n');
  // Worker first: a worker prompt may quote earlier results, a synthesis prompt never assigns a subtask.
  if (/<assigned_subtask\s/.test(text)) return 'worker';
  if (/<subtask_results[\s>]/.test(text)) return 'synthesis';
  return 'other';
}

/** Rough token count: about four characters per token, never zero. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** The error body the real API sends. */
export interface ErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

/** An error body of the given API error type. */
export function errorBody(type: string, message: string): ErrorBody {
  return { type: 'error', error: { type, message } };
}

/** Faults answered with an HTTP error. */
export type HttpFaultKind = Exclude<
  FaultKind,
  'hang' | 'malformed_plan' | 'refusal' | 'empty_output' | 'expired'
>;

/** Status and API error type of each HTTP fault, as the real API reports them. */
export const HTTP_FAULTS: Record<HttpFaultKind, { status: number; type: string }> = {
  rate_limit: { status: 429, type: 'rate_limit_error' },
  overloaded: { status: 529, type: 'overloaded_error' },
  server_error: { status: 500, type: 'api_error' },
  bad_request: { status: 400, type: 'invalid_request_error' },
};

/** True when the fault is answered with an HTTP error status. */
export function isHttpFault(kind: FaultKind): kind is HttpFaultKind {
  return kind in HTTP_FAULTS;
}

/** The body of a simulated answer before it is wrapped into a message. */
export type Answer =
  | { kind: 'text'; text: string }
  | { kind: 'tool_use'; name: string; input: Record<string, unknown> }
  | { kind: 'refusal'; text: string };

/** A successful Messages API response. */
export interface MessageBody {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Array<
    | { type: 'text'; text: string }
    | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  >;
  stop_reason: 'end_turn' | 'max_tokens' | 'tool_use' | 'refusal';
  stop_sequence: null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
  };
}

/** A random hex id suffix, like the real API's opaque ids. */
export function randomId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

/** How the input tokens split between fresh input and the prompt cache. */
export type InputUsage = Omit<MessageBody['usage'], 'output_tokens'>;

function usage(request: MessagesRequest, outputText: string, input?: InputUsage): MessageBody['usage'] {
  return {
    ...(input ?? {
      input_tokens: estimateTokens(requestText(request)),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    }),
    output_tokens: estimateTokens(outputText),
  };
}

/**
 * Wraps an answer into a message. Text longer than `max_tokens` allows is cut with
 * `stop_reason: 'max_tokens'`, as a real model would be. `input` is the prompt cache's split of
 * the input tokens; without it, all of them count as fresh input.
 */
export function buildMessage(request: MessagesRequest, answer: Answer, input?: InputUsage): MessageBody {
  const base = {
    id: randomId('msg_sim_'),
    type: 'message',
    role: 'assistant',
    model: request.model,
  } as const;
  if (answer.kind === 'tool_use') {
    const block = {
      type: 'tool_use',
      id: randomId('toolu_sim_'),
      name: answer.name,
      input: answer.input,
    } as const;
    return {
      ...base,
      content: [block],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: usage(request, JSON.stringify(answer.input), input),
    };
  }
  if (answer.kind === 'refusal') {
    return {
      ...base,
      content: [{ type: 'text', text: answer.text }],
      stop_reason: 'refusal',
      stop_sequence: null,
      usage: usage(request, answer.text),
    };
  }
  const limit = request.max_tokens * 4;
  const text = answer.text.slice(0, limit);
  return {
    ...base,
    content: [{ type: 'text', text }],
    stop_reason: answer.text.length > limit ? 'max_tokens' : 'end_turn',
    stop_sequence: null,
    usage: usage(request, text, input),
  };
}
