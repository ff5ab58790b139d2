/**
 * One connector's dispatcher: claims queued messages while its binds have room, submits every
 * part not yet answered, records each part's SMSC id, and only then acknowledges the queue entry.
 *
 * - A part that already has an SMSC id is never submitted again, so a message reclaimed after a
 *   crash resends only what the SMSC had not confirmed (at-least-once; the resent parts are
 *   counted as possible duplicates).
 * - Retryable outcomes (ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RSYSERR, timeout, lost bind) hand the
 *   entry back to the queue with backoff; permanent ones fail the part, and so the message.
 * - A message past its validity expires instead of being sent.
 * - The policy: an opted-out recipient's message is blocked (the list is checked again here: a
 *   STOP may come while the message waits); outside the recipient's quiet hours the message goes
 *   back to the queue until the window opens; the sender's and the connector's rate limits are
 *   taken in parts, across instances. A message waits for them in this process for a few seconds
 *   at most (in order, per sender); a longer wait goes back to the queue, and one that outlasts
 *   the sender's maximum queue age expires.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { planMessage } from '../codec/index.js';
import { normalizeSmscId } from '../codec/receipt.js';
import type { ConnectorConfig, SenderConfig } from '../config/types.js';
import {
  SluiceError,
  SmppClosedError,
  SmppNotBoundError,
  SmppStatusError,
  SmppTimeoutError,
  SmppWindowFullError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RateLimit } from '../policy/ratelimit.js';
import type { SmppClient } from '../smpp/client.js';
import { CommandStatus, statusName } from '../smpp/constants.js';
import type { PduInput, Tlvs } from '../smpp/pdu/types.js';
import { retentionSeconds } from '../store/retention.js';
import type { QueueEntry, Store } from '../store/types.js';
import { TickBatcher } from '../util/batcher.js';
import { planOptionsFor } from './intake.js';
import { block, isFinalPart, partFinal, partSubmitted, transition } from './lattice.js';
import type { FlowPolicy } from './policy.js';
import type { ReceiptHandler } from './receipts.js';
import { type HoldReason, isFinal, type MessageError, type MessageRecord, type PartRef } from './types.js';
import { updateRecord } from './update.js';

export interface DispatcherOptions {
  connector: ConnectorConfig;
  client: SmppClient;
  store: Store;
  receipts: ReceiptHandler;
  senders: ReadonlyMap<string, SenderConfig>;
  policy: FlowPolicy;
  maxParts: number;
  correlationTtlSeconds: number;
  /** Unique per process: the queue's consumer name. */
  consumer: string;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Messages claimed per read at most. Default 256. */
  batch?: number;
  /** ms a claim waits for new entries. Default 500. */
  blockMs?: number;
  /** ms after which an entry handed out and never acknowledged is reclaimed. Default 30,000. */
  reclaimIdleMs?: number;
  /** Told of every status a message takes here, once, after it is written; and of every hold. */
  onStatus?: (record: MessageRecord) => void;
  /** Retry backoff: first delay and ceiling, ms. Defaults 1,000 and 60,000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Longest a message waits in this process for rate-limit tokens before going back to the queue. Default 5,000. */
  localWaitMs?: number;
  /** Messages held at once (sending or waiting for tokens). Default 4 × batch. */
  maxInHand?: number;
}

/** What the policy says of a message about to be sent. */
type Admission =
  | { go: true }
  | { go: false; expire: MessageError }
  | { go: false; holdUntil: number; reason: HoldReason };

type PartOutcome =
  | { ok: true; smscId: string; at: number }
  | { ok: false; retry: boolean; error: string; at: number };

const EMPTY = Buffer.alloc(0);

/** The SMSC's "slow down" pause: its first length, and the most it grows to. */
const PAUSE_MIN_MS = 100;
const PAUSE_MAX_MS = 5_000;

