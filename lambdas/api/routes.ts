/** The API's routes: one table shared by the handler, the CDK construct and the local server. */
export const ROUTES = [
  { method: 'POST', resource: '/jobs', operation: 'createJob', summary: 'Start a job' },
  { method: 'GET', resource: '/jobs', operation: 'listJobs', summary: 'List jobs, newest first' },
  {
    method: 'GET',
    resource: '/jobs/{jobId}',
    operation: 'getJob',
    summary: 'Read a job: status, plan, outputs, synthesis',
  },
  {
    method: 'DELETE',
    resource: '/jobs/{jobId}',
    operation: 'cancelJob',
    summary: 'Cancel an unfinished job',
  },
  {
    method: 'POST',
    resource: '/jobs/{jobId}/approval',
    operation: 'decideApproval',
    summary: 'Approve (perhaps trimmed) or reject the plan of a job awaiting approval',
  },
  { method: 'GET', resource: '/profiles', operation: 'listProfiles', summary: 'List the job profiles' },
  { method: 'POST', resource: '/batches', operation: 'createBatch', summary: 'Run a batch now' },
  { method: 'GET', resource: '/batches', operation: 'listBatches', summary: 'List batch runs, newest first' },
  {
    method: 'GET',
    resource: '/batches/{runId}',
    operation: 'getBatch',
    summary: 'Read a batch run: status, counts, per-item job ids',
  },
  {
    method: 'GET',
    resource: '/openapi.json',
    operation: 'openapi',
    summary: 'This API as an OpenAPI 3 document',
  },
] as const;

export type Route = (typeof ROUTES)[number];
export type Operation = Route['operation'];

export type RouteMatch =
  | { kind: 'found'; route: Route; pathParameters: Record<string, string> }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allowed: string[] };

/** Matches a request path (no query string) against the route table, as API Gateway does. */
export function matchRoute(method: string, path: string): RouteMatch {
  const segments = path.replace(/\/+$/, '').split('/').slice(1);
  const matching = ROUTES.flatMap((route) => {
    const pattern = route.resource.split('/').slice(1);
    if (pattern.length !== segments.length) return [];
    const pathParameters: Record<string, string> = {};
    for (const [i, part] of pattern.entries()) {
      const segment = segments[i] ?? '';
      const parameter = /^\{(\w+)\}$/.exec(part)?.[1];
      if (parameter) {
        if (segment === '') return [];
        pathParameters[parameter] = decodeURIComponent(segment);
      } else if (part !== segment) {
        return [];
      }
    }
    return [{ route, pathParameters }];
  });
  if (matching.length === 0) return { kind: 'not-found' };
  const found = matching.find((candidate) => candidate.route.method === method.toUpperCase());
  if (!found)
    return { kind: 'method-not-allowed', allowed: matching.map((candidate) => candidate.route.method) };
  return { kind: 'found', ...found };
}
