/**
 * Prompt caching as the Messages API reports it: a block carrying `cache_control` ends a prefix
 * (tools, then system, then messages) that is written to the cache on first use and read from it by
 * later requests that start with the same prefix, for the same model, within the TTL. Token counts
 * are the simulated model's estimates (about four characters per token).
 */
import { createHash } from 'node:crypto';
import { estimateTokens, requestText, type MessagesRequest } from './protocol';

/** How long an entry lives after its last use: the API's default ephemeral TTL. */
export const PROMPT_CACHE_TTL_MS = 5 * 60_000;
/** The longer TTL a breakpoint may ask for (`cache_control: {"type": "ephemeral", "ttl": "1h"}`). */
export const PROMPT_CACHE_LONG_TTL_MS = 60 * 60_000;

/**
 * Shortest prefix the cache takes, in tokens. Anthropic's minimum depends on the model and has
 * changed between generations (1,024 to 4,096 tokens); shorter prefixes are simply not cached.
 */
export function defaultMinCacheableTokens(model: string): number {
  return /haiku/i.test(model) ? 2048 : 1024;
}

/** How a request's input tokens split between the cache and fresh input. */
export interface CacheUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface PromptCacheOptions {
  /** One minimum for every model, instead of the per-model default. */
  minTokens?: number;
  ttlMs?: number;
  now?: () => number;
}

interface Segment {
  /** Where the text sits (`tools`, `system`, `message:0:user`), so equal text elsewhere is another prefix. */
  place: string;
  text: string;
  breakpoint: boolean;
  /** Set when the breakpoint asks for the 1-hour TTL. */
  longTtl?: boolean;
}

const hasCacheControl = (block: unknown): boolean =>
  typeof block === 'object' && block !== null && 'cache_control' in block && Boolean(block.cache_control);

const hasLongTtl = (block: unknown): boolean =>
  typeof block === 'object' &&
  block !== null &&
  (block as { cache_control?: { ttl?: unknown } }).cache_control?.ttl === '1h';

function blockText(block: unknown): string {
  if (typeof block !== 'object' || block === null) return '';
  const { text } = block as { text?: unknown };
  return typeof text === 'string' ? text : JSON.stringify(block);
}

/** The request in prompt order, one segment per block. */
function segmentsOf(request: MessagesRequest): Segment[] {
  const segments: Segment[] = [];
  for (const tool of request.tools ?? []) {
    segments.push({ place: 'tools', text: JSON.stringify(tool), breakpoint: hasCacheControl(tool) });
  }
  const system = request.system;
  if (typeof system === 'string') segments.push({ place: 'system', text: system, breakpoint: false });
  for (const block of Array.isArray(system) ? system : []) {
    segments.push({ place: 'system', text: block.text, breakpoint: hasCacheControl(block) });
  }
  request.messages.forEach((message, index) => {
    const place = `message:${index}:${message.role}`;
    if (typeof message.content === 'string') {
      segments.push({ place, text: message.content, breakpoint: false });
      return;
    }
    for (const block of message.content) {
      segments.push({
        place,
        text: blockText(block),
        breakpoint: hasCacheControl(block),
        ...(hasLongTtl(block) ? { longTtl: true } : {}),
      });
    }
  });
  // Automatic caching: a top-level cache_control puts the breakpoint on the last block.
  const last = segments.at(-1);
  if (last && hasCacheControl(request)) last.breakpoint = true;
  return segments;
}

/** The simulated model's prompt cache: deterministic, in memory, one per server. */
export class PromptCache {
  private readonly expiresAt = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly options: PromptCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? PROMPT_CACHE_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Splits the request's input tokens, and records what it writes. An entry is usable from the
   * moment a request writes it, so concurrent requests with one prefix are one write and then reads
   * (the real API makes an entry available only once the first response has begun).
   */
  use(request: MessagesRequest): CacheUsage {
    const total = estimateTokens(requestText(request));
    const minTokens = this.options.minTokens ?? defaultMinCacheableTokens(request.model);
    const now = this.now();
    for (const [key, expiry] of this.expiresAt) if (expiry <= now) this.expiresAt.delete(key);
    const segments = segmentsOf(request);
    const hash = createHash('sha256').update(request.model);
    let prefixChars = 0;
    const breakpoints: { key: string; tokens: number; ttlMs: number }[] = [];
    for (const segment of segments) {
      hash.update(`\0${segment.place}\0${segment.text}`);
      prefixChars += segment.text.length;
      const tokens = Math.min(total, Math.ceil(prefixChars / 4));
      if (segment.breakpoint && tokens >= minTokens) {
        const ttlMs = segment.longTtl ? PROMPT_CACHE_LONG_TTL_MS : this.ttlMs;
        breakpoints.push({ key: hash.copy().digest('hex'), tokens, ttlMs });
      }
    }

    let read = 0;
    let firstUnread = 0;
    for (let index = breakpoints.length - 1; index >= 0; index -= 1) {
      const breakpoint = breakpoints[index];
      const expiry = breakpoint && this.expiresAt.get(breakpoint.key);
      if (breakpoint && expiry !== undefined && expiry > now) {
        read = breakpoint.tokens;
        firstUnread = index + 1;
        this.expiresAt.set(breakpoint.key, now + breakpoint.ttlMs);
        break;
      }
    }
    const toWrite = breakpoints.slice(firstUnread);
    for (const breakpoint of toWrite) this.expiresAt.set(breakpoint.key, now + breakpoint.ttlMs);
    const written = toWrite.length > 0 ? (toWrite.at(-1)?.tokens ?? read) - read : 0;
    return {
      input_tokens: Math.max(0, total - read - written),
      cache_creation_input_tokens: written,
      cache_read_input_tokens: read,
    };
  }
}
