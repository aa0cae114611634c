import type { PolicyErrorName } from '../../lambdas/shared/domain/error-policy';
import type { JobView } from '../../lambdas/shared/views/job-view';
import type { ExecutionEvent } from '../runtime/stack';

export type SubtaskStatus = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed';

/** A subtask's tokens and estimated cost, once its model call is recorded. */
export type SubtaskUsage = Omit<JobView['subtasks'][number]['usage'], 'model'>;

export interface SubtaskProgress {
  id: string;
  type: string;
  title: string;
  dependsOn: string[];
  /** 0-based dependency wave, or null when the plan has one wave. */
  wave: number | null;
  status: SubtaskStatus;
  attempts: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The last error, while retrying or once failed. */
  error: string | null;
  usage: SubtaskUsage | null;
}

/** A subtask's progress before its first attempt. */
const NOT_STARTED = {
  status: 'queued',
  attempts: 0,
  startedAt: null,
  finishedAt: null,
  error: null,
  usage: null,
} as const satisfies Partial<SubtaskProgress>;

export type JobPhase = 'starting' | 'planning' | 'running' | 'synthesizing' | 'failing';

export interface ProgressState {
  startedAt: number;
  phase: JobPhase;
  analysis: string | null;
  waveCount: number;
  subtasks: SubtaskProgress[];
}

/** What changed, for renderers that print one line per change. */
export type ProgressChange =
  | { kind: 'planning' }
  /** The Plan state finished; the driver loads the plan and hands it to `setPlan`. */
  | { kind: 'plan-finished'; waves: string[][] }
  | { kind: 'planned' }
  | { kind: 'wave'; wave: number }
  | { kind: 'started'; id: string }
  /** A retry started: of a subtask (`subtaskId`) or of another state such as Plan. */
  | { kind: 'retrying'; who: string; subtaskId: string | null; error: string; retry: number }
  /** Deferred by the model-call governor: it waits in Step Functions until capacity frees. */
  | { kind: 'waiting'; who: string }
  | { kind: 'succeeded'; id: string }
  | { kind: 'failed'; id: string; error: string }
  | { kind: 'synthesizing' }
  | { kind: 'failing' };

type PlanView = NonNullable<JobView['plan']>;

const CAPACITY_WAIT = 'ModelCapacityExceeded' satisfies PolicyErrorName;

const subtaskIdOf = (event: { state: { input: unknown } }): string => {
  const input = event.state.input;
  const id =
    typeof input === 'object' && input !== null ? (input as { subtaskId?: unknown }).subtaskId : null;
  return typeof id === 'string' ? id : '?';
};

/**
 * The progress of one job, folded from its execution events: the phase, and per subtask its
 * status, attempts, timing and (once known) tokens. Pure: time comes in as an argument.
 */
export class ProgressModel {
  readonly state: ProgressState;
  private readonly lastError = new Map<string, string>();
  private readonly lastRetried = new Map<string, string>();

  constructor(startedAt: number) {
    this.state = { startedAt, phase: 'starting', analysis: null, waveCount: 0, subtasks: [] };
  }

  apply(event: ExecutionEvent, now: number): ProgressChange[] {
    switch (event.type) {
      case 'StateEntered':
        return this.entered(event.state.name, event, now);
      case 'StateExited':
        return this.exited(event.state.name, event, now);
      case 'StateFailed': {
        const id = event.state.name === 'RunSubtask' ? subtaskIdOf(event) : null;
        this.lastError.set(`${event.state.name}:${id ?? ''}`, event.Error);
        const subtask = id === null ? undefined : this.subtask(id);
        if (subtask && subtask.status !== 'failed') {
          subtask.status = 'retrying';
          subtask.error = event.Error;
        }
        return [];
      }
      case 'StateRetried': {
        const id = event.state.name === 'RunSubtask' ? subtaskIdOf(event) : null;
        const key = `${event.state.name}:${id ?? ''}`;
        const error = this.lastError.get(key) ?? 'an error';
        const previous = this.lastRetried.get(key);
        this.lastRetried.set(key, error);
        // Waiting for model capacity is one line however often it is retried, and uses no attempt.
        if (error === CAPACITY_WAIT)
          return previous === CAPACITY_WAIT ? [] : [{ kind: 'waiting', who: id ?? event.state.name }];
        const subtask = id === null ? undefined : this.subtask(id);
        if (subtask) subtask.attempts = Math.max(subtask.attempts, event.retry.attempt + 1);
        return [
          { kind: 'retrying', who: id ?? event.state.name, subtaskId: id, error, retry: event.retry.attempt },
        ];
      }
      case 'StateCaught': {
        if (event.state.name !== 'RunSubtask') return [];
        const id = subtaskIdOf(event);
        const error = this.lastError.get(`RunSubtask:${id}`) ?? 'an error';
        const subtask = this.subtaskOrAdd(id);
        subtask.status = 'failed';
        subtask.error = error;
        subtask.finishedAt = now;
        return [{ kind: 'failed', id, error }];
      }
      default:
        return [];
    }
  }