export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #name: string;
  readonly #log: Logger;
  readonly #inflight = new Set<Promise<void>>();
  /**
   * Messages in hand here: message id → queue entry id. Every third of the reclaim time the
   * entries are kept (QueueStore.keep), so that a message held long (a slow SMSC keeps the window
   * full, a rate limit holds it) is not reclaimed by another process as if this one had died, and
   * sent twice. Should a keep come late, the queue may hand the entry to this process again: it is
   * skipped here for the same reason.
   */
  readonly #inHand = new Map<string, string>();
  #keeping: TimerHandle | null = null;
  #keepEnded = false;
  /** Parts waiting in this process for each sender's tokens: how long a newcomer would wait. */
  readonly #waitingParts = new Map<string, number>();
  /**
   * Per sender, when the last message sent back to the queue for its rate limit is due to go:
   * the next one held is due after it, by its own parts at the sender's rate. So a backlog of N
   * parts comes back spread over N / rate seconds, each message about once, instead of all of it
   * every few seconds (a 100,000-message campaign on a 2/s long code would otherwise cost cores
   * of requeues to send two a second).
   */
  readonly #heldUntil = new Map<string, number>();
  /** Resolves the claim loop's wait for room when a message in hand is done. */
  #roomFreed: (() => void) | null = null;
  /** The rate-limit waits under way, cut short by stop(). */
  readonly #waits = new Set<AbortController>();
  /**
   * While the SMSC answers ESME_RTHROTTLED or ESME_RMSGQFUL ("slow down"), this process sends it
   * nothing until #pause is over: a pause of 100 ms, doubling (to 5 s at most) when the SMSC says
   * so again after one, and shrinking by 10 ms with each accepted submit. The throttled messages
   * themselves go back to the queue with their own backoff; the pause holds the ones behind them.
   */
  #pause: { done: Promise<void>; end: () => void } | null = null;
  #pauseMs = 0;
  #stopped = false;
  #loop: Promise<void> | null = null;
  /** Acknowledgements of one turn go out as one command. */
  readonly #acks: TickBatcher<string, undefined>;
  /** SMSC ids recorded in one turn: one write of the correlations, one take of early receipts. */
  readonly #correlations: TickBatcher<Correlation, undefined>;
  #onStop!: () => void;
  /** Resolves when stop() is called: races every wait of the loop. */
  readonly #stopping = new Promise<void>((resolve) => {
    this.#onStop = resolve;
  });

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#name = options.connector.name;
    this.#log = options.logger.child({ connector: this.#name });
    this.#acks = new TickBatcher<string, undefined>(async (ids) => {
      await options.store.queue.ack(this.#name, ids);
      return ids.map(() => undefined);
    });
    this.#correlations = new TickBatcher((items) => this.#correlateBatch(items));
  }

  start(): void {
    if (this.#loop === null) this.#scheduleKeep();
    this.#loop ??= this.#run();
  }

  /** Stops claiming and waits for every message in hand to be recorded and acknowledged. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#onStop();
    for (const w of this.#waits) w.abort();
    this.#endPause();
    await this.#loop;
    // Kept until the last is done: draining a slow window may outlast the reclaim time.
    await Promise.allSettled([...this.#inflight]);
    this.#keepEnded = true;
    this.#keeping?.cancel();
    this.#keeping = null;
  }

  async #run(): Promise<void> {
    const { client, store, consumer } = this.#o;
    const batch = this.#o.batch ?? 256;
    const maxInHand = this.#o.maxInHand ?? batch * 4;
    while (!this.#stopped) {
      if (client.capacity === 0) {
        await Promise.race([client.waitForCapacity(), this.#stopping]);
        continue;
      }
      const room = maxInHand - this.#inflight.size;
      if (room <= 0) {
        // Messages waiting for rate-limit tokens hold no window slot: without this bound the loop
        // would claim the whole queue into memory.
        await Promise.race([new Promise<void>((resolve) => (this.#roomFreed = resolve)), this.#stopping]);
        continue;
      }
      let entries: QueueEntry[];
      try {
        entries = await store.queue.claim(
          this.#name,
          consumer,
          Math.min(batch, client.capacity, room),
          this.#o.blockMs ?? 500,
          this.#o.reclaimIdleMs ?? 30_000,
        );
        // Reclaimed from this very process while still in hand: the handling under way acks it.
        if (this.#inHand.size > 0) entries = entries.filter((e) => !this.#inHand.has(e.messageId));
        if (entries.length === 0) continue;
        const records = await this.#records(entries);
        // The opt-out list once for the batch: a STOP may have come since intake.
        const live = records.map((r) => (r && !isFinal(r.status) ? r : null));
        const blocked = await this.#o.policy.blockedBy(live.filter((r): r is MessageRecord => r !== null));
        let k = 0;
        for (let i = 0; i < entries.length; i++) {
          const record = live[i] ?? null;
          const scope = record ? (blocked[k++] ?? null) : null;
          this.#track(
            entries[i]!,
            scope && record
              ? this.#block(entries[i]!, record, scope)
              : this.#handle(entries[i]!, records[i] ?? null),
          );
        }
      } catch (err) {
        // The store is down: wait a moment and try again; nothing was taken from the queue.
        this.#log.error({ err }, 'queue read failed');
        await this.#sleep(1_000);
      }
    }
  }

  /** Each entry's record: the one the store handed out with it, else read (one call for the rest). */
  async #records(entries: readonly QueueEntry[]): Promise<Array<MessageRecord | null>> {
    const records: Array<MessageRecord | null> = entries.map((e) => e.record ?? null);
    const missing: number[] = [];
    for (let i = 0; i < entries.length; i++) if (!entries[i]!.record) missing.push(i);
    if (missing.length === 0) return records;
    const read = await this.#o.store.messages.getMany(missing.map((i) => entries[i]!.messageId));
    for (let k = 0; k < missing.length; k++) records[missing[k]!] = read[k] ?? null;
    return records;
  }

  #track(entry: QueueEntry, p: Promise<void>): void {
    const { messageId } = entry;
    this.#inflight.add(p);
    this.#inHand.set(messageId, entry.entryId);
    const done = () => {
      this.#inflight.delete(p);
      this.#inHand.delete(messageId);
      const freed = this.#roomFreed;
      this.#roomFreed = null;
      freed?.();
    };
    p.then(done, (err: unknown) => {
      done();
      this.#log.error({ err, messageId }, 'dispatch failed');
    });
  }

  /** The recipient opted out while the message waited: it ends blocked, and leaves the queue. */
  async #block(entry: QueueEntry, record: MessageRecord, scope: string): Promise<void> {
    const written = await updateRecord(this.#o.store.messages, record.id, record, (r) =>
      block(r, this.#o.clock.now(), scope),
    );
    if (written?.status === 'blocked') {
      this.#o.metrics.blocked.inc({ reason: 'opted_out', stage: 'dispatch' });
      this.#o.metrics.messages.inc({ status: 'blocked', connector: this.#name, sender: written.from });
      this.#o.onStatus?.(written);
    }
    await this.#acks.add(entry.entryId);
  }

  async #handle(entry: QueueEntry, record: MessageRecord | null): Promise<void> {
    const { clock } = this.#o;
    if (!record || isFinal(record.status)) {
      // Gone, or already finished (a reclaimed duplicate entry): nothing to send. A record lives
      // until a day after its validity, so one gone was deleted or evicted: said, not hidden.
      if (!record)
        this.#log.warn({ messageId: entry.messageId }, 'queue entry without its message record: dropped');
      await this.#acks.add(entry.entryId);
      return;
    }
    const now = clock.now();
    if (now >= record.validUntil) {
      await this.#expire(record, now);
      await this.#acks.add(entry.entryId);
      return;
    }
    const admission = await this.#admit(record);
    if (!admission.go) {
      if ('expire' in admission) {
        await this.#expire(record, clock.now(), admission.expire);
        await this.#acks.add(entry.entryId);
      } else {
        await this.#hold(entry, record, admission.reason, admission.holdUntil);
      }
      return;
    }
    // A receipt may come before the SMSC id is written down: the receipt handler waits for this.
    const recorded = settleable();
    try {
      await this.#send(entry, record, now, recorded);
    } catch (err) {
      recorded.reject(err);
      throw err;
    }
  }

  /**
   * Submits the parts, records the outcome (then settles `recorded`), and acknowledges or defers
   * the entry.
   */
  async #send(entry: QueueEntry, record: MessageRecord, now: number, recorded: Settleable): Promise<void> {
    const { store, metrics, clock, receipts } = this.#o;
    const outcomes = await this.#submitParts(record, entry, (part, smscId) =>
      receipts.expect(smscId, { messageId: record.id, part }, recorded.promise),
    );
    const retry = [...outcomes.values()].some((o) => !o.ok && o.retry);
    const before = record.status;
    const sentAt = clock.now();
    if (record.attempts === 0 && outcomes.size > 0) {
      metrics.queueAgeSeconds.observe({ connector: this.#name }, (sentAt - queuedSince(record)) / 1000);
    }
    const change = (r: MessageRecord): boolean => {
      let changed = transition(r, 'sending', now);
      if (outcomes.size > 0) {
        r.attempts += 1;
        changed = true;
      }
      if (r.reason || r.heldUntil) {
        // Whatever held it is over.
        r.reason = null;
        r.heldUntil = null;
        changed = true;
      }
      for (const [index, o] of outcomes) {
        if (o.ok) changed = partSubmitted(r, index, o.smscId, o.at) || changed;
        else if (!o.retry) changed = partFinal(r, index, 'failed', o.at, o.error) || changed;
      }
      return changed;
    };
    // Again after a failure from a fresh read: the failed attempt changed `record` in place.
    const written = await this.#persist(record.id, 'record', (attempt) =>
      updateRecord(store.messages, record.id, attempt === 0 ? record : null, change),
    );
    if (written && written.status !== before) this.#o.onStatus?.(written);
    const submitted = [...outcomes].filter((e): e is [number, Extract<PartOutcome, { ok: true }>] => e[1].ok);
    const correlate: Array<[number, { smscId: string }]> = [...submitted];
    if (entry.deliveries > 0) {
      // Reclaimed: the earlier holder may have died after recording SMSC ids and before writing
      // their correlations. Written again (the same keys), so that the receipts still match, and
      // those that came meanwhile, stashed as early, are applied now.
      for (const p of (written ?? record).parts) {
        if (p.smscId !== null && !isFinalPart(p.state) && !outcomes.has(p.index))
          correlate.push([p.index, { smscId: p.smscId }]);
      }
    }
    if (correlate.length > 0)
      await this.#persist(record.id, 'correlations', () => this.#correlate(record, correlate));
    recorded.resolve(written);
    if (written && isFinal(written.status)) {
      metrics.messages.inc({ status: written.status, connector: this.#name, sender: written.from });
    } else if (written && written.status === 'sent' && submitted.length > 0) {
      metrics.messages.inc({ status: 'sent', connector: this.#name, sender: written.from });
    }
    if (retry && written && !isFinal(written.status)) {
      const notBefore = clock.now() + this.#backoff(written.attempts);
      await this.#persist(record.id, 'defer', () => store.queue.defer(this.#name, [entry], notBefore));
    } else {
      await this.#persist(record.id, 'ack', () => this.#acks.add(entry.entryId));
    }
  }

  /**
   * A store write for a message already submitted, tried until it lands. Giving up would turn
   * an answered submit into a resend: the entry, never acknowledged, is reclaimed and sent again.
   * So a store that fails for a while (Redis restarting, a command timeout) only delays it; the
   * message stays in hand meanwhile, and the heartbeat keeps it from being reclaimed. Once the
   * dispatcher is stopping, a failure ends it (another process reclaims the entry later).
   */
  async #persist<T>(messageId: string, what: string, write: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write(attempt);
      } catch (err) {
        if (this.#stopped) throw err;
        this.#log.warn({ err, messageId, what, attempt }, 'store write after a submit failed; trying again');
        await this.#sleep(Math.min(5_000, 100 * 2 ** attempt));
      }
    }
  }

  /**
   * Quiet hours, then the sender's and the connector's rate limits for the parts still to send.
   * Resolves once the message may go, or says to hold it (back to the queue until an instant) or
   * to expire it.
   */
  async #admit(record: MessageRecord): Promise<Admission> {
    const { policy, clock, senders, metrics } = this.#o;
    const sender = senders.get(record.from);
    if (!sender) return { go: true };
    const now = clock.now();
    const release = policy.quietHoursRelease(record, sender, now);
    if (release === null || release > record.validUntil) {
      return {
        go: false,
        expire: {
          code: 'SLUICE_ERR_QUIET_HOURS',
          message: "the recipient's sending window does not open before the message's validity ends",
        },
      };
    }
    if (release > now) return { go: false, holdUntil: release, reason: 'quiet_hours' };

    const parts = record.parts.filter((p) => p.smscId === null && !isFinalPart(p.state)).length;
    const senderLimit = policy.senderLimit(sender.address);
    const connectorLimit = policy.connectorLimit(this.#name);
    if (parts === 0 || (!senderLimit && !connectorLimit)) return { go: true };
    const demands = [];
    if (senderLimit) demands.push({ key: `sender:${sender.address}`, limit: senderLimit, n: parts });
    if (connectorLimit) demands.push({ key: `connector:${this.#name}`, limit: connectorLimit, n: parts });
    const waiting = this.#waitingParts.get(sender.address) ?? 0;
    // A message back from a hold at its time waits here for its turn: sent back again, it would
    // go behind everything held since.
    const returning = record.reason === 'rate_limit' && (record.heldUntil ?? Infinity) <= now;
    // A newcomer with nobody waiting here for the sender: no held message is back for its turn
    // (while a backlog is worked off, those due come back a little before their turn and wait
    // here), so the turns handed out before belong to messages since sent, expired, or taken by
    // another process, and hold nothing up any more.
    if (!returning && waiting === 0) this.#heldUntil.delete(sender.address);
    if (policy.leaser.tryTakeAll(demands).ok) return { go: true };

    // Over a limit: the message waits, and how long it has waited counts. The wait is counted
    // under the sender's limit when it has one (the usual reason), else the connector's.
    const limitName = senderLimit ? 'sender' : 'connector';
    const deadline = queuedSince(record) + sender.maxQueueAgeSeconds * 1000;
    if (now >= deadline) return this.#admitExpired(sender);
    // Held no later than this: it goes then, or expires (its queue age, or its validity).
    const latest = Math.min(deadline, record.validUntil);
    const localWaitMs = this.#o.localWaitMs ?? 5_000;
    if (senderLimit && !returning) {
      // The parts already waiting here go first: when they alone outlast the local wait, this one
      // goes back to the queue at once, to come back about when its turn is near: behind the
      // parts waiting here and behind the messages held before it.
      const aheadMs = ((waiting + parts) / senderLimit.perSecond) * 1000;
      if (aheadMs > localWaitMs) {
        metrics.throttledWaits.inc({ limit: limitName, where: 'queue' });
        const holdUntil = this.#turn(
          sender.address,
          senderLimit,
          parts,
          now + aheadMs - localWaitMs / 2,
          latest,
        );
        return { go: false, holdUntil, reason: 'rate_limit' };
      }
    }
    this.#waitingParts.set(sender.address, waiting + parts);
    const abort = new AbortController();
    // Admitted when the parts ahead take up to localWaitMs at the nominal rate; allowed twice
    // that, since the rate a process gets can be less (a lease short, the limit shared).
    const timer = clock.setTimeout(
      () => abort.abort(),
      Math.min(2 * localWaitMs, deadline - now, record.validUntil - now),
    );
    this.#waits.add(abort);
    const taken: typeof demands = [];
    try {
      for (const d of demands) {
        await policy.leaser.take(d.key, d.limit, d.n, abort.signal);
        taken.push(d);
      }
      // A wait for the limit, not for the store's next lease of tokens (a round trip, which a
      // process that was idle, or has spent its lease, always makes): counted only when it took
      // THROTTLED_WAIT_MIN_MS or more.
      if (clock.now() - now >= THROTTLED_WAIT_MIN_MS)
        metrics.throttledWaits.inc({ limit: limitName, where: 'in_process' });
      return { go: true };
    } catch {
      metrics.throttledWaits.inc({ limit: limitName, where: 'in_process' });
      // The sender's tokens, when the connector's did not come in time, go to the next message.
      for (const d of taken) policy.leaser.release(d.key, d.n);
      const later = clock.now();
      if (later >= deadline) return this.#admitExpired(sender);
      if (later >= record.validUntil) return { go: false, expire: VALIDITY_ENDED };
      metrics.throttledWaits.inc({ limit: limitName, where: 'queue' });
      // The rate fell behind the turns handed out (the limit shared with another process or
      // connector, a restart, a bind lost): back in the line, not round again in 5 s.
      const holdUntil = senderLimit
        ? this.#turn(sender.address, senderLimit, parts, later + jitter(localWaitMs / 2), latest)
        : Math.min(latest, later + jitter(localWaitMs));
      return { go: false, holdUntil, reason: 'rate_limit' };
    } finally {
      timer.cancel();
      this.#waits.delete(abort);
      const left = (this.#waitingParts.get(sender.address) ?? parts) - parts;
      if (left > 0) this.#waitingParts.set(sender.address, left);
      else this.#waitingParts.delete(sender.address);
    }
  }

  /**
   * The time a message of `parts` held for its sender's limit comes back: no earlier than
   * `earliest`, and after the turn of the one held before it, by its parts at the rate. One whose
   * turn falls after `latest` comes back then (to go if it can, or expire) and takes no turn.
   */
  #turn(sender: string, limit: RateLimit, parts: number, earliest: number, latest: number): number {
    const last = this.#heldUntil.get(sender) ?? 0;
    const due = Math.round(Math.max(earliest, last + (parts / limit.perSecond) * 1000));
    if (due <= latest) this.#heldUntil.set(sender, due);
    return Math.min(latest, due);
  }

  #admitExpired(sender: SenderConfig): Admission {
    return {
      go: false,
      expire: {
        code: 'SLUICE_ERR_QUEUE_AGE',
        message: `waited longer than the sender's maximum queue age (${sender.maxQueueAgeSeconds} s) for its rate limit`,
      },
    };
  }

  /** Back to the queue until `until`, the record saying why (GET shows it). */
  async #hold(entry: QueueEntry, record: MessageRecord, reason: HoldReason, until: number): Promise<void> {
    const { store, clock, metrics } = this.#o;
    const written = await updateRecord(store.messages, record.id, record, (r) => {
      if (isFinal(r.status) || (r.reason === reason && r.heldUntil === until)) return false;
      r.reason = reason;
      r.heldUntil = until;
      // Time held by quiet hours is not time waited in the queue.
      if (reason === 'quiet_hours') r.eligibleAt = until;
      return true;
    });
    if (reason === 'quiet_hours') metrics.quietHoursHolds.inc();
    // Not a new status, but news to whoever follows the message: it waits, and why.
    if (written?.reason === reason) this.#o.onStatus?.(written);
    await store.queue.defer(this.#name, [entry], Math.max(until, clock.now()));
  }

  /** Submits every part without an SMSC id; outcomes by part index. Each SMSC id is told as it comes. */
  async #submitParts(
    record: MessageRecord,
    entry: QueueEntry,
    onAnswered: (part: number, smscId: string) => void,
  ): Promise<Map<number, PartOutcome>> {
    const { connector, senders, maxParts, metrics } = this.#o;
    const sender = senders.get(record.from);
    const pending = record.parts.filter((p) => p.smscId === null && !isFinalPart(p.state));
    const outcomes = new Map<number, PartOutcome>();
    if (pending.length === 0) return outcomes;
    // Planned again with the configuration of now. Changed since the message was accepted (its
    // sender gone, another concatenation, fewer parts allowed), the text may no longer plan as the
    // parts it was accepted as: it fails, rather than go out cut short or come back for ever.
    const unsendable = (why: string) => {
      const at = this.#o.clock.now();
      for (const p of pending)
        outcomes.set(p.index, { ok: false, retry: false, error: `SLUICE_ERR_PLAN ${why}`, at });
      this.#log.error({ messageId: record.id, why }, 'message no longer plans as accepted');
      return outcomes;
    };
    if (!sender) return unsendable(`sender ${record.from} is no longer configured`);
    let plan: ReturnType<typeof planMessage>;
    try {
      plan = planMessage(record.body, {
        ...planOptionsFor(
          {
            encoding: record.plan?.encoding ?? 'auto',
            smartEncoding: record.plan?.smartEncoding ?? sender.smartEncoding,
          },
          sender,
          connector,
          maxParts,
        ),
        reference: concatReference(record.id, connector.concatenation),
      });
    } catch (err) {
      return unsendable(err instanceof Error ? err.message : String(err));
    }
    if (plan.parts.length !== record.parts.length) {
      return unsendable(
        `it now plans as ${plan.parts.length} parts, not the ${record.parts.length} it was accepted as`,
      );
    }
    if (entry.deliveries > 0) {
      metrics.duplicateSubmits.inc({ connector: this.#name, reason: 'reclaimed' }, pending.length);
    }
    // Alphanumeric senders travel with TON 5 / NPI 0 (§5.2.5), whatever the connector's default.
    const source = sender.type === 'alphanumeric' ? { ton: 5, npi: 0 } : connector.source;
    const results = await Promise.all(
      pending.map((part) => {
        const planned = plan.parts[part.index];
        if (!planned) {
          return Promise.resolve<PartOutcome>({
            ok: false,
            retry: false,
            error: 'SLUICE_ERR_PLAN part missing',
            at: this.#o.clock.now(),
          });
        }
        let tlvs: Tlvs | undefined;
        if (connector.concatenation === 'payload') tlvs = { message_payload: Buffer.from(planned.bytes) };
        else if (planned.sar) {
          tlvs = {
            sar_msg_ref_num: planned.sar.ref,
            sar_total_segments: planned.sar.total,
            sar_segment_seqnum: planned.sar.seq,
          };
        }
        const fields: PduInput<'submit_sm'> = {
          source_addr_ton: source.ton,
          source_addr_npi: source.npi,
          source_addr: record.from,
          dest_addr_ton: connector.destination.ton,
          dest_addr_npi: connector.destination.npi,
          destination_addr: record.to,
          esm_class: planned.udhi ? 0x40 : 0,
          registered_delivery: connector.registeredDelivery ? 1 : 0,
          data_coding: plan.dataCoding,
          // A copy: the plan's bytes are views into a buffer the next plan reuses.
          short_message: connector.concatenation === 'payload' ? EMPTY : Buffer.from(planned.bytes),
          ...(tlvs ? { tlvs } : {}),
        };
        return this.#submitOne(record.id, fields).then((o) => {
          if (o.ok) onAnswered(part.index, o.smscId);
          return o;
        });
      }),
    );
    for (let i = 0; i < pending.length; i++) outcomes.set(pending[i]!.index, results[i]!);
    return outcomes;
  }

  async #submitOne(messageId: string, fields: PduInput<'submit_sm'>): Promise<PartOutcome> {
    const { client, clock, metrics } = this.#o;
    for (;;) {
      while (this.#pause !== null && !this.#stopped) await this.#pause.done;
      const started = clock.now();
      try {
        const resp = await client.submit(fields);
        // Each accepted submit takes 10 ms off the next pause: 100 ms is forgotten after 10.
        if (this.#pauseMs > 0) this.#pauseMs = Math.max(0, this.#pauseMs - 10);
        const at = clock.now();
        metrics.submitResponseSeconds.observe({ connector: this.#name }, (at - started) / 1000);
        metrics.partsSubmitted.inc({ connector: this.#name, outcome: 'ok' });
        return { ok: true, smscId: resp.message_id, at };
      } catch (err) {
        const at = clock.now();
        if (err instanceof SmppWindowFullError && !this.#stopped) {
          // Another message took the last slot: wait for one, then try again (not a failure).
          await client.waitForCapacity();
          continue;
        }
        if (err instanceof SmppStatusError) {
          if (
            err.commandStatus === CommandStatus.ESME_RTHROTTLED ||
            err.commandStatus === CommandStatus.ESME_RMSGQFUL
          )
            this.#slowDown();
          const name = statusName(err.commandStatus);
          // An answer all the same: its time counts, or the histogram looks fastest when the
          // SMSC refuses most.
          metrics.submitResponseSeconds.observe({ connector: this.#name }, (at - started) / 1000);
          metrics.partsSubmitted.inc({ connector: this.#name, outcome: name });
          return { ok: false, retry: err.retryable, error: name, at };
        }
        const retry =
          err instanceof SmppTimeoutError ||
          err instanceof SmppClosedError ||
          err instanceof SmppNotBoundError ||
          err instanceof SmppWindowFullError;
        const code = err instanceof SluiceError ? err.code : 'SLUICE_ERR_INTERNAL';
        // Counted only when it went out: no bind, no room, or a bind lost before it was written
        // is not a submit_sm sent.
        const notSent =
          err instanceof SmppNotBoundError ||
          err instanceof SmppWindowFullError ||
          (err instanceof SmppClosedError && !err.sent);
        if (!notSent) metrics.partsSubmitted.inc({ connector: this.#name, outcome: code });
        // Sent, and then no answer: the SMSC may have taken it, and the part goes again.
        if (err instanceof SmppTimeoutError || (err instanceof SmppClosedError && err.sent))
          metrics.duplicateSubmits.inc({ connector: this.#name, reason: 'unanswered' });
        if (!retry) this.#log.error({ err, messageId }, 'submit failed');
        return { ok: false, retry, error: code, at };
      }
    }
  }

  /**
   * The SMSC asked us to slow down: a pause starts, twice the last one. Answers to submits sent
   * before the pause began (a window's worth) do not lengthen it.
   */
  #slowDown(): void {
    if (this.#pause !== null) return;
    this.#pauseMs = Math.min(PAUSE_MAX_MS, Math.max(PAUSE_MIN_MS, this.#pauseMs * 2));
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const timer = this.#o.clock.setTimeout(() => this.#endPause(), this.#pauseMs);
    this.#pause = {
      done,
      end: () => {
        timer.cancel();
        resolve();
      },
    };
    this.#o.metrics.throttledWaits.inc({ limit: 'smsc', where: 'in_process' });
    // Counted in sluice_throttled_waits_total{limit="smsc"}: under sustained throttling a log line
    // per pause would be up to ten a second.
    this.#log.debug({ pauseMs: this.#pauseMs }, 'the SMSC is throttling: pausing submits');
  }

  /** The pause is over (its time is up, or stop() ends it): the submits waiting on it go. */
  #endPause(): void {
    const pause = this.#pause;
    this.#pause = null;
    pause?.end();
  }

  /**
   * Records SMSC id → part, then applies any receipt that arrived before we knew the id. Kept
   * ttl.correlationSeconds, or until a day after the message's validity ends if that is later:
   * the SMSC may send a receipt until then.
   */
  async #correlate(
    record: MessageRecord,
    submitted: ReadonlyArray<[number, { smscId: string }]>,
  ): Promise<void> {
    const ttl = retentionSeconds(this.#o.correlationTtlSeconds, record.validUntil, this.#o.clock.now());
    await Promise.all(
      submitted.map(([part, o]) =>
        this.#correlations.add({ ref: { messageId: record.id, part }, smscId: o.smscId, ttl }),
      ),
    );
  }

  async #correlateBatch(items: readonly Correlation[]): Promise<undefined[]> {
    // One store call per TTL: with the usual validities (under ttl.correlationSeconds less a
    // day) that is one call for the whole turn.
    const byTtl = new Map<number, Correlation[]>();
    for (const item of items) {
      const same = byTtl.get(item.ttl);
      if (same) same.push(item);
      else byTtl.set(item.ttl, [item]);
    }
    await Promise.all([...byTtl].map(([ttl, group]) => this.#correlateGroup(group, ttl)));
    return items.map(() => undefined);
  }

  async #correlateGroup(items: readonly Correlation[], ttl: number): Promise<void> {
    const { store, receipts } = this.#o;
    const ids = items.map((i) => normalizeSmscId(i.smscId));
    // Written, and the receipts stashed under the ids before this taken, in one step.
    const taken = await store.correlation.correlate(
      this.#name,
      items.map((i, n) => ({ smscIds: [ids[n]!], ref: i.ref })),
      ttl,
    );
    await Promise.all(
      taken.map((serialized, n) =>
        serialized === null ? undefined : receipts.applyStashed(items[n]!.ref, serialized, ids[n]!),
      ),
    );
  }

  async #expire(record: MessageRecord, now: number, error: MessageError = VALIDITY_ENDED): Promise<void> {
    const written = await updateRecord(this.#o.store.messages, record.id, record, (r) => {
      let changed = false;
      for (const p of r.parts)
        if (p.smscId === null) changed = partFinal(r, p.index, 'expired', now, error.code) || changed;
      // The parts' expiry may already have settled the message (with the part's error): the
      // message's own error is the one that says why.
      if (r.status === 'expired') r.error = error;
      return transition(r, 'expired', now, error) || changed;
    });
    if (written) {
      this.#o.metrics.messages.inc({ status: 'expired', connector: this.#name, sender: written.from });
      this.#o.onStatus?.(written);
    }
  }

  /** Capped exponential backoff with jitter for a message's `attempt`-th retry. */
  #backoff(attempt: number): number {
    const initial = this.#o.retryInitialMs ?? 1_000;
    const max = this.#o.retryMaxMs ?? 60_000;
    const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  /** The heartbeat of the entries in hand: every third of the reclaim time, while running. */
  #scheduleKeep(): void {
    const reclaimIdleMs = this.#o.reclaimIdleMs ?? 30_000;
    if (this.#keepEnded || !Number.isFinite(reclaimIdleMs) || reclaimIdleMs <= 0) return;
    this.#keeping = this.#o.clock.setTimeout(() => {
      this.#keeping = null;
      void this.#keep().finally(() => this.#scheduleKeep());
    }, reclaimIdleMs / 3);
  }

  async #keep(): Promise<void> {
    if (this.#inHand.size === 0) return;
    try {
      await this.#o.store.queue.keep(this.#name, this.#o.consumer, [...this.#inHand.values()]);
    } catch (err) {
      // Tried again at the next beat; meanwhile another process may reclaim what is held long.
      this.#log.warn({ err, inHand: this.#inHand.size }, 'keeping the messages in hand failed');
    }
  }

  #sleep(ms: number): Promise<void> {
    return Promise.race([
      new Promise<void>((resolve) => this.#o.clock.setTimeout(resolve, ms)),
      this.#stopping,
    ]);
  }
}

/**
 * The record as written after the submit (null: it was gone), settled from outside; a rejection
 * nobody awaits is not an unhandled one.
 */
interface Settleable {
  promise: Promise<MessageRecord | null>;
  resolve: (written: MessageRecord | null) => void;
  reject: (err: unknown) => void;
}

function settleable(): Settleable {
  let resolve!: (written: MessageRecord | null) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<MessageRecord | null>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** When the message last became free to go: the sender's maximum queue age counts from here. */
function queuedSince(record: MessageRecord): number {
  return record.eligibleAt ?? record.createdAt;
}

/** ms spread over ±25%, so messages held together do not all come back in the same instant. */
/** The error of a message whose validity ended before it could be sent. */
const VALIDITY_ENDED: MessageError = {
  code: 'SLUICE_ERR_EXPIRED',
  message: 'validity ended before the message could be sent',
};

/**
 * ms a message must wait for rate-limit tokens in the process to count as throttled: far more
 * than the leaser's refill from the store takes (one round trip), and a wait shorter than this
 * holds nothing up that matters.
 */
const THROTTLED_WAIT_MIN_MS = 50;

/** An SMSC id to record for a part, kept `ttl` seconds. */
interface Correlation {
  ref: PartRef;
  smscId: string;
  ttl: number;
}

function jitter(ms: number): number {
  return Math.max(1, Math.round(ms * (0.75 + Math.random() / 2)));
}

/**
 * The concatenation reference of a message, derived from its id so every attempt and every
 * process uses the same one (a handset reassembles a resent part with the others).
 */
export function concatReference(id: string, mode: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return mode === 'udh8' ? h & 0xff : h & 0xffff;
}
