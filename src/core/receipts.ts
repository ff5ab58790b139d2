/**
 * Delivery receipts → the message part they report on → the message's status.
 *
 * The id comes from the receipted_message_id TLV, else the receipt text; the outcome from the
 * message_state TLV, else the text's stat. The id is looked up as written, then in the other
 * base (hex ⇄ decimal), so SMSCs whose submit_sm_resp and receipt disagree in form still match
 * without per-connector settings.
 *
 * A receipt can arrive before the submit_sm_resp that carries its id has been recorded. When this
 * process sent the part, the dispatcher has told the handler the id (`expect`): the receipt waits
 * for the dispatcher's write and is then applied to the record as written, without looking the
 * id up or reading the record, and without touching the store's stash. Otherwise
 * (another instance sent it, or the ids are spelled differently) it is stashed under its id,
 * unless the id points at a part by then; the dispatcher takes it with the write that records
 * the id. Both steps are atomic on the id's one slot, so no interleaving loses a receipt or
 * applies it twice.
 */
import type { Clock } from '../clock.js';
import {
  type IdCandidate,
  type IdSpelling,
  normalizeSmscId,
  outcomeOfMessageState,
  outcomeOfStat,
  parseReceiptText,
  type ReceiptOutcome,
  receiptIdCandidates,
} from '../codec/receipt.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Pdu } from '../smpp/pdu/types.js';
import type { Store } from '../store/types.js';
import { TickBatcher } from '../util/batcher.js';
import { partFinal } from './lattice.js';
import { copyRecord, isFinal, type MessageRecord, type PartRef, type PartState } from './types.js';
import { updateRecord } from './update.js';

export interface Receipt {
  /** The SMSC message id as the receipt gives it. */
  id: string;
  outcome: Exclude<ReceiptOutcome, 'pending'>;
  /** stat and err, for the part's error when it was not delivered. */
  detail: string;
  at: number;
}

/** What a receipt is read from: a deliver_sm, or a data_sm (TLVs only, no short_message). */
export type ReceiptPdu = Pick<Pdu<'deliver_sm'>, 'tlvs'> & { short_message?: Buffer };

/**
 * Reads a receipt, or says why there is none: `no_id` (neither receipted_message_id nor an id in
 * the text: a format not understood), `not_final` (ENROUTE, ACCEPTD, UNKNOWN, a vendor's state).
 */
export function readReceipt(pdu: ReceiptPdu, at: number): Receipt | 'no_id' | 'not_final' {
  // An empty receipted_message_id says nothing: the text's id is read instead.
  const tlvId = pdu.tlvs.receipted_message_id || undefined;
  const tlvState = pdu.tlvs.message_state;
  if (tlvId !== undefined && tlvState !== undefined && outcomeOfMessageState(tlvState) === 'delivered') {
    // The common case: both TLVs, delivered. The text adds nothing (a delivered part has no
    // error detail), so its seven regexes are skipped.
    return { id: tlvId, outcome: 'delivered', detail: 'DELIVRD', at };
  }
  // The text in short_message, or in message_payload when short_message is empty (§5.2.21).
  const body = pdu.short_message?.length ? pdu.short_message : pdu.tlvs.message_payload;
  const text = body ? parseReceiptText(body.toString('latin1')) : null;
  const id = tlvId ?? text?.id;
  if (!id) return 'no_id';
  const outcome =
    tlvState !== undefined ? outcomeOfMessageState(tlvState) : text ? outcomeOfStat(text.stat) : 'pending';
  if (outcome === 'pending') return 'not_final';
  const detail = text ? `${text.stat}${text.err ? ` err:${text.err}` : ''}` : `message_state ${tlvState}`;
  return { id, outcome, detail, at };
}

const PART_STATE: Record<Receipt['outcome'], PartState> = {
  delivered: 'delivered',
  undelivered: 'undelivered',
  expired: 'expired',
};

/** Longest a receipt waits for this process's dispatcher to record its SMSC id. */
const EXPECTED_WAIT_MS = 1_000;

/** An SMSC id (normalised: lower case) with a hex letter in it cannot be decimal. */
const HEX_LETTER = /[a-f]/;

export interface ReceiptHandlerOptions {
  connector: string;
  store: Store;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  correlationTtlSeconds: number;
  /** Told of every status a message takes here, once, after it is written. */
  onStatus?: (record: MessageRecord) => void;
}

