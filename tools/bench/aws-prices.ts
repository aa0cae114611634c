/**
 * AWS list prices the benchmark's cost figures use: region us-east-1, on-demand, without the free
 * tier, as published on 2026-11-28 (https://aws.amazon.com/step-functions/pricing/ and
 * https://aws.amazon.com/lambda/pricing/). Check them before quoting a figure for another region.
 */
export const AWS_PRICES = {
  region: 'us-east-1',
  checkedOn: '2026-11-28',
  /** Step Functions Standard workflows bill every state transition, retries included. */
  stepFunctionsStandardPerTransitionUsd: 0.025 / 1_000,
  /** Lambda on arm64 (Graviton), first pricing tier. */
  lambdaArm64PerGbSecondUsd: 0.0000133334,
  lambdaPerRequestUsd: 0.2 / 1_000_000,
} as const;

export type AwsPrices = typeof AWS_PRICES;
