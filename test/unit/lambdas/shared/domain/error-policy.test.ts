import * as errors from '../../../../../lambdas/shared/domain/errors';
import { ERROR_POLICY, errorsOfClass, isThrottling } from '../../../../../lambdas/shared/domain/error-policy';

describe('the error policy', () => {
  it('classifies every named error class the functions raise', () => {
    const raised = (Object.values(errors) as unknown[])
      .filter(
        (value): value is new (message: string) => Error =>
          typeof value === 'function' && 'prototype' in value,
      )
      .filter((value) => value.prototype instanceof errors.WorkflowError)
      .map((ErrorClass) => new ErrorClass('x').name);
    expect(raised.length).toBeGreaterThan(5);
    expect(raised.filter((name) => !(name in ERROR_POLICY))).toEqual([]);
  });

  it('puts every name in exactly one class', () => {
    const classes = [
      'capacity',
      'throttling',
      'transient',
      'lambda-service',
      'lambda-throttling',
      'crash',
      'final',
    ] as const;
    const all = classes.flatMap((errorClass) => errorsOfClass(errorClass));
    expect(all.sort()).toEqual(Object.keys(ERROR_POLICY).sort());
  });

  it('counts 429 and 529 as throttling, and nothing else', () => {
    expect(isThrottling('ModelRateLimited')).toBe(true);
    expect(isThrottling('ModelOverloaded')).toBe(true);
    expect(isThrottling('ModelUnavailable')).toBe(false);
    expect(isThrottling('Lambda.TooManyRequestsException')).toBe(false);
    expect(isThrottling('constructor')).toBe(false);
    // A deferral by the governor is not a call the provider throttled.
    expect(isThrottling('ModelCapacityExceeded')).toBe(false);
  });
});
