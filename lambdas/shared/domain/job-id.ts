import { randomBytes } from 'node:crypto';

const SLUG_WORDS = 6;
const SLUG_MAX = 48;
const FILLER = new Set([
  'a',
  'an',
  'the',
  'for',
  'of',
  'to',
  'and',
  'or',
  'in',
  'on',
  'with',
  'about',
  'new',
  'write',
  'create',
]);

/**
 * A job id that reads well as a Step Functions execution name: a few words of the task and a random
 * suffix, e.g. `eco-friendly-water-bottle-product-description-k3x9q2`.
 */
export function newJobId(
  task: string,
  random: () => string = () => randomBytes(4).toString('hex').slice(0, 6),
): string {
  const words = task
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9\s-]/g, ' ')
    .split(/[\s-]+/)
    .filter((word) => word.length > 0 && !FILLER.has(word))
    .slice(0, SLUG_WORDS);
  const slug = words.join('-').slice(0, SLUG_MAX).replace(/-+$/, '');
  return `${slug || 'job'}-${random()}`;
}
