/**
 * The embedded store: everything in this process's memory. Not durable (a restart loses it) and
 * not shared (another process sees nothing), which is what the single-process default wants. It
 * keeps the Redis store's semantics so that one contract suite holds for both: records are kept
 * as JSON (a caller never shares an object with the store), TTLs follow the injected clock, and
 * the queue has the same claim / reclaim / defer behaviour as a Redis Stream consumer group.
 */
import { type Clock, systemClock, type TimerHandle } from '../../clock.js';
import type { MessageRecord, PartRef } from '../../core/types.js';
import { type Logger, silentLogger } from '../../logger.js';
import { Fifo } from '../../util/fifo.js';
import { DuplicateMessageError, ttlSeconds } from '../errors.js';
import { encodeBinding, parseBinding } from '../idempotency.js';
import { retentionSeconds } from '../retention.js';
import {
  type CorrelationStore,
  type IdempotencyBinding,
  type IdempotencyClaim,
  type MessageStore,
  OUTBOX,
  type QueueEntry,
  type QueueStore,
  type Store,
} from '../types.js';
import { MemoryOptOutStore } from './optouts.js';
import { MemoryRateLimitStore } from './ratelimit.js';
import { ExpiringMap, MinHeap } from './structures.js';

export interface MemoryStoreOptions {
  /** How long a message record is kept after it was written by enqueue or putFinal. */
  messageTtlSeconds: number;
  clock?: Clock;
  logger?: Logger;
}

/** A stored record: its JSON, and its version so compare-and-set need not parse the JSON. */
interface StoredRecord {
  json: string;
  version: number;
}

/** Two strings as one map key, unambiguously whatever characters they hold. */
function pairKey(a: string, b: string): string {
  return `${a.length}:${a}${b}`;
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly messages: MemoryMessageStore;
  readonly queue: MemoryQueueStore;
  readonly correlation: MemoryCorrelationStore;
  readonly optouts = new MemoryOptOutStore();
  readonly limits = new MemoryRateLimitStore();

  constructor(options: MemoryStoreOptions) {
    const clock = options.clock ?? systemClock;
    const logger = options.logger ?? silentLogger;
    this.queue = new MemoryQueueStore(clock, logger);
    this.messages = new MemoryMessageStore(
      clock,
      ttlSeconds('messageTtlSeconds', options.messageTtlSeconds) * 1000,
      this.queue,
    );
    this.correlation = new MemoryCorrelationStore(clock);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.queue.close();
  }
}

export class MemoryMessageStore implements MessageStore {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #queue: MemoryQueueStore;
  readonly #records = new ExpiringMap<StoredRecord>();
  readonly #idempotency = new ExpiringMap<string>();

