import type { Plan } from '../../lambdas/shared/domain/schemas';

export function planWith(ids: string[], overrides: Partial<Plan> = {}): Plan {
  return {
    analysis: 'Three angles cover the question without overlap.',
    subtasks: ids.map((id) => ({
      id,
      type: 'research',
      title: `Title of ${id}`,
      description: `Do the ${id} part`,
      dependsOn: [],
      priority: 3,
    })),
    ...overrides,
  };
}
