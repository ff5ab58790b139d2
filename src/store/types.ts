/**
 * Everything durable, as interfaces. Two implementations: `memory/` (one process, the embedded
 * default, not durable) and `redis/` (ioredis, Lua, Streams). One contract suite runs against
 * both (test/store/contract.ts). Every method may be called concurrently from many callers and
 * many processes; batch methods exist so that a caller never needs one awaited round trip per
 * message.
 */
import type { MessageRecord, PartRef } from '../core/types.js';
import type { OptOutStore } from '../policy/optouts.js';
import type { RateLimitStore } from '../policy/ratelimit.js';

/**
 * The queue of status events waiting to be posted to their messages' callbackUrl: a QueueStore
 * queue like a connector's (claim, ack, defer), whose entries are written by compareAndSet and
 * putFinal in the same step as the record they describe, so no transition's event is lost to a
 * crash in between. Its entries' messageId is the event (core/callbacks.ts). No connector can
 * have this name (configured names start with a letter or digit).
 */
export const OUTBOX = '~callbacks';

/** One queued message, as handed to a dispatcher. */
export interface QueueEntry {
  /** Opaque id of the queue entry (a Redis Stream id), used to ack or defer it. */
  entryId: string;
  messageId: string;
  /** How many times this entry was handed out before (0 the first time; reclaimed ones > 0). */
  deliveries: number;
  /**
   * The message's record, when the store can vouch without reading it that it is what getMany
   * would return: the entry's first hand-out, in the process that enqueued it (nothing changes a
   * record between its enqueue and its first dispatch). The caller's to change. Absent: read it.
   */
  record?: MessageRecord;
}

/** What a request binds its Idempotency-Key to. */
export interface IdempotencyClaim {
  readonly messageId: string;
  /** The request's fingerprint: a retry must be the same request. */
  readonly fingerprint: string;
}

/** An Idempotency-Key's binding as found. */
export interface IdempotencyBinding {
  readonly messageId: string;
  /** null: bound before fingerprints were kept. */
  readonly fingerprint: string | null;
  /** The request that bound it is still being accepted. */
  readonly pending: boolean;
}

export interface MessageStore {
  /**
   * Writes each record and appends its id to the queue of `record.connector`, atomically per
   * call: when the promise resolves every record is stored and queued; when it rejects none is.
   * Records must not exist yet.
   */
  enqueue(records: readonly MessageRecord[]): Promise<void>;

  /**
   * Writes records that go to no queue (rejected or blocked at intake), for GET to find, and
   * appends `outbox` to the OUTBOX queue in the same step.
   */
  putFinal(records: readonly MessageRecord[], outbox?: readonly string[]): Promise<void>;

  getMany(ids: readonly string[]): Promise<Array<MessageRecord | null>>;

  /**
   * Replaces the record only if the stored one still has `expectedVersion`; the caller has
   * already bumped `record.version`. Returns false (and writes nothing) on a version mismatch or
   * a missing record: the caller reads again and reapplies its change. When it writes, it
   * appends `outbox` to the OUTBOX queue in the same atomic step.
   */
  compareAndSet(record: MessageRecord, expectedVersion: number, outbox?: readonly string[]): Promise<boolean>;

  /**
   * Idempotency, first step: binds `key` of `account` to the claim, as pending, for
   * `pendingSeconds` (long enough to accept the message; a crash in between leaves the key
   * refused only that long). Returns null when this call bound it, else the binding found.
   */
  claimIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    pendingSeconds: number,
  ): Promise<IdempotencyBinding | null>;

  /**
   * Second step, once the message is accepted: the pending binding becomes a confirmed one, kept
   * `ttlSeconds`. Only while the key is still pending for this claim's message.
   */
  confirmIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    ttlSeconds: number,
  ): Promise<void>;

  /**
   * Forgets a key bound by a claim whose message was then not accepted: only while it is still
   * bound to `messageId` (pending or confirmed), so a release that comes late (the key expired
   * and was bound anew) cannot drop another message's binding.
   */
  releaseIdempotencyKey(account: string, key: string, messageId: string): Promise<void>;

  /**
   * The request that claimed `key` failed, and its message may have been stored all the same (a
   * write that timed out): while the key is still pending for this claim, it is confirmed (as
   * confirmIdempotencyKey) when the claim's message exists, and released when it does not. One
   * atomic step, run after the request's own writes: a retry with the key then gets the message
   * if there is one, and a fresh start if not.
   */
  settleIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    ttlSeconds: number,
  ): Promise<void>;
}

