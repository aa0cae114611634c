import { profileNamed } from '../../../lambdas/shared/profiles';
import { planPrompt, planRepairPrompt, synthesisPrompt, workerPrompt } from '../../../lambdas/shared/prompts';
import { planWith } from '../../helpers/plans';

const input = { task: 'Write launch copy', context: { audience: 'runners' } };

describe('prompt building', () => {
  it('leaves the context block out when there is no context', () => {
    const [message] = planPrompt({ task: 'Task only', context: {} }, profileNamed('research'), {
      min: 2,
      max: 6,
    });
    expect(message?.content).toContain('<task>\nTask only\n</task>');
    expect(message?.content).not.toContain('<context>');
  });

  it('puts the plan bounds in the planning prompt', () => {
    const [message] = planPrompt(input, profileNamed('research'), { min: 2, max: 3 });
    expect(message?.content).toContain('<subtask_bounds min="2" max="3"/>');
    expect(message?.content).toContain('between 2 and 3 subtasks');
  });

  it('builds a repair turn from the rejected answer and the problems', () => {
    const first = planPrompt(input, profileNamed('research'), { min: 1, max: 6 });
    const repair = planRepairPrompt(first, '', ['ids must be unique']);
    expect(repair).toHaveLength(3);
    expect(repair[1]).toEqual({ role: 'assistant', content: '(empty answer)' });
    expect(repair[2]?.content).toContain('<validation_errors>\n- ids must be unique\n</validation_errors>');
  });

  it('escapes quotes and angle brackets in subtask attributes', () => {
    const plan = planWith(['a']);
    plan.subtasks[0]!.title = 'The "best" <fit>';
    const [message] = workerPrompt(input, plan, plan.subtasks[0]!);
    expect(message?.content).toContain('title="The &quot;best&quot; &lt;fit&gt;"');
  });

  it('lists failed subtasks with their errors in the synthesis prompt', () => {
    const [message] = synthesisPrompt(input, planWith(['a', 'b', 'c'], { analysis: 'analysis' }), [
      { id: 'a', title: 'A', status: 'SUCCEEDED', output: 'text of a' },
      { id: 'b', title: 'B', status: 'FAILED', error: { name: 'ModelTimeout', message: 'slow' } },
      { id: 'c', title: 'C', status: 'PENDING' },
    ]);
    expect(message?.content).toContain('<result id="a" title="A" status="SUCCEEDED">\ntext of a\n</result>');
    expect(message?.content).toContain('<failed_subtask id="b" title="B" error="ModelTimeout: slow"/>');
    expect(message?.content).toContain('<failed_subtask id="c" title="C" error="not completed (PENDING)"/>');
  });
});
