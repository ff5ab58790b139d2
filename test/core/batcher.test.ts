import { describe, expect, it } from 'vitest';
import { TickBatcher } from '../../src/util/batcher.js';

describe('TickBatcher', () => {
  it('hands everything added in one turn to one flush, and each caller its own result', async () => {
    const batches: number[][] = [];
    const b = new TickBatcher<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => i * 10);
    });
    const first = await Promise.all([b.add(1), b.add(2), b.add(3)]);
    const second = await b.add(4);
    expect(first).toEqual([10, 20, 30]);
    expect(second).toBe(40);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('fails every caller of a batch whose flush fails, and goes on with the next batch', async () => {
    let fail = true;
    const b = new TickBatcher<string, string>(async (items) => {
      if (fail) throw new Error('store down');
      return items;
    });
    const results = await Promise.allSettled([b.add('a'), b.add('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await b.add('c')).toBe('c');
  });
});
