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
 */
import type { Clock } from '../clock.js';
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
import type { SmppClient } from '../smpp/client.js';
import { statusName } from '../smpp/constants.js';
import type { PduInput, Tlvs } from '../smpp/pdu/types.js';
import type { QueueEntry, Store } from '../store/types.js';
import { TickBatcher } from '../util/batcher.js';
import { planOptionsFor } from './intake.js';
import { isFinalPart, partFinal, partSubmitted, transition } from './lattice.js';
import { Pace } from './pace.js';
import { ReceiptHandler } from './receipts.js';
import { isFinal, type MessageRecord, type PartRef } from './types.js';
import { updateRecord } from './update.js';

export interface DispatcherOptions {
  connector: ConnectorConfig;
  client: SmppClient;
  store: Store;
  receipts: ReceiptHandler;
  senders: ReadonlyMap<string, SenderConfig>;
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
  /** Told of every status a message takes here, once, after it is written. */
  onStatus?: (record: MessageRecord) => void;
  /** Retry backoff: first delay and ceiling, ms. Defaults 1,000 and 60,000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

type PartOutcome =
  | { ok: true; smscId: string; at: number }
  | { ok: false; retry: boolean; error: string; at: number };

const EMPTY = Buffer.alloc(0);

export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #name: string;
  readonly #log: Logger;
  readonly #pace: Pace;
  readonly #inflight = new Set<Promise<void>>();
  #stopped = false;
  #loop: Promise<void> | null = null;
  /** Acknowledgements of one turn go out as one command. */
  readonly #acks: TickBatcher<string, undefined>;
  /** SMSC ids recorded in one turn: one write of the correlations, one take of early receipts. */
  readonly #correlations: TickBatcher<{ ref: PartRef; smscId: string }, undefined>;
  #onStop!: () => void;
  /** Resolves when stop() is called: races every wait of the loop. */
  readonly #stopping = new Promise<void>((resolve) => {
    this.#onStop = resolve;
  });

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#name = options.connector.name;
    this.#log = options.logger.child({ connector: this.#name });
    this.#pace = new Pace(options.connector.tps, options.clock);
    this.#acks = new TickBatcher<string, undefined>(async (ids) => {
      await options.store.queue.ack(this.#name, ids);
      return ids.map(() => undefined);
    });
    this.#correlations = new TickBatcher((items) => this.#correlateBatch(items));
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops claiming and waits for every message in hand to be recorded and acknowledged. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#onStop();
    this.#pace.release();
    await this.#loop;
    await Promise.allSettled([...this.#inflight]);
  }

  async #run(): Promise<void> {
    const { client, store, consumer } = this.#o;
    const batch = this.#o.batch ?? 256;
    while (!this.#stopped) {
      if (client.capacity === 0) {
        await Promise.race([client.waitForCapacity(), this.#stopping]);
        continue;
      }
      let entries: QueueEntry[];
      try {
        entries = await store.queue.claim(
          this.#name,
          consumer,
          Math.min(batch, client.capacity),
          this.#o.blockMs ?? 500,
          this.#o.reclaimIdleMs ?? 30_000,
        );
        if (entries.length === 0) continue;
        const records = await store.messages.getMany(entries.map((e) => e.messageId));
        for (let i = 0; i < entries.length; i++) this.#track(this.#handle(entries[i]!, records[i] ?? null));
      } catch (err) {
        // The store is down: wait a moment and try again; nothing was taken from the queue.
        this.#log.error({ err }, 'queue read failed');
        await this.#sleep(1_000);
      }
    }
  }

  #track(p: Promise<void>): void {
    this.#inflight.add(p);
    p.then(
      () => this.#inflight.delete(p),
      (err: unknown) => {
        this.#inflight.delete(p);
        this.#log.error({ err }, 'dispatch failed');
      },
    );
  }

  async #handle(entry: QueueEntry, record: MessageRecord | null): Promise<void> {
    const { store, metrics, clock } = this.#o;
    if (!record || isFinal(record.status)) {
      // Gone (its TTL passed) or already finished (a reclaimed duplicate entry): nothing to send.
      await this.#acks.add(entry.entryId);
      return;
    }
    const now = clock.now();
    if (now > record.validUntil) {
      await this.#expire(record, now);
      await this.#acks.add(entry.entryId);
      return;
    }
    const outcomes = await this.#submitParts(record, entry);
    const retry = [...outcomes.values()].some((o) => !o.ok && o.retry);
    const before = record.status;
    const written = await updateRecord(store.messages, record.id, record, (r) => {
      let changed = transition(r, 'sending', now);
      if (outcomes.size > 0) {
        r.attempts += 1;
        changed = true;
      }
      for (const [index, o] of outcomes) {
        if (o.ok) changed = partSubmitted(r, index, o.smscId, o.at) || changed;
        else if (!o.retry) changed = partFinal(r, index, 'failed', o.at, o.error) || changed;
      }
      return changed;
    });
    if (written && written.status !== before) this.#o.onStatus?.(written);
    const submitted = [...outcomes].filter((e): e is [number, Extract<PartOutcome, { ok: true }>] => e[1].ok);
    if (submitted.length > 0) await this.#correlate(record.id, submitted);
    if (written && isFinal(written.status)) {
      metrics.messages.inc({ status: written.status, connector: this.#name, sender: written.from });
    } else if (written && written.status === 'sent' && submitted.length > 0) {
      metrics.messages.inc({ status: 'sent', connector: this.#name, sender: written.from });
    }
    if (retry && written && !isFinal(written.status)) {
      const delay = this.#backoff(written.attempts);
      await store.queue.defer(this.#name, [entry], clock.now() + delay);
    } else {
      await this.#acks.add(entry.entryId);
    }
  }

  /** Submits every part without an SMSC id; outcomes by part index. */
  async #submitParts(record: MessageRecord, entry: QueueEntry): Promise<Map<number, PartOutcome>> {
    const { connector, senders, maxParts, metrics } = this.#o;
    const sender = senders.get(record.from);
    const pending = record.parts.filter((p) => p.smscId === null && !isFinalPart(p.state));
    const outcomes = new Map<number, PartOutcome>();
    if (!sender || pending.length === 0) return outcomes;
    const plan = planMessage(record.body, {
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
    if (entry.deliveries > 0) metrics.duplicateSubmits.inc({ connector: this.#name }, pending.length);
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
        return this.#submitOne(fields);
      }),
    );
    for (let i = 0; i < pending.length; i++) outcomes.set(pending[i]!.index, results[i]!);
    return outcomes;
  }

  async #submitOne(fields: PduInput<'submit_sm'>): Promise<PartOutcome> {
    const { client, clock, metrics } = this.#o;
    await this.#pace.take();
    for (;;) {
      const started = clock.now();
      try {
        const resp = await client.submit(fields);
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
          const name = statusName(err.commandStatus);
          metrics.partsSubmitted.inc({ connector: this.#name, outcome: name });
          return { ok: false, retry: err.retryable, error: name, at };
        }
        const retry =
          err instanceof SmppTimeoutError ||
          err instanceof SmppClosedError ||
          err instanceof SmppNotBoundError ||
          err instanceof SmppWindowFullError;
        const code = err instanceof SluiceError ? err.code : 'SLUICE_ERR_INTERNAL';
        metrics.partsSubmitted.inc({ connector: this.#name, outcome: code });
        if (!retry) this.#log.error({ err }, 'submit failed');
        return { ok: false, retry, error: code, at };
      }
    }
  }

  /** Records SMSC id → part, then applies any receipt that arrived before we knew the id. */
  async #correlate(messageId: string, submitted: ReadonlyArray<[number, { smscId: string }]>): Promise<void> {
    await Promise.all(
      submitted.map(([part, o]) => this.#correlations.add({ ref: { messageId, part }, smscId: o.smscId })),
    );
  }

  async #correlateBatch(items: ReadonlyArray<{ ref: PartRef; smscId: string }>): Promise<undefined[]> {
    const { store, receipts, correlationTtlSeconds } = this.#o;
    const ids = items.map((i) => normalizeSmscId(i.smscId));
    await store.correlation.setCorrelations(
      this.#name,
      items.map((i, n) => ({ smscIds: [ids[n]!], ref: i.ref })),
      correlationTtlSeconds,
    );
    const taken = await store.correlation.takeReceipts(this.#name, ids);
    await Promise.all(
      taken.map((serialized, n) => {
        const receipt = serialized === null ? null : ReceiptHandler.parseStashed(serialized);
        const ref = items[n]?.ref;
        return receipt && ref ? receipts.apply(ref, receipt, 'early') : undefined;
      }),
    );
    return items.map(() => undefined);
  }

  async #expire(record: MessageRecord, now: number): Promise<void> {
    const written = await updateRecord(this.#o.store.messages, record.id, record, (r) => {
      let changed = false;
      for (const p of r.parts)
        if (p.smscId === null)
          changed = partFinal(r, p.index, 'expired', now, 'SLUICE_ERR_EXPIRED') || changed;
      return (
        transition(r, 'expired', now, {
          code: 'SLUICE_ERR_EXPIRED',
          message: 'validity ended before the message could be sent',
        }) || changed
      );
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

  #sleep(ms: number): Promise<void> {
    return Promise.race([
      new Promise<void>((resolve) => this.#o.clock.setTimeout(resolve, ms)),
      this.#stopping,
    ]);
  }
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