export interface QueueStore {
  /**
   * Hands out up to `count` entries of `connector`'s queue to `consumer`: first entries handed
   * out earlier (to any consumer) and not acked nor deferred for `reclaimIdleMs` (a crashed
   * process's), then new ones, waiting up to `blockMs` for some to arrive. An entry handed out
   * stays pending until ack() or defer(). A store may look for idle entries only every so often
   * (Redis: every tenth of `reclaimIdleMs`, at most 5 s), so one can wait that much longer.
   */
  claim(
    connector: string,
    consumer: string,
    count: number,
    blockMs: number,
    reclaimIdleMs: number,
  ): Promise<QueueEntry[]>;

  /** Done with these entries: they leave the queue. */
  ack(connector: string, entryIds: readonly string[]): Promise<void>;

  /**
   * The holder's heartbeat: `consumer` is still at work on these entries (a slow SMSC, a rate
   * limit), so their idle time starts again and no other consumer reclaims them meanwhile. An
   * entry acked, deferred, or already reclaimed by another consumer is left alone. Returns how
   * many were kept. The delivery count does not change.
   */
  keep(connector: string, consumer: string, entryIds: readonly string[]): Promise<number>;

  /**
   * Hands these entries back to the queue, to be claimed again no earlier than `notBefore`
   * (ms since the epoch): a retry after throttling or a lost bind. Atomic per entry: an entry is
   * never both gone and not scheduled.
   */
  defer(connector: string, entries: readonly QueueEntry[], notBefore: number): Promise<void>;

  /** Entries waiting (queued, deferred, or handed out and not yet acked). */
  depth(connector: string): Promise<number>;

  /**
   * When the oldest entry in the queue (queued, or handed out and not yet acked; not deferred)
   * was appended, in ms since the epoch; null when there is none. A deferred entry that falls
   * due is appended again. How long the queue has been stuck, when it is.
   */
  oldest(connector: string): Promise<number | null>;

  /**
   * Every connector whose queue has entries waiting, with their depth: at start, the queues of
   * connectors no longer configured (removed or renamed) are found this way, not left to lapse.
   */
  waiting(): Promise<Map<string, number>>;
}

export interface CorrelationStore {
  /**
   * Remembers that the SMSC ids (every spelling of one id: see core's smscIdForms) point at a
   * message part, for `ttlSeconds`, and in the same step takes a receipt stashed under any of them
   * (it arrived before this): per entry, that receipt (its stashed string), or null. Correlation
   * and stash share each id's slot, so a receipt is either stashed before this and taken here, or
   * finds the part when it stashes (stashReceipt): never lost between the two.
   */
  correlate(
    connector: string,
    entries: ReadonlyArray<{ smscIds: readonly string[]; ref: PartRef }>,
    ttlSeconds: number,
  ): Promise<Array<string | null>>;

  /** The part each SMSC id points at, or null (a stashed receipt is not a part). */
  getCorrelations(connector: string, smscIds: readonly string[]): Promise<Array<PartRef | null>>;

  /**
   * A receipt that arrived before its submit_sm_resp was recorded: kept under each spelling of
   * its id for `ttlSeconds`, as an opaque string, for correlate to take. All or nothing: when an id
   * points at a part by now, nothing is stashed and the part of each id (null for the others) is
   * returned instead, for the caller to apply the receipt itself. null: stashed.
   */
  stashReceipt(
    connector: string,
    smscIds: readonly string[],
    receipt: string,
    ttlSeconds: number,
  ): Promise<Array<PartRef | null> | null>;

  /**
   * Deletes this stashed receipt from those of the ids where it still is: its copies under the
   * other spellings of its id, once correlate has taken it under one, so that a later part whose
   * SMSC id happens to be one of them does not take it too. Correlations and other receipts
   * stay.
   */
  dropStashed(connector: string, smscIds: readonly string[], receipt: string): Promise<void>;
}

export interface Store {
  readonly kind: 'memory' | 'redis';
  readonly messages: MessageStore;
  readonly queue: QueueStore;
  readonly correlation: CorrelationStore;
  /** The do-not-contact list and its audit log. */
  readonly optouts: OptOutStore;
  /** The rate limits' shared state (GCRA), read through a TokenLeaser. */
  readonly limits: RateLimitStore;
  /** Resolves when the store answers (for /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
