import * as path from 'node:path';
import * as z from 'zod';
import { planEntry } from '../../lambdas/plan/handler';

/**
 * A plan function for benchmarks and size tests only (the stack never deploys it): it plans exactly
 * `EXACT_SUBTASK_COUNT` subtasks instead of the profile's range, still capped by `MAX_SUBTASKS`.
 */
export const { createHandler } = planEntry((env) => ({
  exactSubtaskCount: z.coerce.number().int().min(1).max(100).parse(env.EXACT_SUBTASK_COUNT),
}));

/** Local stack options that bind the plan function to this entry, planning `count` subtasks. */
export const exactSubtaskPlan = (count: number) => ({
  entryOverrides: { plan: path.join(__dirname, 'exact-subtask-plan.ts') },
  functionEnvironment: { EXACT_SUBTASK_COUNT: String(count) },
});
