import { BatchDefinitionSchema, type BatchDefinition } from '../../../../lambdas/shared/domain/batch-schemas';
import {
  cronMatches,
  LocalScheduler,
  rateMillis,
  UnsupportedScheduleExpression,
} from '../../../../local/runtime/scheduler';

const definition = (name: string, expression: string, timeZone = 'UTC', enabled = true): BatchDefinition =>
  BatchDefinitionSchema.parse({
    name,
    schedule: { expression, timeZone, enabled },
    items: [{ task: 'Describe a mug' }],
  });

describe('cron expressions, evaluated locally', () => {
  it('fire at the scheduled minute in the schedule’s time zone', () => {
    const nightly = 'cron(0 2 * * ? *)';
    expect(cronMatches(nightly, new Date('2026-11-28T02:00:30Z'), 'Europe/London')).toBe(true);
    expect(cronMatches(nightly, new Date('2026-11-28T02:01:00Z'), 'Europe/London')).toBe(false);
    // Summer time: 02:00 in London is 01:00 UTC.
    expect(cronMatches(nightly, new Date('2026-07-01T01:00:00Z'), 'Europe/London')).toBe(true);
  });

  it('read days of the week from 1 = Sunday, by name or number, as EventBridge Scheduler does', () => {
    const mondays = 'cron(30 7 ? * MON *)';
    expect(cronMatches(mondays, new Date('2026-11-30T12:30:00Z'), 'America/New_York')).toBe(true);
    expect(cronMatches(mondays, new Date('2026-11-29T12:30:00Z'), 'America/New_York')).toBe(false);
    expect(cronMatches('cron(30 7 ? * 2 *)', new Date('2026-11-30T12:30:00Z'), 'America/New_York')).toBe(
      true,
    );
  });

  it('accept lists, ranges and steps', () => {
    const expression = 'cron(*/15 9-17 ? * MON-FRI *)';
    expect(cronMatches(expression, new Date('2026-11-30T09:45:00Z'), 'UTC')).toBe(true);
    expect(cronMatches(expression, new Date('2026-11-30T09:50:00Z'), 'UTC')).toBe(false);
    expect(cronMatches(expression, new Date('2026-11-29T09:45:00Z'), 'UTC')).toBe(false);
  });

  it('refuse what the local scheduler cannot evaluate (L, W, #)', () => {
    expect(() => cronMatches('cron(0 2 L * ? *)', new Date(), 'UTC')).toThrow(UnsupportedScheduleExpression);
  });

  it('turn rate expressions into a period', () => {
    expect(rateMillis('rate(1 hour)')).toBe(3_600_000);
    expect(rateMillis('rate(15 minutes)')).toBe(900_000);
  });
});

describe('the local scheduler', () => {
  it('starts each enabled batch when it is due, once per minute', () => {
    let now = new Date('2026-11-28T01:59:00Z');
    const started: string[] = [];
    const scheduler = new LocalScheduler({
      definitions: [
        definition('nightly-copy', 'cron(0 2 * * ? *)', 'Europe/London'),
        definition('every-ten', 'rate(10 minutes)'),
        definition('switched-off', 'cron(* * * * ? *)', 'UTC', false),
      ],
      start: (batch) => started.push(batch.name),
      now: () => now,
    });

    expect(scheduler.tick()).toEqual([]);
    now = new Date('2026-11-28T02:00:01Z');
    expect(scheduler.tick()).toEqual(['nightly-copy']);
    expect(scheduler.tick()).toEqual([]);
    now = new Date('2026-11-28T02:09:00Z');
    expect(scheduler.tick()).toEqual(['every-ten']);
    expect(started).toEqual(['nightly-copy', 'every-ten']);
  });

  it('fails at start on an expression it cannot evaluate', () => {
    expect(
      () =>
        new LocalScheduler({
          definitions: [definition('month-end', 'cron(0 2 L * ? *)')],
          start: () => undefined,
        }),
    ).toThrow(/"L" is not supported locally/);
  });
});
