import { approvalQuestion, approvalSummary, isYes } from '../../../../local/cli/approval-prompt';
import type { JobView } from '../../../../lambdas/shared/views/job-view';

const subtask = (id: string, dependsOn: string[] = []) => ({
  id,
  type: 'research',
  title: `About ${id}`,
  description: '…',
  dependsOn,
  priority: 3,
});

const awaiting = {
  jobId: 'heat-pumps-abc123',
  plan: {
    analysis: '…',
    subtasks: [subtask('costs'), subtask('efficiency'), subtask('verdict', ['costs', 'efficiency'])],
    synthesisGuidance: null,
  },
  estimate: { costUsd: 0.1134, inputTokens: 21_000, outputTokens: 20_480 },
} as unknown as JobView;

describe('asking for approval on the terminal', () => {
  it('asks with the subtask count and the estimate, rounded up to the cent', () => {
    expect(approvalQuestion(awaiting)).toBe('Run 3 subtasks, at most $0.12? [y/N] ');
  });

  it('shows each subtask, what it waits for, and the estimate in tokens', () => {
    const lines = approvalSummary(awaiting);
    expect(lines[0]).toContain('3 subtasks');
    expect(lines).toContain('  - verdict: About verdict (after costs, efficiency)');
    expect(lines.at(-1)).toContain('at most $0.12, 21000 input / 20480 output tokens');
  });

  it.each([
    ['y', true],
    ['YES', true],
    [' y ', true],
    ['', false],
    ['n', false],
    ['sure', false],
  ])('takes %j as %s', (answer, approve) => {
    expect(isYes(answer)).toBe(approve);
  });
});
