import { profileNamed } from '../../lambdas/shared/domain/profiles';
import type { JobRequest } from '../../lambdas/shared/domain/schemas';
import { buildPlan } from '../../local/simulated-model';
import { createRandom } from '../../local/simulated-model/random';

/** Subtask counts the soak's jobs plan, inclusive. */
export const SOAK_SUBTASK_RANGE = { min: 4, max: 8 } as const;

const RESEARCH_TOPICS = [
  'tidal power for island grids',
  'heat pumps in older terraced houses',
  'urban vertical farming economics',
  'four-day work weeks in small firms',
  'microplastics in drinking water',
  'e-bike subsidies and commuting',
  'sodium-ion batteries for home storage',
  'rewilding upland farmland',
];
const PROJECT_TOPICS = [
  'build an inventory service for a bakery chain',
  'migrate a booking platform to event-driven architecture',
  'implement an offline-first field survey app',
  'develop an API for municipal bike sharing',
];

/**
 * The subtask count the simulated planner gives a task under a profile: it picks the count from a
 * hash of the task, within the profile's bounds, exactly as when the job runs.
 */
export function plannedSubtaskCount(task: string, profileName: string): number {
  const profile = profileNamed(profileName);
  const allowedTypes = Object.keys(profile.subtaskTypes ?? {});
  return buildPlan({
    task,
    context: {},
    bounds: profile.subtasks,
    isRepair: false,
    ...(allowedTypes.length > 0 ? { allowedTypes } : {}),
  }).subtasks.length;
}

/**
 * `count` distinct job requests (research questions and dependency-wave projects, about two to
 * one) whose plans have 4–8 subtasks. The shipped profiles' bounds and the simulated planner give
 * 4–6 (research) and 4–5 (project); tasks planning 3 are skipped, no default is changed.
 */
export function soakJobRequests(count: number, seed: number): JobRequest[] {
  const random = createRandom(seed);
  const requests: JobRequest[] = [];
  for (let attempt = 0; requests.length < count; attempt++) {
    if (attempt > count * 50) throw new Error('Could not find enough soak tasks with 4–8 subtasks');
    const project = random() < 1 / 3;
    const topics = project ? PROJECT_TOPICS : RESEARCH_TOPICS;
    const topic = topics[Math.floor(random() * topics.length)] ?? topics[0];
    const task = project
      ? `Soak job ${requests.length + 1}: ${topic} (variant ${attempt})`
      : `Soak job ${requests.length + 1}: research ${topic}, question ${attempt}`;
    const profile = project ? 'project' : 'research';
    const subtasks = plannedSubtaskCount(task, profile);
    if (subtasks < SOAK_SUBTASK_RANGE.min || subtasks > SOAK_SUBTASK_RANGE.max) continue;
    requests.push({ task, context: {}, profile });
  }
  return requests;
}
