/**
 * The store contract (src/store/types.ts), one suite for every implementation. Time is the
 * harness's: `advance(ms)` moves the manual clock and whatever else the store measures time by
 * (for Redis, the idle time of pending entries, which the server keeps by its own clock).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../src/clock.js';
import type { MessageRecord, PartRef } from '../../src/core/types.js';
import { OUTBOX, type QueueEntry, type Store } from '../../src/store/types.js';

export interface StoreHarness {
  store: Store;
  clock: ManualClock;
  /** The record TTL the store was built with. */
  messageTtlSeconds: number;
  /** Moves time on by `ms` for everything the store measures time by. */
  advance(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /**
   * The store's TTLs follow the injected clock, so expiry can be asserted by advancing it. Redis
   * expires keys by its own clock; its suite checks the TTLs it sets instead (PTTL).
   */
  ttlFollowsClock: boolean;
}

let seq = 0;

/** A complete record; ids are unique across the run. */
export function makeRecord(overrides: Partial<MessageRecord> = {}): MessageRecord {
  const n = ++seq;
  const createdAt = Date.UTC(2026, 0, 1) + n;
  return {
    id: `01JTEST${String(n).padStart(19, '0')}`,
    channel: 'sms',
    account: 'acme',
    from: 'SLUICE',
    to: '447700900123',
    // Text that looks like the JSON of a version field, quotes, braces, and non-BMP characters.
    body: `hello ${n} "version":99, {"version":7} héllo ✓ 😀`,
    encoding: 'ucs2',
    dataCoding: 8,
    connector: 'c1',
    reference: `ref-${n}`,
    campaignId: null,
    callbackUrl: null,
    createdAt,
    validUntil: createdAt + 86_400_000,
    status: 'queued',
    error: null,
    parts: [
      { index: 0, units: 40, smscId: null, state: 'pending', submittedAt: null, finalAt: null, error: null },
    ],
    attempts: 0,
    events: [
      { status: 'accepted', at: createdAt },
      { status: 'queued', at: createdAt },
    ],
    version: 1,
    ...overrides,
  };
}

function messageIds(entries: readonly QueueEntry[]): string[] {
  return entries.map((e) => e.messageId);
}

/** The entry as handed out again after a reclaim: the same, counted once more, and never with a record. */
function againAs(entry: QueueEntry, deliveries: number): QueueEntry {
  const { record, ...rest } = entry;
  return { ...rest, deliveries };
}

