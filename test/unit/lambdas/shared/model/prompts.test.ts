import { profileNamed } from '../../../../../lambdas/shared/domain/profiles';
import { messageText, type PromptBlock } from '../../../../../lambdas/shared/model/gateway';
import {
  planPrompt,
  planRepairPrompt,
  synthesisPrompt,
  workerPrompt,
  workerSystemPrompt,
} from '../../../../../lambdas/shared/model/prompts';
import { planWith } from '../../../../helpers/plans';

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
    expect(messageText(message)).toContain('title="The &quot;best&quot; &lt;fit&gt;"');
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

describe('worker prompts and prompt caching', () => {
  const blocksOf = (subtaskIndex: number, plan = planWith(['a', 'b', 'c'])): readonly PromptBlock[] => {
    const content = workerPrompt(input, plan, plan.subtasks[subtaskIndex]!)[0]?.content;
    if (typeof content === 'string' || content === undefined) throw new Error('expected prompt blocks');
    return content;
  };

  it('puts the task, context and plan overview in one block marked as the end of the cached prefix', () => {
    const [shared, own] = blocksOf(0);

    expect(shared?.cacheBreakpoint).toBe(true);
    expect(shared?.text).toContain('<task>\nWrite launch copy\n</task>');
    expect(shared?.text).toContain('"audience": "runners"');
    expect(shared?.text).toContain(
      '<plan_overview>\n- a: Title of a\n- b: Title of b\n- c: Title of c\n</plan_overview>',
    );
    expect(own?.cacheBreakpoint).toBeUndefined();
    expect(own?.text).toMatch(/^<assigned_subtask id="a"/);
  });

  it('gives every worker of a job the same cached block, and each its own subtask after it', () => {
    const [firstShared, firstOwn] = blocksOf(0);
    const [thirdShared, thirdOwn] = blocksOf(2);

    expect(thirdShared).toEqual(firstShared);
    expect(thirdOwn?.text).not.toEqual(firstOwn?.text);
    expect(thirdOwn?.text).toContain('<assigned_subtask id="c"');
  });

  it('keeps dependency results and custom instructions out of the cached block', () => {
    const plan = planWith(['a', 'b']);
    const [message] = workerPrompt(
      { ...input, templates: { orchestrator: 'Plan it', worker: 'Write {{subtask.title}}' } },
      plan,
      plan.subtasks[1]!,
      [{ id: 'a', title: 'Title of a', output: 'the output of a' }],
    );
    const content = message?.content;
    if (typeof content === 'string' || content === undefined) throw new Error('expected prompt blocks');

    expect(content[0]?.text).not.toContain('the output of a');
    expect(content[0]?.text).not.toContain('<instructions>');
    expect(content[1]?.text).toContain('<instructions>\nWrite Title of b\n</instructions>');
    expect(content[1]?.text).toContain('<result id="a" title="Title of a">\nthe output of a\n</result>');
  });

  it('gives every worker of a job one system prompt, listing the roles when the types differ', () => {
    const research = profileNamed('research');
    const plan = planWith(['a', 'b']);
    plan.subtasks[1]!.type = 'analysis';

    const system = workerSystemPrompt(research, plan);

    expect(system).toContain('<role type="research">\nYou are a researcher.');
    expect(system).toContain('<role type="analysis">\nYou are an analyst.');
    expect(system).toContain('You are one worker in an orchestrator-workers system');
  });

  it('uses the one role prompt as the system prompt when every subtask has the same type', () => {
    const system = workerSystemPrompt(profileNamed('research'), planWith(['a', 'b']));

    expect(system).toMatch(/^You are a researcher\./);
    expect(system).not.toContain('<role');
  });

  it('joins the blocks into the text the model reads', () => {
    const [message] = workerPrompt(input, planWith(['a']), planWith(['a']).subtasks[0]!);

    expect(messageText(message)).toMatch(/<\/plan_overview>\n<assigned_subtask id="a"/);
  });
});