  constructor(clock: Clock, ttlMs: number, queue: MemoryQueueStore) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#queue = queue;
  }

  /** Records held, including expired ones not swept yet. */
  get recordCount(): number {
    return this.#records.size;
  }

  async enqueue(records: readonly MessageRecord[]): Promise<void> {
    const now = this.#clock.now();
    // Check and serialise everything before writing anything: a rejected call writes none.
    const seen = new Set<string>();
    const stored: StoredRecord[] = [];
    for (const r of records) {
      if (seen.has(r.id) || this.#records.get(r.id, now) !== undefined) throw new DuplicateMessageError(r.id);
      seen.add(r.id);
      stored.push({ json: JSON.stringify(r), version: r.version });
    }
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const expiresAt = now + retentionSeconds(this.#ttlMs / 1000, r.validUntil, now) * 1000;
      this.#records.set(r.id, stored[i]!, expiresAt, now);
      this.#queue.append(r.connector, r.id);
    }
    this.#queue.notifyAppended();
  }

  async putFinal(records: readonly MessageRecord[], outbox: readonly string[] = []): Promise<void> {
    const now = this.#clock.now();
    const expiresAt = now + this.#ttlMs;
    for (const r of records) {
      this.#records.set(r.id, { json: JSON.stringify(r), version: r.version }, expiresAt, now);
    }
    this.#toOutbox(outbox);
  }

  async getMany(ids: readonly string[]): Promise<Array<MessageRecord | null>> {
    const now = this.#clock.now();
    return ids.map((id) => {
      const stored = this.#records.get(id, now);
      // A fresh object per read: callers mutate what they get (update.ts bumps the version).
      return stored === undefined ? null : (JSON.parse(stored.json) as MessageRecord);
    });
  }

  async compareAndSet(
    record: MessageRecord,
    expectedVersion: number,
    outbox: readonly string[] = [],
  ): Promise<boolean> {
    const now = this.#clock.now();
    const stored = this.#records.get(record.id, now);
    if (stored === undefined || stored.version !== expectedVersion) return false;
    if (!this.#records.replace(record.id, { json: JSON.stringify(record), version: record.version }, now))
      return false;
    this.#toOutbox(outbox);
    return true;
  }

  #toOutbox(events: readonly string[]): void {
    if (events.length === 0) return;
    for (const e of events) this.#queue.append(OUTBOX, e);
    this.#queue.notifyAppended();
  }

  async claimIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    pendingSeconds: number,
  ): Promise<IdempotencyBinding | null> {
    const now = this.#clock.now();
    const k = pairKey(account, key);
    const bound = this.#idempotency.get(k, now);
    if (bound !== undefined) return parseBinding(bound);
    const expiresAt = now + ttlSeconds('pendingSeconds', pendingSeconds) * 1000;
    this.#idempotency.set(k, encodeBinding(claim, true), expiresAt, now);
    return null;
  }

  async confirmIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    ttl: number,
  ): Promise<void> {
    const now = this.#clock.now();
    const k = pairKey(account, key);
    const expiresAt = now + ttlSeconds('ttlSeconds', ttl) * 1000;
    if (this.#idempotency.get(k, now) === encodeBinding(claim, true))
      this.#idempotency.set(k, encodeBinding(claim, false), expiresAt, now);
  }

  async releaseIdempotencyKey(account: string, key: string, messageId: string): Promise<void> {
    const k = pairKey(account, key);
    const bound = this.#idempotency.get(k, this.#clock.now());
    if (bound !== undefined && parseBinding(bound).messageId === messageId) this.#idempotency.delete(k);
  }

  async settleIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    ttl: number,
  ): Promise<void> {
    const now = this.#clock.now();
    if (this.#records.get(claim.messageId, now) !== undefined) {
      return this.confirmIdempotencyKey(account, key, claim, ttl);
    }
    const k = pairKey(account, key);
    if (this.#idempotency.get(k, now) === encodeBinding(claim, true)) this.#idempotency.delete(k);
  }
}

/** A stream entry: queued (consumer null) or handed out and pending. */
interface MemoryEntry {
  entryId: string;
  messageId: string;
  /** Times handed out so far. */
  deliveries: number;
  consumer: string | null;
  /** Clock time of the last hand-out. */
  deliveredAt: number;
  /** Clock time it was appended (a deferred entry that falls due is appended again). */
  appendedAt: number;
}

interface Deferred {
  messageId: string;
  notBefore: number;
}

interface Waiter {
  wake(): void;
}

/** One connector's queue: the memory image of a Stream, its consumer group and its deferred zset. */
class ConnectorQueue {
  /** Every entry in the stream (queued or pending), by entry id: what XDEL removes from. */
  readonly entries = new Map<string, MemoryEntry>();
  /** Entries never handed out, in arrival order; may hold entries since removed (skipped). */
  readonly fresh = new Fifo<MemoryEntry>();
  /**
   * Entries handed out and not acked nor deferred, ordered by last hand-out (a reclaim or a keep
   * moves the entry to the end), so the reclaim scan stops at the first one not idle long enough.
   */
  readonly pending = new Map<string, MemoryEntry>();
  /** messageId → notBefore, like the Redis zset (member → score). */
  readonly deferred = new Map<string, number>();
  /** The deferred entries by notBefore; an item is stale when `deferred` has another time for it. */
  readonly due = new MinHeap<Deferred>(
    (a, b) => a.notBefore < b.notBefore || (a.notBefore === b.notBefore && a.messageId < b.messageId),
  );
  readonly waiters = new Set<Waiter>();

  /** The earliest notBefore of a live deferred entry, dropping stale heap items on the way. */
  nextDue(): number | undefined {
    for (let top = this.due.peek(); top !== undefined; top = this.due.peek()) {
      if (this.deferred.get(top.messageId) === top.notBefore) return top.notBefore;
      this.due.pop();
    }
    return undefined;
  }
}

export class MemoryQueueStore implements QueueStore {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #queues = new Map<string, ConnectorQueue>();
  /** Queues appended to since the last notifyAppended(), so waiters wake once per batch. */
  readonly #touched = new Set<ConnectorQueue>();
  #nextId = 0;
  #closed = false;