export function describeStoreContract(
  name: string,
  makeStore: () => Promise<StoreHarness>,
  options: ContractOptions,
): void {
  describe(`store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe('messages', () => {
      it('enqueue stores every record and queues each exactly once, on its connector', async () => {
        const [a, b, c] = [makeRecord(), makeRecord(), makeRecord()];
        const d = makeRecord({ connector: 'c2' });
        await store.messages.enqueue([a, b, c, d]);
        expect(await store.messages.getMany([a.id, 'missing', d.id, c.id, b.id])).toEqual([a, null, d, c, b]);
        expect(await store.queue.depth('c1')).toBe(3);
        expect(await store.queue.depth('c2')).toBe(1);
        const first = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        expect(messageIds(first)).toEqual([a.id, b.id, c.id]);
        expect(first.map((e) => e.deliveries)).toEqual([0, 0, 0]);
        expect(new Set(first.map((e) => e.entryId)).size).toBe(3);
        expect(await store.queue.claim('c1', 'w1', 10, 0, 60_000)).toEqual([]);
        expect(messageIds(await store.queue.claim('c2', 'w1', 10, 0, 60_000))).toEqual([d.id]);
      });

      it('hands each connector its own record when two queues give their entries the same id', async () => {
        // One enqueue: Redis gives both stream entries the same id (the same ms, sequence 0).
        const a = makeRecord({ connector: 'c1', to: '447700900001' });
        const b = makeRecord({ connector: 'c2', to: '447700900002' });
        await store.messages.enqueue([a, b]);
        const [one] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        const [two] = await store.queue.claim('c2', 'w1', 10, 0, 60_000);
        expect(one!.messageId).toBe(a.id);
        expect(two!.messageId).toBe(b.id);
        // A copy the store attaches must be the entry's own message's.
        if (one!.record) expect(one!.record).toEqual(a);
        if (two!.record) expect(two!.record).toEqual(b);
      });

      it('waiting names every connector with entries waiting, deferred ones included, and how many', async () => {
        expect(await store.queue.waiting()).toEqual(new Map());
        const [a, b] = [makeRecord(), makeRecord()];
        const old = makeRecord({ connector: 'old:carrier-1' });
        const gone = makeRecord({ connector: 'c3' });
        await store.messages.enqueue([a, b, old, gone]);
        const [ea] = await store.queue.claim('c1', 'w1', 1, 0, 60_000);
        await store.queue.defer('c1', [ea!], h.clock.now() + 60_000);
        const [eg] = await store.queue.claim('c3', 'w1', 1, 0, 60_000);
        await store.queue.ack('c3', [eg!.entryId]);
        expect(await store.queue.waiting()).toEqual(
          new Map([
            ['c1', 2],
            ['old:carrier-1', 1],
          ]),
        );
      });

      it('oldest is when the first entry still in the queue was appended: queued or in flight, not deferred', async () => {
        expect(await store.queue.oldest('c1')).toBeNull();
        const [a, b] = [makeRecord(), makeRecord()];
        await store.messages.enqueue([a]);
        const first = await store.queue.oldest('c1');
        // The store's clock: the manual one for memory, the server's for Redis.
        expect(first).toEqual(expect.any(Number));
        await h.advance(5_000);
        await store.messages.enqueue([b]);
        const [ea] = await store.queue.claim('c1', 'w1', 1, 0, 60_000);
        // In flight, and still the oldest.
        expect(await store.queue.oldest('c1')).toBe(first);
        await store.queue.ack('c1', [ea!.entryId]);
        const second = await store.queue.oldest('c1');
        expect(second).toBeGreaterThanOrEqual(first!);
        const [eb] = await store.queue.claim('c1', 'w1', 1, 0, 60_000);
        await store.queue.defer('c1', [eb!], h.clock.now() + 60_000);
        expect(await store.queue.oldest('c1')).toBeNull();
      });

      it('enqueue rejects a batch naming a stored record, and writes none of it', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const b = makeRecord();
        const again = { ...a, body: 'changed' };
        await expect(store.messages.enqueue([b, again])).rejects.toMatchObject({
          code: 'SLUICE_ERR_STORE_DUPLICATE',
          messageId: a.id,
        });
        expect(await store.messages.getMany([b.id, a.id])).toEqual([null, a]);
        expect(await store.queue.depth('c1')).toBe(1);
        // Alone, and after a record the batch wrote first: the same.
        await expect(store.messages.enqueue([again])).rejects.toMatchObject({ messageId: a.id });
        await expect(store.messages.enqueue([b, makeRecord(), again])).rejects.toMatchObject({
          messageId: a.id,
        });
        expect(await store.messages.getMany([b.id, a.id])).toEqual([null, a]);
        expect(await store.queue.depth('c1')).toBe(1);
        expect(messageIds(await store.queue.claim('c1', 'w1', 10, 0, 60_000))).toEqual([a.id]);
      });

      it('concurrent enqueues stand alone: one naming a stored record fails, the others are queued', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const b = makeRecord();
        const c = makeRecord();
        const d = makeRecord();
        // Issued in one turn: a store that writes them together must still fail only the second.
        const results = await Promise.allSettled([
          store.messages.enqueue([b]),
          store.messages.enqueue([c, { ...a, body: 'again' }]),
          store.messages.enqueue([d]),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect(results[1]).toMatchObject({ reason: { code: 'SLUICE_ERR_STORE_DUPLICATE', messageId: a.id } });
        expect(await store.messages.getMany([a.id, b.id, c.id, d.id])).toEqual([a, b, null, d]);
        expect(messageIds(await store.queue.claim('c1', 'w1', 10, 0, 60_000))).toEqual([a.id, b.id, d.id]);
      });

      it('enqueue rejects a batch that names one id twice, and writes none of it', async () => {
        const a = makeRecord();
        const b = makeRecord();
        await expect(store.messages.enqueue([a, b, { ...a }])).rejects.toMatchObject({
          code: 'SLUICE_ERR_STORE_DUPLICATE',
        });
        expect(await store.messages.getMany([a.id, b.id])).toEqual([null, null]);
        expect(await store.queue.depth('c1')).toBe(0);
      });

      it('enqueue of no records and getMany of no ids do nothing', async () => {
        await store.messages.enqueue([]);
        expect(await store.messages.getMany([])).toEqual([]);
        expect(await store.queue.depth('c1')).toBe(0);
      });

      it('keeps its own copies: changing a record given or returned changes nothing stored', async () => {
        const a = makeRecord();
        const original = structuredClone(a);
        await store.messages.enqueue([a]);
        a.body = 'mutated after enqueue';
        const [read] = await store.messages.getMany([a.id]);
        expect(read).toEqual(original);
        read!.status = 'failed';
        read!.parts[0]!.state = 'failed';
        expect(await store.messages.getMany([a.id])).toEqual([original]);
      });

      it('a record handed out with its entry is what getMany reads, and the caller may change it', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        // The caller's copy changes after the enqueue: the store's does not.
        a.body = 'changed by the caller';
        const [entry] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        const [stored] = await store.messages.getMany([a.id]);
        expect(stored!.body).not.toBe(a.body);
        if (entry!.record) {
          expect(entry!.record).toEqual(stored);
          entry!.record.parts[0]!.smscId = 'changed';
          entry!.record.events.push({ status: 'sending', at: 1 });
          expect(await store.messages.getMany([a.id])).toEqual([stored]);
        }
      });

      it('putFinal stores records without queueing them', async () => {
        const a = makeRecord({ status: 'rejected', error: { code: 'SLUICE_ERR_X', message: 'no' } });
        const b = makeRecord({ status: 'blocked' });
        await store.messages.putFinal([a, b]);
        expect(await store.messages.getMany([a.id, b.id])).toEqual([a, b]);
        expect(await store.queue.depth('c1')).toBe(0);
        expect(await store.queue.claim('c1', 'w1', 10, 0, 60_000)).toEqual([]);
      });

      it('compareAndSet writes only over the expected version', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const next = { ...a, status: 'sending' as const, version: 2 };
        expect(await store.messages.compareAndSet(next, 1)).toBe(true);
        expect(await store.messages.getMany([a.id])).toEqual([next]);
        const stale = { ...a, status: 'failed' as const, version: 2 };
        expect(await store.messages.compareAndSet(stale, 1)).toBe(false);
        expect(await store.messages.getMany([a.id])).toEqual([next]);
        // The body holds "version":99 and {"version":7}: only the record's own version counts.
        expect(await store.messages.compareAndSet({ ...next, version: 100 }, 99)).toBe(false);
        expect(await store.messages.compareAndSet({ ...next, version: 8 }, 7)).toBe(false);
        expect(await store.messages.getMany([a.id])).toEqual([next]);
      });

      it('compareAndSet appends its outbox events with the write, and none when it does not write', async () => {
        const a = makeRecord();
        const b = makeRecord();
        await store.messages.enqueue([a, b]);
        const next = { ...a, status: 'sent' as const, version: 2 };
        // Issued together (one batch on Redis): b's stale write must not append its events.
        const written = await Promise.all([
          store.messages.compareAndSet(next, 1, ['a sent', 'a delivered']),
          store.messages.compareAndSet({ ...b, version: 6 }, 5, ['b failed']),
          store.messages.compareAndSet({ ...b, version: 2 }, 1),
        ]);
        expect(written).toEqual([true, false, true]);
        expect(await store.queue.depth(OUTBOX)).toBe(2);
        const events = await store.queue.claim(OUTBOX, 'poster', 10, 0, 60_000);
        expect(messageIds(events)).toEqual(['a sent', 'a delivered']);
        // The outbox is no connector's queue.
        expect(await store.queue.depth('c1')).toBe(2);
        expect(await store.messages.compareAndSet({ ...next, version: 3 }, 1, ['a again'])).toBe(false);
        expect(await store.queue.claim(OUTBOX, 'poster', 10, 0, 60_000)).toEqual([]);
      });

      it('putFinal appends its outbox events with the records', async () => {
        const a = makeRecord({ status: 'blocked' });
        await store.messages.putFinal([a], [`${a.id} blocked`]);
        expect(await store.messages.getMany([a.id])).toEqual([a]);
        const events = await store.queue.claim(OUTBOX, 'poster', 10, 0, 60_000);
        expect(messageIds(events)).toEqual([`${a.id} blocked`]);
        await store.queue.ack(OUTBOX, [events[0]!.entryId]);
        expect(await store.queue.depth(OUTBOX)).toBe(0);
      });

      it('compareAndSet of a missing record is false and writes nothing', async () => {
        const ghost = makeRecord({ version: 2 });
        expect(await store.messages.compareAndSet(ghost, 1)).toBe(false);
        expect(await store.messages.getMany([ghost.id])).toEqual([null]);
      });

      it('two writers of one version: one wins, the loser re-reads and then succeeds', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const changes: Array<(r: MessageRecord) => void> = [
          (r) => {
            r.status = 'sending';
          },
          (r) => {
            r.attempts = 1;
          },
        ];
        const copies = await store.messages.getMany([a.id, a.id]);
        const results = await Promise.all(
          copies.map((r, i) => {
            changes[i]!(r!);
            r!.version = 2;
            return store.messages.compareAndSet(r!, 1);
          }),
        );
        expect([...results].sort()).toEqual([false, true]);
        const loser = results.indexOf(false);
        const [fresh] = await store.messages.getMany([a.id]);
        expect(fresh!.version).toBe(2);
        changes[loser]!(fresh!);
        fresh!.version = 3;
        expect(await store.messages.compareAndSet(fresh!, 2)).toBe(true);
        const [final] = await store.messages.getMany([a.id]);
        expect(final).toMatchObject({ status: 'sending', attempts: 1, version: 3 });
      });

      it('compareAndSet loses no update among 20 concurrent read-modify-write loops', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const bump = async (): Promise<number> => {
          for (let tries = 1; ; tries++) {
            const [r] = await store.messages.getMany([a.id]);
            const expected = r!.version;
            r!.attempts += 1;
            r!.version = expected + 1;
            if (await store.messages.compareAndSet(r!, expected)) return tries;
          }
        };
        const tries = await Promise.all(Array.from({ length: 20 }, bump));
        const [final] = await store.messages.getMany([a.id]);
        expect(final).toMatchObject({ attempts: 20, version: 21 });
        // Reads and writes interleave, so some writers must have lost a round and retried.
        expect(tries.some((t) => t > 1)).toBe(true);
      });

      /** A claim of message `id` by a request with fingerprint `fp`. */
      const claim = (id: string, fp = 'fp-1') => ({ messageId: id, fingerprint: fp });
      const pending = (id: string, fp = 'fp-1') => ({ messageId: id, fingerprint: fp, pending: true });
      const confirmed = (id: string, fp = 'fp-1') => ({ messageId: id, fingerprint: fp, pending: false });

      it('an idempotency key binds once per account until released', async () => {
        const m = store.messages;
        expect(await m.claimIdempotencyKey('acme', 'order-1', claim('m1'), 60)).toBeNull();
        expect(await m.claimIdempotencyKey('acme', 'order-1', claim('m2', 'fp-2'), 60)).toEqual(
          pending('m1'),
        );
        expect(await m.claimIdempotencyKey('other', 'order-1', claim('m3'), 60)).toBeNull();
        expect(await m.claimIdempotencyKey('acme', 'order-2', claim('m4'), 60)).toBeNull();
        await m.releaseIdempotencyKey('acme', 'order-1', 'm1');
        await m.releaseIdempotencyKey('acme', 'never-bound', 'm1');
        expect(await m.claimIdempotencyKey('acme', 'order-1', claim('m5'), 60)).toBeNull();
        expect(await m.claimIdempotencyKey('acme', 'order-1', claim('m6'), 60)).toEqual(pending('m5'));
        expect(await m.claimIdempotencyKey('other', 'order-1', claim('m7'), 60)).toEqual(pending('m3'));
      });

      it('a confirmed binding reads as confirmed, and a release still forgets it', async () => {
        const m = store.messages;
        expect(await m.claimIdempotencyKey('acme', 'order-3', claim('m1', 'fp-a'), 60)).toBeNull();
        await m.confirmIdempotencyKey('acme', 'order-3', claim('m1', 'fp-a'), 600);
        expect(await m.claimIdempotencyKey('acme', 'order-3', claim('m2'), 60)).toEqual(
          confirmed('m1', 'fp-a'),
        );
        // A confirmation for another claim (a late one, after the key was bound anew) does nothing.
        await m.confirmIdempotencyKey('acme', 'order-3', claim('m9', 'fp-a'), 600);
        expect(await m.claimIdempotencyKey('acme', 'order-3', claim('m2'), 60)).toEqual(
          confirmed('m1', 'fp-a'),
        );
        await m.releaseIdempotencyKey('acme', 'order-3', 'm1');
        expect(await m.claimIdempotencyKey('acme', 'order-3', claim('m2'), 60)).toBeNull();
        await m.confirmIdempotencyKey('acme', 'order-3', claim('m1', 'fp-a'), 600);
        expect(await m.claimIdempotencyKey('acme', 'order-3', claim('m4'), 60)).toEqual(pending('m2'));
      });

      it('a release for another message leaves the binding alone (a late release after re-binding)', async () => {
        const m = store.messages;
        expect(await m.claimIdempotencyKey('acme', 'order-9', claim('new'), 60)).toBeNull();
        await m.releaseIdempotencyKey('acme', 'order-9', 'old');
        expect(await m.claimIdempotencyKey('acme', 'order-9', claim('other'), 60)).toEqual(pending('new'));
        await m.releaseIdempotencyKey('acme', 'order-9', 'new');
        expect(await m.claimIdempotencyKey('acme', 'order-9', claim('other'), 60)).toBeNull();
      });

      it('settling a pending key confirms it when its message was stored, else releases it', async () => {
        const m = store.messages;
        const stored = makeRecord();
        // The request's writes went through (though it failed after): confirmed.
        expect(await m.claimIdempotencyKey('acme', 's1', claim(stored.id), 60)).toBeNull();
        await m.enqueue([stored]);
        await m.settleIdempotencyKey('acme', 's1', claim(stored.id), 600);
        expect(await m.claimIdempotencyKey('acme', 's1', claim('again'), 60)).toEqual(confirmed(stored.id));
        // They did not: released, free for the retry.
        expect(await m.claimIdempotencyKey('acme', 's2', claim('never-stored'), 60)).toBeNull();
        await m.settleIdempotencyKey('acme', 's2', claim('never-stored'), 600);
        expect(await m.claimIdempotencyKey('acme', 's2', claim('retry'), 60)).toBeNull();
        // Only a key still pending for this very claim: another claim's, or a confirmed one, stay.
        await m.settleIdempotencyKey('acme', 's2', claim('never-stored'), 600);
        expect(await m.claimIdempotencyKey('acme', 's2', claim('x'), 60)).toEqual(pending('retry'));
        await m.settleIdempotencyKey('acme', 's1', claim(stored.id), 600);
        expect(await m.claimIdempotencyKey('acme', 's1', claim('x'), 60)).toEqual(confirmed(stored.id));
        await m.settleIdempotencyKey('acme', 'never-bound', claim('m1'), 600);
        expect(await m.claimIdempotencyKey('acme', 'never-bound', claim('m1'), 60)).toBeNull();
      });

      it('concurrent claims of one idempotency key: exactly one binds it', async () => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.messages.claimIdempotencyKey('acme', 'k', claim(`m${i}`, `fp-${i}`), 60),
          ),
        );
        const winners = results.filter((r) => r === null);
        expect(winners).toHaveLength(1);
        const i = results.indexOf(null);
        expect(results.filter((r) => r !== null)).toEqual(Array(9).fill(pending(`m${i}`, `fp-${i}`)));
      });
    });

    describe('queue', () => {
      it('hands entries out first in, first out, at most count at a time', async () => {
        const batch1 = [makeRecord(), makeRecord(), makeRecord(), makeRecord(), makeRecord()];
        const batch2 = [makeRecord(), makeRecord()];
        await store.messages.enqueue(batch1);
        await store.messages.enqueue(batch2);
        const all = [...batch1, ...batch2].map((r) => r.id);
        expect(messageIds(await store.queue.claim('c1', 'w1', 3, 0, 60_000))).toEqual(all.slice(0, 3));
        expect(messageIds(await store.queue.claim('c1', 'w2', 10, 0, 60_000))).toEqual(all.slice(3));
      });

      it('a claim with nothing to hand out and blockMs 0 returns at once with none', async () => {
        expect(await store.queue.claim('nothing-here', 'w1', 10, 0, 60_000)).toEqual([]);
        expect(await store.queue.depth('nothing-here')).toBe(0);
      });

      it('a blocking claim resolves when an entry arrives', async () => {
        const waiting = store.queue.claim('c1', 'w1', 10, 10_000, 60_000);
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const got = await waiting;
        expect(messageIds(got)).toEqual([a.id]);
        expect(got[0]!.deliveries).toBe(0);
      });

      it('a blocking claim that sees nothing resolves with none after blockMs', async () => {
        const waiting = store.queue.claim('c1', 'w1', 10, 50, 60_000);
        await h.advance(50);
        expect(await waiting).toEqual([]);
      });

      it('two blocked consumers: each arrival goes to exactly one of them', async () => {
        const p1 = store.queue.claim('c1', 'w1', 10, 10_000, 60_000);
        const p2 = store.queue.claim('c1', 'w2', 10, 10_000, 60_000);
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const first = await Promise.race([p1, p2]);
        expect(messageIds(first)).toEqual([a.id]);
        const b = makeRecord();
        await store.messages.enqueue([b]);
        const both = await Promise.all([p1, p2]);
        expect(both.map(messageIds).sort()).toEqual([[a.id], [b.id]].sort());
      });

      it('parallel claims never hand out the same entry twice', async () => {
        const records = Array.from({ length: 6 }, () => makeRecord());
        await store.messages.enqueue(records);
        const [x, y] = await Promise.all([
          store.queue.claim('c1', 'w1', 4, 0, 60_000),
          store.queue.claim('c1', 'w2', 4, 0, 60_000),
        ]);
        expect(x!.length + y!.length).toBe(6);
        expect(new Set([...messageIds(x!), ...messageIds(y!)])).toEqual(new Set(records.map((r) => r.id)));
      });

      it('entries not acked within reclaimIdleMs are handed out again, deliveries counted', async () => {
        const [a, b] = [makeRecord(), makeRecord()];
        await store.messages.enqueue([a, b]);
        const first = await store.queue.claim('c1', 'crashed', 10, 0, 60_000);
        expect(first.map((e) => e.deliveries)).toEqual([0, 0]);
        await h.advance(30_000);
        expect(await store.queue.claim('c1', 'w2', 10, 0, 60_000)).toEqual([]);
        await h.advance(30_000);
        const second = await store.queue.claim('c1', 'w2', 10, 0, 60_000);
        expect(second).toEqual(first.map((e) => againAs(e, 1)));
        // Handed out again just now: not idle, so not reclaimed again yet.
        expect(await store.queue.claim('c1', 'w3', 10, 0, 60_000)).toEqual([]);
        await h.advance(60_000);
        const third = await store.queue.claim('c1', 'w3', 1, 0, 60_000);
        expect(third).toEqual([againAs(first[0]!, 2)]);
      });

      it('keep: an entry its holder keeps is not reclaimed, nor counted again; others are', async () => {
        const [a, b] = [makeRecord(), makeRecord()];
        await store.messages.enqueue([a, b]);
        const [ea, eb] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        await h.advance(50_000);
        expect(await store.queue.keep('c1', 'w1', [ea!.entryId])).toBe(1);
        await h.advance(10_000);
        // b has been idle 60 s and goes to w2; a was kept 10 s ago and stays w1's.
        expect(await store.queue.claim('c1', 'w2', 10, 0, 60_000)).toEqual([againAs(eb!, 1)]);
        // b is w2's now: w1's keep leaves it alone, and so its idle time runs on.
        expect(await store.queue.keep('c1', 'w1', [eb!.entryId])).toBe(0);
        expect(await store.queue.keep('c1', 'w1', [])).toBe(0);
        await h.advance(50_000);
        // a's 60 s since the keep are up: reclaimed, handed out once before (the keep did not count).
        expect(await store.queue.claim('c1', 'w3', 10, 0, 60_000)).toEqual([againAs(ea!, 1)]);
        await h.advance(10_000);
        expect(messageIds(await store.queue.claim('c1', 'w3', 10, 0, 60_000))).toEqual([b.id]);
        // Acked: nothing left to keep.
        await store.queue.ack('c1', [ea!.entryId, eb!.entryId]);
        expect(await store.queue.keep('c1', 'w3', [ea!.entryId, eb!.entryId])).toBe(0);
        expect(await store.queue.depth('c1')).toBe(0);
      });

      it('reclaimed entries come before new ones, within count', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        await store.queue.claim('c1', 'crashed', 10, 0, 60_000);
        const [b, c] = [makeRecord(), makeRecord()];
        await store.messages.enqueue([b, c]);
        await h.advance(60_000);
        const got = await store.queue.claim('c1', 'w2', 2, 0, 60_000);
        expect(got.map((e) => [e.messageId, e.deliveries])).toEqual([
          [a.id, 1],
          [b.id, 0],
        ]);
        expect(messageIds(await store.queue.claim('c1', 'w2', 2, 0, 60_000))).toEqual([c.id]);
      });

      it('ack removes entries for good', async () => {
        const [a, b] = [makeRecord(), makeRecord()];
        await store.messages.enqueue([a, b]);
        const [ea, eb] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        await store.queue.ack('c1', [ea!.entryId]);
        expect(await store.queue.depth('c1')).toBe(1);
        await h.advance(60_000);
        expect(await store.queue.claim('c1', 'w2', 10, 0, 60_000)).toEqual([againAs(eb!, 1)]);
        await store.queue.ack('c1', [eb!.entryId, ea!.entryId]);
        await store.queue.ack('c1', []);
        expect(await store.queue.depth('c1')).toBe(0);
        await h.advance(60_000);
        expect(await store.queue.claim('c1', 'w3', 10, 0, 0)).toEqual([]);
      });

      it('defer hands an entry back, to be claimed once notBefore is reached', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const [e] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        await store.queue.defer('c1', [e!], h.clock.now() + 1000);
        expect(await store.queue.depth('c1')).toBe(1);
        // Not pending any more: even a reclaim of everything idle finds nothing.
        expect(await store.queue.claim('c1', 'w2', 10, 0, 0)).toEqual([]);
        await h.advance(999);
        expect(await store.queue.claim('c1', 'w2', 10, 0, 60_000)).toEqual([]);
        await h.advance(1);
        const again = await store.queue.claim('c1', 'w2', 10, 0, 60_000);
        // Back as a new entry: a deliberate retry, not a possible duplicate.
        expect(again).toEqual([{ entryId: expect.any(String), messageId: a.id, deliveries: 0 }]);
        expect(again[0]!.entryId).not.toBe(e!.entryId);
        await store.queue.ack('c1', [again[0]!.entryId]);
        expect(await store.queue.depth('c1')).toBe(0);
      });

      it('deferred entries return in notBefore order, behind entries already queued', async () => {
        const [a, b, c] = [makeRecord(), makeRecord(), makeRecord()];
        await store.messages.enqueue([a, b, c]);
        const [ea, eb] = await store.queue.claim('c1', 'w1', 2, 0, 60_000);
        const now = h.clock.now();
        await store.queue.defer('c1', [ea!], now + 200);
        await store.queue.defer('c1', [eb!], now + 100);
        await h.advance(200);
        expect(messageIds(await store.queue.claim('c1', 'w1', 10, 0, 60_000))).toEqual([c.id, b.id, a.id]);
      });

      it('defer of an entry acked meanwhile does not bring it back', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const [e] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        await store.queue.ack('c1', [e!.entryId]);
        await store.queue.defer('c1', [e!], h.clock.now());
        expect(await store.queue.depth('c1')).toBe(0);
        expect(await store.queue.claim('c1', 'w1', 10, 0, 60_000)).toEqual([]);
      });

      it('a blocked claim wakes when a deferred entry falls due', async () => {
        const a = makeRecord();
        await store.messages.enqueue([a]);
        const [e] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
        await store.queue.defer('c1', [e!], h.clock.now() + 50);
        const waiting = store.queue.claim('c1', 'w1', 10, 10_000, 60_000);
        await h.advance(50);
        expect(messageIds(await waiting)).toEqual([a.id]);
      });

      it('depth counts queued, handed-out and deferred entries, per connector', async () => {
        const records = [makeRecord(), makeRecord(), makeRecord(), makeRecord({ connector: 'c2' })];
        await store.messages.enqueue(records);
        const [e1, e2] = await store.queue.claim('c1', 'w1', 2, 0, 60_000);
        await store.queue.defer('c1', [e1!], h.clock.now() + 1000);
        expect(await store.queue.depth('c1')).toBe(3);
        await store.queue.ack('c1', [e2!.entryId]);
        expect(await store.queue.depth('c1')).toBe(2);
        expect(await store.queue.depth('c2')).toBe(1);
      });

      it('close ends a blocked claim with no entries', async () => {
        const waiting = store.queue.claim('c1', 'w1', 10, 60_000, 60_000);
        await store.close();
        expect(await waiting).toEqual([]);
      });
    });

    describe('correlation', () => {
      const ref0 = { messageId: '01JCORR:with-colon', part: 0 };
      const ref1 = { messageId: '01JCORR:with-colon', part: 1 };

      it('maps every spelling of an SMSC id to its part, per connector', async () => {
        expect(
          await store.correlation.correlate(
            'c1',
            [
              { smscIds: ['0A1B', '2587'], ref: ref0 },
              { smscIds: ['FF'], ref: ref1 },
            ],
            3600,
          ),
        ).toEqual([null, null]);
        expect(await store.correlation.getCorrelations('c1', ['2587', 'missing', 'FF', '0A1B'])).toEqual([
          ref0,
          null,
          ref1,
          ref0,
        ]);
        expect(await store.correlation.getCorrelations('c2', ['0A1B'])).toEqual([null]);
        expect(await store.correlation.getCorrelations('c1', [])).toEqual([]);
        expect(await store.correlation.correlate('c1', [], 3600)).toEqual([]);
        // Reading does not consume.
        expect(await store.correlation.getCorrelations('c1', ['FF'])).toEqual([ref1]);
        // Written again, to another part: the last write wins.
        await store.correlation.correlate('c1', [{ smscIds: ['FF'], ref: ref0 }], 3600);
        expect(await store.correlation.getCorrelations('c1', ['FF'])).toEqual([ref0]);
      });

      it('a stashed receipt is no part, and the correlation of its id takes it', async () => {
        const receipt = 'id:0A1B sub:001 dlvrd:001 submit date:2601011200 stat:DELIVRD err:000 text:hi';
        expect(await store.correlation.stashReceipt('c1', ['0A1B', '2587'], receipt, 3600)).toBeNull();
        expect(await store.correlation.stashReceipt('c2', ['0A1B'], 'other', 3600)).toBeNull();
        expect(await store.correlation.getCorrelations('c1', ['0A1B', '2587'])).toEqual([null, null]);
        // Taken by the entry whose ids hold it (the first spelling that does), once.
        expect(
          await store.correlation.correlate(
            'c1',
            [
              { smscIds: ['missing'], ref: ref1 },
              { smscIds: ['X', '0A1B'], ref: ref0 },
            ],
            3600,
          ),
        ).toEqual([null, receipt]);
        expect(await store.correlation.getCorrelations('c1', ['0A1B', 'X', 'missing'])).toEqual([
          ref0,
          ref0,
          ref1,
        ]);
        expect(await store.correlation.correlate('c1', [{ smscIds: ['0A1B'], ref: ref0 }], 3600)).toEqual([
          null,
        ]);
        expect(await store.correlation.correlate('c2', [{ smscIds: ['0A1B'], ref: ref1 }], 3600)).toEqual([
          'other',
        ]);
      });

      it('stashReceipt writes nothing when one of the ids points at a part, and says which', async () => {
        await store.correlation.correlate('c1', [{ smscIds: ['FF'], ref: ref1 }], 3600);
        expect(await store.correlation.stashReceipt('c1', ['AA', 'FF'], 'r', 3600)).toEqual([null, ref1]);
        // Nothing stashed under the other id either, and the correlation is as it was.
        expect(await store.correlation.correlate('c1', [{ smscIds: ['AA'], ref: ref0 }], 3600)).toEqual([
          null,
        ]);
        expect(await store.correlation.getCorrelations('c1', ['FF', 'AA'])).toEqual([ref1, ref0]);
        // A second receipt for a stashed id replaces the first.
        expect(await store.correlation.stashReceipt('c1', ['BB'], 'first', 3600)).toBeNull();
        expect(await store.correlation.stashReceipt('c1', ['BB'], 'second', 3600)).toBeNull();
        expect(await store.correlation.correlate('c1', [{ smscIds: ['BB'], ref: ref0 }], 3600)).toEqual([
          'second',
        ]);
      });

      it('dropStashed deletes that receipt where it is still stashed, and nothing else', async () => {
        await store.correlation.stashReceipt('c1', ['A', 'B', 'E'], 'r', 3600);
        await store.correlation.stashReceipt('c1', ['D'], 'other', 3600);
        await store.correlation.correlate('c1', [{ smscIds: ['C'], ref: ref1 }], 3600);
        expect(await store.correlation.correlate('c1', [{ smscIds: ['A'], ref: ref0 }], 3600)).toEqual(['r']);
        await store.correlation.dropStashed('c1', ['B', 'C', 'D', 'missing'], 'r');
        await store.correlation.dropStashed('c2', ['E'], 'r');
        await store.correlation.dropStashed('c1', [], 'r');
        expect(await store.correlation.getCorrelations('c1', ['A', 'C'])).toEqual([ref0, ref1]);
        expect(
          await store.correlation.correlate(
            'c1',
            [
              { smscIds: ['B'], ref: ref1 },
              { smscIds: ['D'], ref: ref1 },
              { smscIds: ['E'], ref: ref1 },
            ],
            3600,
          ),
        ).toEqual([null, 'other', 'r']);
      });

      it('a stashed receipt is taken once, even by concurrent correlations', async () => {
        await store.correlation.stashReceipt('c1', ['77'], 'r', 3600);
        const takes = await Promise.all(
          Array.from({ length: 5 }, () =>
            store.correlation.correlate('c1', [{ smscIds: ['77'], ref: ref0 }], 3600),
          ),
        );
        expect(takes.flat().filter((r) => r !== null)).toEqual(['r']);
      });

      it('a receipt and its correlation in either order: applied once, by one side or the other', async () => {
        // Either the stash finds the part or the correlation takes the stash: never both, never
        // neither. Issued together, in one order and then the other.
        for (let i = 0; i < 4; i++) {
          const id = `race-${i}`;
          const correlate = () => store.correlation.correlate('c1', [{ smscIds: [id], ref: ref0 }], 3600);
          const stash = () => store.correlation.stashReceipt('c1', [`${id}-other-spelling`, id], 'r', 3600);
          let taken: Array<string | null>;
          let found: Array<PartRef | null> | null;
          if (i % 2 === 0) [taken, found] = await Promise.all([correlate(), stash()]);
          else [found, taken] = await Promise.all([stash(), correlate()]);
          expect(taken).toEqual(i % 2 === 0 ? [null] : ['r']);
          expect(found).toEqual(i % 2 === 0 ? [null, ref0] : null);
        }
      });
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    // Registered only where expiry follows the injected clock; Redis checks its TTLs with PTTL.
    if (options.ttlFollowsClock) {
      describe('expiry by the clock', () => {
        it('a record expires messageTtlSeconds after it was written; compareAndSet keeps the TTL', async () => {
          const ttlMs = h.messageTtlSeconds * 1000;
          // Valid until a day before now: the TTL is what keeps it.
          const a = makeRecord({ validUntil: h.clock.now() - 86_400_000 });
          const f = makeRecord({ status: 'rejected' });
          await store.messages.enqueue([a]);
          await store.messages.putFinal([f]);
          await h.advance(ttlMs - 1000);
          expect(await store.messages.compareAndSet({ ...a, version: 2 }, 1)).toBe(true);
          await h.advance(999);
          expect(await store.messages.getMany([a.id, f.id])).toEqual([{ ...a, version: 2 }, f]);
          await h.advance(1);
          expect(await store.messages.getMany([a.id, f.id])).toEqual([null, null]);
          expect(await store.messages.compareAndSet({ ...a, version: 3 }, 2)).toBe(false);
        });

        it('a record valid past its TTL is kept until a day after its validity ends', async () => {
          const validMs = h.messageTtlSeconds * 1000 * 3;
          const a = makeRecord({ validUntil: h.clock.now() + validMs });
          await store.messages.enqueue([a]);
          await h.advance(validMs + 86_400_000 - 1);
          expect(await store.messages.getMany([a.id])).toEqual([a]);
          await h.advance(1);
          expect(await store.messages.getMany([a.id])).toEqual([null]);
        });

        it('an idempotency key expires after its TTL: pending, then confirmed', async () => {
          const m = store.messages;
          const c = (id: string) => ({ messageId: id, fingerprint: 'fp' });
          expect(await m.claimIdempotencyKey('acme', 'k', c('m1'), 10)).toBeNull();
          await h.advance(9_999);
          expect(await m.claimIdempotencyKey('acme', 'k', c('m2'), 10)).toMatchObject({ messageId: 'm1' });
          await h.advance(1);
          expect(await m.claimIdempotencyKey('acme', 'k', c('m3'), 10)).toBeNull();
          await m.confirmIdempotencyKey('acme', 'k', c('m3'), 20);
          await h.advance(19_999);
          expect(await m.claimIdempotencyKey('acme', 'k', c('m4'), 10)).toMatchObject({ messageId: 'm3' });
          await h.advance(1);
          expect(await m.claimIdempotencyKey('acme', 'k', c('m5'), 10)).toBeNull();
        });

        it('correlations and stashed receipts expire after their TTL', async () => {
          const ref = { messageId: 'm1', part: 0 };
          await store.correlation.correlate('c1', [{ smscIds: ['A'], ref }], 30);
          await store.correlation.stashReceipt('c1', ['B'], 'r', 20);
          await h.advance(19_999);
          expect(await store.correlation.getCorrelations('c1', ['A'])).toEqual([ref]);
          await h.advance(1);
          expect(await store.correlation.correlate('c1', [{ smscIds: ['B'], ref }], 30)).toEqual([null]);
          expect(await store.correlation.getCorrelations('c1', ['A'])).toEqual([ref]);
          await h.advance(10_000);
          expect(await store.correlation.getCorrelations('c1', ['A'])).toEqual([null]);
        });
      });
    }
  });
}
