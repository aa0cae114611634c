import { findCycle, validatePlan } from '../../../../lambdas/plan/plan-validation';
import { planWith } from '../../../helpers/plans';

const bounds = { min: 1, max: 6 };

describe('plan validation', () => {
  it('accepts a well-formed plan and fills in missing dependsOn', () => {
    // Arrange
    const plan = planWith(['market', 'pricing']);
    const answer = JSON.stringify({
      ...plan,
      subtasks: plan.subtasks.map(({ dependsOn: _unused, ...rest }) => rest),
    });

    // Act
    const result = validatePlan(answer, bounds);

    // Assert
    expect(result.ok).toBe(true);
    expect(result.ok && result.plan.subtasks.map((subtask) => subtask.dependsOn)).toEqual([[], []]);
  });

  it('accepts JSON wrapped in a Markdown fence', () => {
    const answer = '```json\n' + JSON.stringify(planWith(['a'])) + '\n```';
    expect(validatePlan(answer, bounds).ok).toBe(true);
  });

  it('rejects an answer that is not JSON', () => {
    const result = validatePlan('Here is my plan: first research, then write.', bounds);
    expect(result).toEqual({ ok: false, problems: [expect.stringContaining('not valid JSON')] });
  });

  it('rejects a plan that does not match the schema, naming the field', () => {
    const result = validatePlan(
      JSON.stringify({ analysis: 'x', subtasks: [{ id: 'a', title: 't' }] }),
      bounds,
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join(' ')).toMatch(/subtasks\.0\.(type|description)/);
  });

  it('rejects a plan with no subtasks', () => {
    const result = validatePlan(JSON.stringify(planWith([])), bounds);
    expect(!result.ok && result.problems).toEqual([expect.stringContaining('has 0 subtasks')]);
  });

  it('rejects a plan with more subtasks than the maximum', () => {
    const result = validatePlan(JSON.stringify(planWith(['a', 'b', 'c'])), { min: 1, max: 2 });
    expect(!result.ok && result.problems).toEqual([expect.stringContaining('between 1 and 2')]);
  });

  it('rejects a plan too large to store next to the job, asking for shorter descriptions', () => {
    const ids = Array.from({ length: 40 }, (_, index) => `part-${index}`);
    const plan = planWith(ids);
    for (const subtask of plan.subtasks) subtask.description = 'x'.repeat(3_500);

    const result = validatePlan(JSON.stringify(plan), { min: 1, max: 100 });

    expect(result).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(
          /^The plan is 1\d{5} bytes of JSON; it must be at most 120000: write shorter descriptions\.$/,
        ),
      ],
    });
    expect(validatePlan(JSON.stringify(planWith(ids)), { min: 1, max: 100 }).ok).toBe(true);
  });

  it('rejects duplicate subtask ids', () => {
    const result = validatePlan(JSON.stringify(planWith(['a', 'b', 'a'])), bounds);
    expect(!result.ok && result.problems).toEqual([expect.stringContaining('repeated: a')]);
  });

  it('rejects ids that are not kebab-case', () => {
    const result = validatePlan(JSON.stringify(planWith(['Market Research'])), bounds);
    expect(!result.ok && result.problems.join(' ')).toContain('subtasks.0.id');
  });

  it('rejects a dependency on an unknown id', () => {
    const plan = planWith(['a', 'b']);
    plan.subtasks[1]!.dependsOn = ['zzz'];
    const result = validatePlan(JSON.stringify(plan), bounds);
    expect(!result.ok && result.problems).toEqual([
      expect.stringContaining('"b" depends on unknown ids: zzz'),
    ]);
  });

  it('rejects a plan with a dependency cycle', () => {
    const plan = planWith(['a', 'b', 'c']);
    plan.subtasks[0]!.dependsOn = ['c'];
    plan.subtasks[1]!.dependsOn = ['a'];
    plan.subtasks[2]!.dependsOn = ['b'];
    const result = validatePlan(JSON.stringify(plan), bounds);
    expect(!result.ok && result.problems).toEqual([expect.stringMatching(/cycle: (\w) -> .* -> \1/)]);
  });

  it('rejects a subtask that depends on itself', () => {
    const plan = planWith(['a']);
    plan.subtasks[0]!.dependsOn = ['a'];
    const result = validatePlan(JSON.stringify(plan), bounds);
    expect(!result.ok && result.problems.join(' ')).toContain('depends on itself');
  });
});

describe('cycle detection', () => {
  it('finds no cycle in a diamond', () => {
    const plan = planWith(['top', 'left', 'right', 'bottom']);
    plan.subtasks[1]!.dependsOn = ['top'];
    plan.subtasks[2]!.dependsOn = ['top'];
    plan.subtasks[3]!.dependsOn = ['left', 'right'];
    expect(findCycle(plan)).toBeUndefined();
  });

  it('returns the cycle as a closed path', () => {
    const plan = planWith(['a', 'b']);
    plan.subtasks[0]!.dependsOn = ['b'];
    plan.subtasks[1]!.dependsOn = ['a'];
    expect(findCycle(plan)).toEqual(['a', 'b', 'a']);
  });
});
