import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createStore, MemoryStore } from '../../src/store/index.js';
import { describeStoreContract, makeRecord } from './contract.js';

const TTL_SECONDS = 3600;

describeStoreContract(
  'memory',
  async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, messageTtlSeconds: TTL_SECONDS });
    return {
      store,
      clock,
      messageTtlSeconds: TTL_SECONDS,
      advance: async (ms) => clock.advance(ms),
      cleanup: () => store.close(),
    };
  },
  { ttlFollowsClock: true },
);

describe('MemoryStore', () => {
  it('createStore builds it for { kind: memory }', () => {
    const store = createStore({ kind: 'memory' }, { ttl: { messageSeconds: 60 } });
    expect(store).toBeInstanceOf(MemoryStore);
    expect(store.kind).toBe('memory');
  });

  it('rejects a TTL that is not a positive number of seconds', async () => {
    expect(() => new MemoryStore({ messageTtlSeconds: 0 })).toThrow(/messageTtlSeconds must be a positive/);
    const store = new MemoryStore({ messageTtlSeconds: 60 });
    await expect(
      store.messages.claimIdempotencyKey('a', 'k', { messageId: 'm', fingerprint: 'f' }, -1),
    ).rejects.toMatchObject({
      code: 'SLUICE_ERR_STORE_ARGUMENT',
    });
  });

  it('leaves no timer behind once a blocking claim has resolved', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, messageTtlSeconds: 60 });
    const a = makeRecord();
    await store.messages.enqueue([a]);
    const [e] = await store.queue.claim('c1', 'w', 1, 0, 60_000);
    await store.queue.defer('c1', [e!], clock.now() + 5_000);
    const waiting = store.queue.claim('c1', 'w', 1, 60_000, 60_000);
    // One timer for the deadline, one for the deferred entry's notBefore.
    expect(clock.pending).toBe(2);
    const b = makeRecord();
    await store.messages.enqueue([b]);
    expect((await waiting).map((x) => x.messageId)).toEqual([b.id]);
    expect(clock.pending).toBe(0);
  });

  it('forgets expired records over time without being asked for them', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock, messageTtlSeconds: 1 });
    const records = Array.from({ length: 50 }, () => makeRecord({ status: 'rejected' }));
    await store.messages.putFinal(records);
    clock.advance(1000);
    // Each write sweeps a few expired entries from the front; 10 writes clear the 50 old ones.
    for (let i = 0; i < 10; i++) await store.messages.putFinal([makeRecord({ status: 'rejected' })]);
    expect(store.messages.recordCount).toBe(10);
  });
});
