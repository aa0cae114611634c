import {
  decodeCustomId,
  planCustomId,
  synthesisCustomId,
  workerCustomId,
} from '../../../../lambdas/batch-lane/custom-ids';

describe('the lane custom ids', () => {
  it('decode back to the item and the call they were made for, whatever order results come in', () => {
    expect(decodeCustomId(planCustomId(7, 2))).toEqual({ index: 7, kind: 'plan', call: 2 });
    expect(decodeCustomId(workerCustomId(12, 3))).toEqual({ index: 12, kind: 'worker', ordinal: 3 });
    expect(decodeCustomId(synthesisCustomId(0))).toEqual({ index: 0, kind: 'synthesis' });
  });

  it('fit the API pattern (^[a-zA-Z0-9_-]{1,64}$) and ignore ids the lane never made', () => {
    for (const id of [planCustomId(9_999, 3), workerCustomId(9_999, 99), synthesisCustomId(9_999)]) {
      expect(id).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    }
    expect(decodeCustomId('someone-else')).toBeUndefined();
  });
});
