/**
 * Loads a module when it is first needed rather than at start-up (aws-cdk-lib on a template cache
 * miss, a function's handler on its first invocation, the simulated model).
 *
 * `require`, not `import()`: the CLIs run under `node --require tsx/cjs` (a quarter of the start-up
 * time of the `tsx` command), where `import()` goes to Node's own ESM loader, which cannot load
 * TypeScript. `require` goes through tsx's hook there, and through jest's module registry in tests.
 */
export function loadOnDemand<T>(absolutePath: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(absolutePath) as T;
}
