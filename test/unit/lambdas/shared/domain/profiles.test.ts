import researchProfile from '../../../../../profiles/research.json';
import {
  loadProfiles,
  PROFILES,
  renderTemplate,
  templateProblems,
} from '../../../../../lambdas/shared/domain/profiles';
import { JobRequestSchema } from '../../../../../lambdas/shared/domain/schemas';

describe('profile files', () => {
  it('load the four profiles with research as the default', () => {
    expect(PROFILES.map((profile) => [profile.name, profile.default])).toEqual([
      ['research', true],
      ['marketing', false],
      ['project', false],
      ['custom', false],
    ]);
  });

  it('fail to load naming the file and the field when a file is invalid', () => {
    const broken = { ...researchProfile, subtasks: { min: 3, max: 'six' } };
    expect(() => loadProfiles({ 'research.json': broken })).toThrow(
      /profiles\/research\.json: subtasks\.max: .*number/,
    );
  });

  it('must match their file name and have exactly one default', () => {
    expect(() => loadProfiles({ 'other.json': researchProfile })).toThrow('name must match the file name');
    expect(() => loadProfiles({ 'research.json': { ...researchProfile, default: false } })).toThrow(
      'Exactly one profile must be the default; found 0',
    );
  });
});

describe('custom templates', () => {
  it('render task, context and subtask variables', () => {
    const rendered = renderTemplate(
      'Explain {{task}} to {{ context.audience }} in {{context.words}} words: {{subtask.description}}',
      {
        task: 'tides',
        context: { audience: 'children', words: 200 },
        subtask: { description: 'the moon' },
      },
    );
    expect(rendered).toBe('Explain tides to children in 200 words: the moon');
  });

  it('report unknown variables, missing context fields and required variables, naming each', () => {
    const problems = templateProblems(
      {
        orchestrator: 'Plan {{task}} in a {{tone}} voice',
        worker: 'Do the work for {{context.audience}}',
        synthesis: '{{subtask.title}}',
      },
      {},
    );
    expect(problems).toEqual([
      { path: ['templates', 'orchestrator'], message: expect.stringContaining('unknown variables {{tone}}') },
      {
        path: ['templates', 'worker'],
        message: expect.stringContaining(
          '{{context.audience}} name context fields the request does not provide',
        ),
      },
      { path: ['templates', 'worker'], message: 'must use {{subtask.description}}' },
      {
        path: ['templates', 'synthesis'],
        message: expect.stringContaining('unknown variables {{subtask.title}}'),
      },
    ]);
  });

  it('are required with the custom profile and refused with the others', () => {
    const custom = JobRequestSchema.safeParse({ task: 't', profile: 'custom' });
    const research = JobRequestSchema.safeParse({
      task: 't',
      templates: { orchestrator: '{{task}}', worker: '{{subtask.description}}' },
    });
    const valid = JobRequestSchema.safeParse({
      task: 't',
      profile: 'custom',
      context: { audience: 'kids' },
      templates: { orchestrator: '{{task}} for {{context.audience}}', worker: '{{subtask.description}}' },
    });

    expect(custom.success || custom.error.issues.map((issue) => issue.path.join('.'))).toEqual(['templates']);
    expect(research.success || research.error.issues[0]?.message).toBe(
      'is only allowed with profile "custom", not "research"',
    );
    expect(valid.success).toBe(true);
  });
});
