import { newJobId } from '../../../../../lambdas/shared/domain/job-id';
import { JobIdSchema } from '../../../../../lambdas/shared/domain/schemas';

describe('job ids', () => {
  it('reads as the task in a few words plus a random suffix', () => {
    expect(newJobId('Write a product description for a new eco-friendly water bottle', () => 'abc123')).toBe(
      'product-description-eco-friendly-water-bottle-abc123',
    );
  });

  it('is a valid execution name for any task, including symbols and other scripts', () => {
    for (const task of ['!!!', 'Écrire un résumé', '数据分析', 'a'.repeat(500), 'Compare A/B tests: why?']) {
      expect(JobIdSchema.safeParse(newJobId(task)).success).toBe(true);
    }
  });

  it('differs between two jobs with the same task', () => {
    expect(newJobId('same task')).not.toBe(newJobId('same task'));
  });
});