  /** Lists the planned subtasks, all queued, in plan order. */
  setPlan(plan: PlanView | null, waves: string[][]): ProgressChange[] {
    const waveOf = new Map(waves.flatMap((wave, index) => wave.map((id) => [id, index] as const)));
    this.state.analysis = plan?.analysis ?? null;
    this.state.waveCount = waves.length;
    const known = new Map(this.state.subtasks.map((subtask) => [subtask.id, subtask]));
    this.state.subtasks = (plan?.subtasks ?? []).map((planned) => ({
      ...NOT_STARTED,
      ...known.get(planned.id),
      id: planned.id,
      type: planned.type,
      title: planned.title,
      dependsOn: planned.dependsOn,
      wave: waves.length > 1 ? (waveOf.get(planned.id) ?? null) : null,
    }));
    return [{ kind: 'planned' }];
  }

  setUsage(id: string, usage: SubtaskUsage | null): void {
    const subtask = this.subtask(id);
    if (subtask) subtask.usage = usage;
  }

  private entered(name: string, event: { state: { input: unknown } }, now: number): ProgressChange[] {
    switch (name) {
      case 'Plan':
        this.state.phase = 'planning';
        return [{ kind: 'planning' }];
      case 'RunSubtasks': {
        this.state.phase = 'running';
        const wave = (event.state.input as { wave?: unknown } | null)?.wave;
        return typeof wave === 'number' ? [{ kind: 'wave', wave }] : [];
      }
      case 'RunSubtask': {
        const subtask = this.subtaskOrAdd(subtaskIdOf(event));
        if (subtask.startedAt !== null) return [];
        subtask.startedAt = now;
        subtask.status = 'running';
        subtask.attempts = Math.max(subtask.attempts, 1);
        return [{ kind: 'started', id: subtask.id }];
      }
      case 'Synthesize':
        this.state.phase = 'synthesizing';
        return [{ kind: 'synthesizing' }];
      case 'MarkFailed':
        this.state.phase = 'failing';
        return [{ kind: 'failing' }];
      default:
        return [];
    }
  }

  private exited(
    name: string,
    event: { state: { input: unknown; output?: unknown } },
    now: number,
  ): ProgressChange[] {
    if (name === 'Plan') {
      const waves = (event.state.output as { plan?: { waves?: string[][] } } | undefined)?.plan?.waves ?? [];
      return [{ kind: 'plan-finished', waves }];
    }
    if (name !== 'RunSubtask') return [];
    const subtask = this.subtaskOrAdd(subtaskIdOf(event));
    const attempts = (event.state.output as { attempts?: unknown } | undefined)?.attempts;
    if (typeof attempts === 'number') subtask.attempts = attempts;
    subtask.status = 'succeeded';
    subtask.error = null;
    subtask.finishedAt = now;
    return [{ kind: 'succeeded', id: subtask.id }];
  }

  private subtask(id: string): SubtaskProgress | undefined {
    return this.state.subtasks.find((subtask) => subtask.id === id);
  }

  /** A subtask the plan did not list (the plan could not be read): shown under its id. */
  private subtaskOrAdd(id: string): SubtaskProgress {
    const existing = this.subtask(id);
    if (existing) return existing;
    const added: SubtaskProgress = {
      id,
      type: '',
      title: id,
      dependsOn: [],
      wave: null,
      ...NOT_STARTED,
    };
    this.state.subtasks.push(added);
    return added;
  }
}
