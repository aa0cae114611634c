import type { Plan } from '../shared/domain/schemas';

/**
 * Groups a validated (acyclic) plan into dependency waves: a subtask's wave is one more than the
 * latest wave of anything it depends on, so every wave only needs the waves before it. Within a
 * wave, higher priority comes first (the Map starts items in order), then the planner's order.
 */
export function dependencyWaves(plan: Plan): string[][] {
  const byId = new Map(plan.subtasks.map((subtask, index) => [subtask.id, { ...subtask, index }]));
  const waveOf = new Map<string, number>();
  const resolve = (id: string): number => {
    const known = waveOf.get(id);
    if (known !== undefined) return known;
    const subtask = byId.get(id);
    const wave =
      subtask && subtask.dependsOn.length > 0 ? Math.max(...subtask.dependsOn.map(resolve)) + 1 : 0;
    waveOf.set(id, wave);
    return wave;
  };
  const waves: string[][] = [];
  const ordered = [...byId.values()].sort((a, b) => b.priority - a.priority || a.index - b.index);
  for (const subtask of ordered) (waves[resolve(subtask.id)] ??= []).push(subtask.id);
  return waves.filter((wave) => wave.length > 0);
}
