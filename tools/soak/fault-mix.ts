import type { FaultRule, MalformedPlanVariant } from '../../local/simulated-model';

/** Everything injected at one fault level. */
export interface FaultMix {
  /** The level, 0..1: the share of model calls that get an HTTP error (429, 529 and 500 in equal parts). */
  level: number;
  /** Rules for the simulated model: HTTP errors, hangs and malformed plans. */
  modelFaults: FaultRule[];
  /** Share of model calls delayed by a latency spike (at the model's proxy). */
  spikeRate: number;
  spikeMs: number;
  /** Share of completing writes at which the worker crashes (half before, half after the write). */
  crashRate: number;
}

const MALFORMED_VARIANTS: MalformedPlanVariant[] = ['not_json', 'cycle', 'too_many'];

/**
 * The fault mix of a level. The three HTTP errors get `level / 3` each as marginal rates (the
 * simulated model tries rules in order and the first that fires wins, so later rules get
 * conditional rates). Hangs, malformed plans, spikes and crashes scale with the level too, so
 * level 0 is a clean baseline.
 */
export function faultMixFor(level: number, spikeMs = 1_000): FaultMix {
  if (!(level >= 0 && level <= 0.5)) throw new Error(`fault level must be between 0 and 0.5, got ${level}`);
  const third = level / 3;
  const httpErrors: FaultRule[] = [
    { kind: 'rate_limit', rate: third },
    { kind: 'overloaded', rate: third / (1 - third) },
    { kind: 'server_error', rate: third / (1 - 2 * third) },
  ];
  // A malformed plan in a third of the plan calls at 50 %, so a few jobs exhaust their repair attempts.
  const malformedShare = (level * 2) / 3 / MALFORMED_VARIANTS.length;
  const malformedPlans: FaultRule[] = MALFORMED_VARIANTS.map((variant, index) => ({
    kind: 'malformed_plan',
    variant,
    rate: Math.min(1, malformedShare / (1 - index * malformedShare)),
  }));
  return {
    level,
    modelFaults: level === 0 ? [] : [...malformedPlans, ...httpErrors, { kind: 'hang', rate: level / 10 }],
    spikeRate: level / 4,
    spikeMs,
    crashRate: level / 5,
  };
}