export class ReceiptHandler {
  readonly #o: ReceiptHandlerOptions;
  /**
   * Receipts matched by each spelling of their id on this connector. When several spellings
   * match stored ids, the one this connector's receipts usually match by wins: after a few
   * receipts, an id that happens to equal another message's id in the other base is not taken.
   */
  /** Correlation lookups of one turn (a burst of receipts from one socket read) in one command. */
  readonly #lookups: TickBatcher<readonly string[], Array<PartRef | null>>;
  /** Record reads of one turn in one command. */
  readonly #reads: TickBatcher<string, MessageRecord | null>;
  /**
   * SMSC ids this process's dispatcher was just answered with and is recording: the part, and a
   * promise that settles with the record as written once it and the correlation are written.
   */
  readonly #expected = new Map<string, { ref: PartRef; recorded: Promise<MessageRecord | null> }>();
  /**
   * Receipts matched by each spelling of their id, counting only those whose id had more than one
   * reading (an id such as '7' reads the same in both bases, and says nothing).
   */
  readonly #matchedBy: Record<IdSpelling, number> = {
    'as-written': 1,
    'hex-read-as-decimal': 0,
    'decimal-read-as-hex': 0,
  };
  /** This connector's SMSC ids, as its submit responses gave them: with hex letters, or digits only. */
  readonly #submitIds = { withLetters: 0, digitsOnly: 0 };

  constructor(options: ReceiptHandlerOptions) {
    this.#o = options;
    const { store, connector } = options;
    this.#lookups = new TickBatcher(async (lists) => {
      const refs = await store.correlation.getCorrelations(connector, lists.flat());
      let at = 0;
      return lists.map((l) => {
        const mine = refs.slice(at, at + l.length);
        at += l.length;
        return mine;
      });
    });
    this.#reads = new TickBatcher((ids) => store.messages.getMany(ids));
  }

  /**
   * The dispatcher was answered `smscId` for `ref` and is writing it down; `recorded` settles with
   * the record as written (the dispatcher's: the handler copies it) once the record and the
   * correlation are written. Until then a receipt for the id waits for that instead of going
   * through the store.
   */
  expect(smscId: string, ref: PartRef, recorded: Promise<MessageRecord | null>): void {
    const id = normalizeSmscId(smscId);
    if (HEX_LETTER.test(id)) this.#submitIds.withLetters++;
    else this.#submitIds.digitsOnly++;
    const entry = { ref, recorded };
    this.#expected.set(id, entry);
    const forget = () => {
      if (this.#expected.get(id) === entry) this.#expected.delete(id);
    };
    recorded.then(forget, forget);
  }

  /** Records a receipt (deliver_sm or data_sm). Resolves once it is applied or stashed (then answer the SMSC). */
  async handle(pdu: ReceiptPdu): Promise<void> {
    const { store, connector } = this.#o;
    const receipt = readReceipt(pdu, this.#o.clock.now());
    if (typeof receipt === 'string') {
      // Counted: a carrier whose receipts turn unreadable shows as unreadable, not as silence.
      this.#o.metrics.receipts.inc({ connector, result: receipt === 'no_id' ? 'unreadable' : 'not_final' });
      return;
    }
    const candidates = this.#readings(receipt.id);
    // A part this process is recording right now: no lookup needed.
    if (await this.#applyExpected(candidates, receipt)) return;
    const ids = candidates.map((c) => c.id);
    const ref = this.#choose(candidates, await this.#lookups.add(ids));
    if (ref) {
      await this.apply(ref, receipt, 'matched');
      return;
    }
    // The dispatcher may have been answered while the lookup was under way.
    if (await this.#applyExpected(candidates, receipt)) return;
    // Stashed unless the dispatcher has recorded the id since the lookup: then it is applied here.
    // Under the readings looked up only: a later message whose id is another reading must not
    // take it.
    const found = await store.correlation.stashReceipt(
      connector,
      ids,
      JSON.stringify(receipt),
      this.#o.correlationTtlSeconds,
    );
    const again = found && this.#choose(candidates, found);
    if (again) {
      await this.apply(again, receipt, 'matched');
      return;
    }
    this.#o.metrics.receipts.inc({ connector, result: 'early' });
  }

  /**
   * Applies a receipt to its part (from handle, or from the dispatcher for a stashed one: 'early',
   * already counted when it was stashed). `known`: a copy of the record the caller holds, else it
   * is read. An older copy costs only a retry: parts and status only move forward, so the change
   * that applies to the stored record applies to it too, and the compare-and-set sends it back.
   */
  async apply(
    ref: PartRef,
    receipt: Receipt,
    result: 'matched' | 'early',
    known?: MessageRecord,
  ): Promise<void> {
    const { store, connector, metrics } = this.#o;
    let submittedAt: number | null = null;
    let becameFinal = false;
    known ??= (await this.#reads.add(ref.messageId)) ?? undefined;
    const record = await updateRecord(store.messages, ref.messageId, known ?? null, (r) => {
      // Runs again on a lost compare-and-set: what the last run saw is what was written.
      submittedAt = r.parts[ref.part]?.submittedAt ?? null;
      const wasFinal = isFinal(r.status);
      const error = receipt.outcome === 'delivered' ? null : receipt.detail;
      const changed = partFinal(r, ref.part, PART_STATE[receipt.outcome], receipt.at, error);
      becameFinal = changed && !wasFinal && isFinal(r.status);
      return changed;
    });
    if (result === 'matched') metrics.receipts.inc({ connector, result });
    if (submittedAt !== null)
      metrics.submitReceiptSeconds.observe({ connector }, Math.max(0, receipt.at - submittedAt) / 1000);
    if (record && becameFinal) {
      metrics.messages.inc({ status: record.status, connector, sender: record.from });
      this.#o.onStatus?.(record);
    }
  }

  /**
   * A receipt that correlate took from the stash under `takenUnder`, with the dispatcher's write
   * of the part's SMSC id. Its copies under the other spellings of its id are dropped, so that a
   * later part whose SMSC id is one of them does not take it too; then it is applied ('early':
   * counted when it was stashed).
   */
  async applyStashed(ref: PartRef, serialized: string, takenUnder: string): Promise<void> {
    const receipt = ReceiptHandler.parseStashed(serialized);
    if (!receipt) return;
    const { store, connector } = this.#o;
    const others = receiptIdCandidates(receipt.id)
      .map((c) => c.id)
      .filter((id) => id !== takenUnder);
    await Promise.all([
      others.length > 0 ? store.correlation.dropStashed(connector, others, serialized) : undefined,
      this.apply(ref, receipt, 'early'),
    ]);
  }

  /**
   * A receipt for a part this process sent a moment ago, whose id is not written yet: applied
   * once the dispatcher's write is done. False (the store's stash decides) when no part here has
   * the id, or when that write failed or waits on other parts for long (the SMSC waits for our
   * answer meanwhile).
   */
  async #applyExpected(candidates: readonly IdCandidate[], receipt: Receipt): Promise<boolean> {
    let expected: { ref: PartRef; recorded: Promise<MessageRecord | null> } | undefined;
    for (const c of candidates) {
      expected = this.#expected.get(c.id);
      if (expected) {
        if (candidates.length > 1) this.#matchedBy[c.via]++;
        break;
      }
    }
    if (!expected) return false;
    const written = await this.#settledWithin(expected.recorded, EXPECTED_WAIT_MS);
    if (written === false) return false;
    await this.apply(expected.ref, receipt, 'matched', written ? copyRecord(written) : undefined);
    return true;
  }

  /** What `p` resolves with, if it does within `ms`; else false. */
  #settledWithin<T>(p: Promise<T>, ms: number): Promise<T | false> {
    return new Promise<T | false>((resolve) => {
      const timer = this.#o.clock.setTimeout(() => resolve(false), ms);
      p.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        () => {
          timer.cancel();
          resolve(false);
        },
      );
    });
  }

  /** The matched part, preferring the spelling this connector's receipts usually match by. */
  #choose(candidates: readonly IdCandidate[], refs: ReadonlyArray<PartRef | null>): PartRef | null {
    let best = -1;
    for (let i = 0; i < candidates.length; i++) {
      if (!refs[i]) continue;
      if (best === -1 || this.#matchedBy[candidates[i]!.via] > this.#matchedBy[candidates[best]!.via])
        best = i;
    }
    if (best === -1) return null;
    if (candidates.length > 1) this.#matchedBy[candidates[best]!.via]++;
    return refs[best] ?? null;
  }

  /**
   * The readings of a receipt's id to look up (and to stash under) on this connector: as written,
   * and in the other base only where that cannot pin the receipt on another message. Sequential
   * ids make a reading in the other base the id of some other message ('256' read as hex is
   * '100'): when the receipt came before its own id was recorded, or its id was never ours, that
   * message would take it. So another reading is used when this connector's receipts have matched
   * by it more often than as written; or, until they have matched as written at all, when it
   * cannot be the as-written id of this connector's form (decimal ids and a receipt id with
   * letters: it is hex; hex ids and a reading with letters). Before any submit response has been
   * seen here (just after a start), every reading.
   */
  #readings(id: string): IdCandidate[] {
    const all = receiptIdCandidates(id);
    const { withLetters, digitsOnly } = this.#submitIds;
    if (all.length === 1 || withLetters + digitsOnly === 0) return all;
    const seen = this.#matchedBy;
    const hexIds = withLetters > 0;
    const undecided = seen['as-written'] <= 1;
    return all.filter(
      (c, i) =>
        i === 0 ||
        seen[c.via] > seen['as-written'] ||
        (undecided && HEX_LETTER.test(hexIds ? c.id : all[0]!.id)),
    );
  }

  /** Parses a stashed receipt. */
  static parseStashed(serialized: string): Receipt | null {
    try {
      const r = JSON.parse(serialized) as Receipt;
      return typeof r.id === 'string' && typeof r.at === 'number' ? r : null;
    } catch {
      return null;
    }
  }
}
