import { zodOutputFormat } from '@anthropic-ai/sdk/helpers/zod';
import * as z from 'zod';
import type { Profile } from '../shared/domain/profiles';
import { PlannedSubtaskSchema, PlanSchema } from '../shared/domain/schemas';
import type { PlanBounds } from './plan-validation';

const PRIORITIES = [1, 2, 3, 4, 5] as const;

/**
 * The plan's structured-output schema for one profile: exactly the profile's contract, so a model
 * that follows it cannot answer with a subtask type the profile lacks, or with fields it does not use.
 * `type` is an enum of the profile's subtask types (a free string only for the untyped custom
 * profile); `priority` (an enum, so its range is enforced too), `dependsOn` and `synthesisGuidance`
 * appear only when the profile uses them, and then are required. Omitted fields take PlanSchema's
 * defaults when the answer is validated. The SDK's helper turns the zod schema into JSON Schema and
 * moves what the API cannot enforce (string patterns and lengths, item counts above 1) into the
 * descriptions; validation (and repair) still checks those, and what no schema can say: unique ids,
 * known dependencies, no cycles.
 */
export function planSchemaFor(profile: Profile, bounds: PlanBounds) {
  const base = PlannedSubtaskSchema.shape;
  const types = profile.subtaskTypes ? Object.keys(profile.subtaskTypes) : [];
  const subtask = z
    .object({
      id: base.id,
      type:
        types.length > 0
          ? z
              .enum(types as [string, ...string[]])
              .describe("Kind of work: one of the profile's subtask types")
          : base.type,
      title: base.title,
      description: base.description,
      ...(profile.fields.dependencies
        ? { dependsOn: z.array(z.string()).describe(base.dependsOn.description ?? '') }
        : {}),
      ...(profile.fields.priority
        ? {
            priority: z.literal(PRIORITIES).describe(base.priority.description ?? ''),
          }
        : {}),
    })
    .strict();
  return z
    .object({
      analysis: PlanSchema.shape.analysis,
      subtasks: z
        .array(subtask)
        .min(bounds.min)
        .max(bounds.max)
        .describe(PlanSchema.shape.subtasks.description ?? ''),
      ...(profile.fields.synthesisGuidance
        ? {
            synthesisGuidance: z
              .string()
              .min(1)
              .max(4_000)
              .describe(PlanSchema.shape.synthesisGuidance.description ?? ''),
          }
        : {}),
    })
    .strict();
}

/** The JSON Schema sent as `output_config.format` for a profile's plan; zod remains the judge of the answer. */
export function planJsonSchema(profile: Profile, bounds: PlanBounds): Record<string, unknown> {
  return zodOutputFormat(planSchemaFor(profile, bounds)).schema;
}
