import { errorFromCatch } from '../../../../../lambdas/shared/domain/errors';

describe('reading a caught error', () => {
  it('unwraps the JSON cause of a Lambda error', () => {
    const caught = {
      Error: 'ModelRateLimited',
      Cause: JSON.stringify({ errorType: 'ModelRateLimited', errorMessage: 'Rate limited (429)', trace: [] }),
    };
    expect(errorFromCatch(caught)).toEqual({ name: 'ModelRateLimited', message: 'Rate limited (429)' });
  });

  it('keeps a plain-text cause as the message', () => {
    expect(errorFromCatch({ Error: 'States.Timeout', Cause: 'Task timed out' })).toEqual({
      name: 'States.Timeout',
      message: 'Task timed out',
    });
  });

  it('names an error without details', () => {
    expect(errorFromCatch({})).toEqual({ name: 'UnknownError', message: 'UnknownError' });
  });
});