  constructor(clock: Clock, logger: Logger) {
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Appends a new entry (enqueue's half); call notifyAppended() once the batch is in. */
  append(connector: string, messageId: string): void {
    const q = this.#queue(connector);
    this.#appendTo(q, messageId);
    this.#touched.add(q);
  }

  notifyAppended(): void {
    for (const q of this.#touched) wakeAll(q);
    this.#touched.clear();
  }

  async claim(
    connector: string,
    consumer: string,
    count: number,
    blockMs: number,
    reclaimIdleMs: number,
  ): Promise<QueueEntry[]> {
    const q = this.#queue(connector);
    let out = this.#take(q, consumer, count, reclaimIdleMs);
    if (out.length > 0 || blockMs <= 0 || this.#closed) return out;
    const deadline = this.#clock.now() + blockMs;
    this.#logger.debug({ connector, consumer, blockMs }, 'claim: waiting for entries');
    for (;;) {
      // Registered synchronously (no await before it), so a caller that advances a manual clock
      // right after calling claim() already finds the timers.
      await this.#wait(q, deadline);
      if (this.#closed) return [];
      out = this.#take(q, consumer, count, reclaimIdleMs);
      if (out.length > 0 || this.#clock.now() >= deadline) return out;
    }
  }

  async ack(connector: string, entryIds: readonly string[]): Promise<void> {
    const q = this.#queues.get(connector);
    if (q === undefined) return;
    for (const id of entryIds) {
      q.entries.delete(id);
      q.pending.delete(id);
    }
  }

  async keep(connector: string, consumer: string, entryIds: readonly string[]): Promise<number> {
    const q = this.#queues.get(connector);
    if (q === undefined) return 0;
    const now = this.#clock.now();
    let kept = 0;
    for (const id of entryIds) {
      const entry = q.pending.get(id);
      if (entry === undefined || entry.consumer !== consumer) continue;
      entry.deliveredAt = now;
      // To the end: `pending` stays ordered by the time each entry's idleness began.
      q.pending.delete(id);
      q.pending.set(id, entry);
      kept++;
    }
    return kept;
  }

  async defer(connector: string, entries: readonly QueueEntry[], notBefore: number): Promise<void> {
    const q = this.#queues.get(connector);
    if (q === undefined) return;
    let moved = false;
    for (const e of entries) {
      // Only an entry still in the queue is scheduled: one acked meanwhile (by whoever reclaimed
      // it) stays done, as in the Redis script.
      if (!q.entries.delete(e.entryId)) continue;
      q.pending.delete(e.entryId);
      q.deferred.set(e.messageId, notBefore);
      q.due.push({ messageId: e.messageId, notBefore });
      moved = true;
    }
    // A waiting claim re-arms its timer for the new earliest notBefore.
    if (moved) wakeAll(q);
  }

  async depth(connector: string): Promise<number> {
    const q = this.#queues.get(connector);
    return q === undefined ? 0 : q.entries.size + q.deferred.size;
  }

  async oldest(connector: string): Promise<number | null> {
    const q = this.#queues.get(connector);
    if (q === undefined) return null;
    // Entries are kept in the order they were appended.
    for (const entry of q.entries.values()) return entry.appendedAt;
    return null;
  }

  async waiting(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const connector of this.#queues.keys()) {
      const n = await this.depth(connector);
      if (n > 0) out.set(connector, n);
    }
    return out;
  }

  /** Wakes every waiting claim, which then resolves with no entries. */
  close(): void {
    this.#closed = true;
    for (const q of this.#queues.values()) wakeAll(q);
  }

  #queue(connector: string): ConnectorQueue {
    let q = this.#queues.get(connector);
    if (q === undefined) {
      q = new ConnectorQueue();
      this.#queues.set(connector, q);
    }
    return q;
  }

  #appendTo(q: ConnectorQueue, messageId: string): void {
    const entry: MemoryEntry = {
      entryId: `${++this.#nextId}-0`,
      messageId,
      deliveries: 0,
      consumer: null,
      deliveredAt: 0,
      appendedAt: this.#clock.now(),
    };
    q.entries.set(entry.entryId, entry);
    q.fresh.push(entry);
  }

  /** claim() without the wait: due deferred entries back in, then reclaimed ones, then fresh ones. */
  #take(q: ConnectorQueue, consumer: string, count: number, reclaimIdleMs: number): QueueEntry[] {
    const now = this.#clock.now();
    // Re-checked on every call: a manual clock moves without firing anything here.
    for (let due = q.nextDue(); due !== undefined && due <= now; due = q.nextDue()) {
      const { messageId } = q.due.pop()!;
      q.deferred.delete(messageId);
      this.#appendTo(q, messageId);
    }
    const out: QueueEntry[] = [];
    if (count <= 0) return out;
    if (reclaimIdleMs >= 0) {
      const reclaimed: MemoryEntry[] = [];
      for (const entry of q.pending.values()) {
        if (out.length + reclaimed.length >= count || now - entry.deliveredAt < reclaimIdleMs) break;
        reclaimed.push(entry);
      }
      for (const entry of reclaimed) {
        q.pending.delete(entry.entryId);
        out.push(this.#handOut(q, entry, consumer, now));
      }
    }
    while (out.length < count) {
      const entry = q.fresh.shift();
      if (entry === undefined) break;
      // Skip entries removed (acked) before they were ever handed out.
      if (q.entries.get(entry.entryId) !== entry) continue;
      out.push(this.#handOut(q, entry, consumer, now));
    }
    return out;
  }

  #handOut(q: ConnectorQueue, entry: MemoryEntry, consumer: string, now: number): QueueEntry {
    const handedOut: QueueEntry = {
      entryId: entry.entryId,
      messageId: entry.messageId,
      deliveries: entry.deliveries,
    };
    entry.deliveries++;
    entry.consumer = consumer;
    entry.deliveredAt = now;
    q.pending.set(entry.entryId, entry);
    return handedOut;
  }

  /**
   * Resolves on the first of: an append or defer to `q`, the earliest deferred entry becoming
   * due, the deadline, close(). Timers come from the injected clock, so a manual clock's
   * advance() fires them and nothing polls.
   */
  #wait(q: ConnectorQueue, deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const now = this.#clock.now();
      const timers: TimerHandle[] = [];
      const waiter: Waiter = {
        wake: () => {
          for (const t of timers) t.cancel();
          q.waiters.delete(waiter);
          resolve();
        },
      };
      q.waiters.add(waiter);
      if (this.#closed) {
        waiter.wake();
        return;
      }
      timers.push(this.#clock.setTimeout(waiter.wake, deadline - now));
      const due = q.nextDue();
      if (due !== undefined && due < deadline) timers.push(this.#clock.setTimeout(waiter.wake, due - now));
    });
  }
}

function wakeAll(q: ConnectorQueue): void {
  // Copy: each wake() deletes itself from the set.
  for (const w of [...q.waiters]) w.wake();
}

/** What one connector's SMSC id holds: the part it points at, or a receipt that came first. */
type Slot = { ref: PartRef } | { stashed: string };

export class MemoryCorrelationStore implements CorrelationStore {
  readonly #clock: Clock;
  readonly #slots = new ExpiringMap<Slot>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  async correlate(
    connector: string,
    entries: ReadonlyArray<{ smscIds: readonly string[]; ref: PartRef }>,
    ttl: number,
  ): Promise<Array<string | null>> {
    const now = this.#clock.now();
    const expiresAt = now + ttlSeconds('ttlSeconds', ttl) * 1000;
    return entries.map(({ smscIds, ref }) => {
      const slot: Slot = { ref: { messageId: ref.messageId, part: ref.part } };
      let taken: string | null = null;
      for (const id of smscIds) {
        const key = pairKey(connector, id);
        const old = this.#slots.get(key, now);
        if (taken === null && old !== undefined && 'stashed' in old) taken = old.stashed;
        this.#slots.set(key, slot, expiresAt, now);
      }
      return taken;
    });
  }

  async getCorrelations(connector: string, smscIds: readonly string[]): Promise<Array<PartRef | null>> {
    const now = this.#clock.now();
    return smscIds.map((id) => this.#ref(pairKey(connector, id), now));
  }

  async stashReceipt(
    connector: string,
    smscIds: readonly string[],
    receipt: string,
    ttl: number,
  ): Promise<Array<PartRef | null> | null> {
    const now = this.#clock.now();
    const refs = smscIds.map((id) => this.#ref(pairKey(connector, id), now));
    if (refs.some((r) => r !== null)) return refs;
    const expiresAt = now + ttlSeconds('ttlSeconds', ttl) * 1000;
    const slot: Slot = { stashed: receipt };
    for (const id of smscIds) this.#slots.set(pairKey(connector, id), slot, expiresAt, now);
    return null;
  }

  async dropStashed(connector: string, smscIds: readonly string[], receipt: string): Promise<void> {
    const now = this.#clock.now();
    for (const id of smscIds) {
      const key = pairKey(connector, id);
      const slot = this.#slots.get(key, now);
      if (slot !== undefined && 'stashed' in slot && slot.stashed === receipt) this.#slots.delete(key);
    }
  }

  /** A copy of the part the key points at; null when it is absent or holds a stashed receipt. */
  #ref(key: string, now: number): PartRef | null {
    const slot = this.#slots.get(key, now);
    return slot !== undefined && 'ref' in slot
      ? { messageId: slot.ref.messageId, part: slot.ref.part }
      : null;
  }
}
