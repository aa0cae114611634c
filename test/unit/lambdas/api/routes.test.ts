import { matchRoute } from '../../../../lambdas/api/routes';

describe('route matching', () => {
  it('finds a route and its path parameters', () => {
    expect(matchRoute('get', '/jobs/abc-123')).toMatchObject({
      kind: 'found',
      route: { operation: 'getJob' },
      pathParameters: { jobId: 'abc-123' },
    });
    expect(matchRoute('POST', '/jobs/')).toMatchObject({ kind: 'found', route: { operation: 'createJob' } });
  });

  it('decodes an encoded path parameter so validation sees what the caller sent', () => {
    expect(matchRoute('GET', '/jobs/..%2Fetc')).toMatchObject({ pathParameters: { jobId: '../etc' } });
  });

  it('tells a wrong method from an unknown path', () => {
    expect(matchRoute('PUT', '/jobs/abc')).toEqual({
      kind: 'method-not-allowed',
      allowed: ['GET', 'DELETE'],
    });
    expect(matchRoute('GET', '/jobs/abc/extra')).toEqual({ kind: 'not-found' });
    expect(matchRoute('GET', '/jobs//')).toEqual({
      kind: 'found',
      route: expect.objectContaining({ resource: '/jobs' }),
      pathParameters: {},
    });
  });
});
