import type { BatchDefinition } from '../../lambdas/shared/domain/batch-schemas';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
/** EventBridge Scheduler numbers days of the week 1–7 from Sunday. */
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export class UnsupportedScheduleExpression extends Error {
  override readonly name = 'UnsupportedScheduleExpression';
}

/** The wall-clock fields of `date` in `timeZone`. */
export function zonedFields(date: Date, timeZone: string) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    })
      .formatToParts(date)
      .map((part) => [part.type, part.value]),
  );
  return {
    minute: Number(parts.minute),
    hour: Number(parts.hour),
    dayOfMonth: Number(parts.day),
    month: Number(parts.month),
    dayOfWeek: DAYS.indexOf(String(parts.weekday).toUpperCase()) + 1,
    year: Number(parts.year),
  };
}

function fieldMatcher(
  field: string,
  min: number,
  max: number,
  names: string[] = [],
): (value: number) => boolean {
  if (field === '*' || field === '?') return () => true;
  const toNumber = (token: string) => {
    const named = names.indexOf(token.toUpperCase());
    const value = named >= 0 ? named + 1 : Number(token);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new UnsupportedScheduleExpression(`"${token}" is not supported locally in a cron field`);
    return value;
  };
  const accepted = new Set<number>();
  for (const part of field.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    const [from, to] =
      range === '*'
        ? [min, max]
        : range.includes('-')
          ? (range.split('-').map(toNumber) as [number, number])
          : [toNumber(range), stepText === undefined ? toNumber(range) : max];
    for (let value = from; value <= to; value += step) accepted.add(value);
  }
  return (value) => accepted.has(value);
}

/** Whether an EventBridge Scheduler `cron(...)` expression fires in the minute of `date`, in `timeZone`. */
export function cronMatches(expression: string, date: Date, timeZone: string): boolean {
  const fields = /^cron\((.*)\)$/.exec(expression)?.[1]?.trim().split(/\s+/);
  if (fields?.length !== 6)
    throw new UnsupportedScheduleExpression(`${expression} is not a 6-field cron expression`);
  const [minutes = '', hours = '', daysOfMonth = '', months = '', daysOfWeek = '', years = ''] = fields;
  // Every field is parsed before any is compared, so an unsupported one fails whatever the time.
  const matchers = [
    fieldMatcher(minutes, 0, 59),
    fieldMatcher(hours, 0, 23),
    fieldMatcher(daysOfMonth, 1, 31),
    fieldMatcher(months, 1, 12, MONTHS),
    fieldMatcher(daysOfWeek, 1, 7, DAYS),
    fieldMatcher(years, 1970, 2199),
  ];
  const now = zonedFields(date, timeZone);
  const values = [now.minute, now.hour, now.dayOfMonth, now.month, now.dayOfWeek, now.year];
  return matchers.every((matches, i) => matches(values[i] ?? -1));
}

/** The period of a `rate(...)` expression, in milliseconds. */
export function rateMillis(expression: string): number {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!match) throw new UnsupportedScheduleExpression(`${expression} is not a rate expression`);
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[match[2] as 'minute' | 'hour' | 'day'];
  return Number(match[1]) * unit;
}

export interface LocalSchedulerOptions {
  definitions: readonly BatchDefinition[];
  /** Starts one run of the batch (the local stand-in for the schedule's target). */
  start: (definition: BatchDefinition) => void;
  now?: () => Date;
}

/**
 * Fires batch schedules whose time comes while `npm run serve --schedules` runs. Checked once a
 * minute; the flexible time window is not emulated (a run starts at the scheduled minute).
 */
export class LocalScheduler {
  private readonly lastFired = new Map<string, number>();
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LocalSchedulerOptions) {
    this.startedAt = this.now().getTime();
    // Fail at start for an expression the local scheduler cannot evaluate, not at the first tick.
    for (const definition of this.enabled()) this.isDue(definition, this.now());
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  enabled(): BatchDefinition[] {
    return this.options.definitions.filter((definition) => definition.schedule.enabled);
  }

  private isDue(definition: BatchDefinition, now: Date): boolean {
    const { expression, timeZone } = definition.schedule;
    if (expression.startsWith('rate(')) {
      const last = this.lastFired.get(definition.name) ?? this.startedAt;
      return now.getTime() - last >= rateMillis(expression);
    }
    return cronMatches(expression, now, timeZone);
  }

  /** Starts every batch due in the current minute (at most once per batch per minute). */
  tick(): string[] {
    const now = this.now();
    const minute = Math.floor(now.getTime() / 60_000);
    const fired: string[] = [];
    for (const definition of this.enabled()) {
      const last = this.lastFired.get(definition.name);
      if (last !== undefined && Math.floor(last / 60_000) === minute) continue;
      if (!this.isDue(definition, now)) continue;
      this.lastFired.set(definition.name, now.getTime());
      this.options.start(definition);
      fired.push(definition.name);
    }
    return fired;
  }

  /** Ticks a second after every minute boundary until stopped. */
  run(): void {
    const schedule = () => {
      const msToNextMinute = 60_000 - (Date.now() % 60_000) + 1_000;
      this.timer = setTimeout(() => {
        this.tick();
        schedule();
      }, msToNextMinute);
      this.timer.unref();
    };
    schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
