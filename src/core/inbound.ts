/**
 * Inbound SMS (MO: a deliver_sm or data_sm that is not a receipt): keywords. An opt-out keyword (STOP, …)
 * records the number on the opt-out list in the sender's scope and sends one confirmation; an
 * opt-in keyword (START, …) takes it off and confirms; HELP answers with the help text, also to
 * numbers that never subscribed; a sender's custom keywords answer with their own text.
 *
 * The SMSC gets its deliver_sm_resp only once the change and the reply are durable: when either
 * fails it is answered ESME_RX_T_APPN and sends the MO again (a repeated STOP is harmless: the
 * entry is kept, the audit log records it again, and the confirmation goes out).
 */
import type { Clock } from '../clock.js';
import { decodeShortMessage } from '../codec/index.js';
import type { SenderConfig } from '../config/types.js';
import { ApiError } from '../errors.js';
import { type Logger, maskNumber } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { type KeywordMatch, KeywordTable, renderReply } from '../policy/keywords.js';
import type { OptOutEntry, OptOutStore } from '../policy/optouts.js';
import { EsmClass } from '../smpp/constants.js';
import type { Pdu } from '../smpp/pdu/types.js';
import type { SenderPolicy } from './policy.js';
import type { MessageRecord } from './types.js';

export interface InboundOptions {
  senders: SenderPolicy;
  optouts: OptOutStore;
  /** Queues a reply from `from` to `to` (E.164 with '+'), exempt from the opt-out list. */
  reply: (from: string, to: string, body: string) => Promise<MessageRecord>;
  /**
   * Rejects when the store takes no message now (unreachable, or a Redis that may evict): a
   * keyword is then neither recorded nor answered, and the SMSC sends it again later, instead
   * of its opt-out being recorded again on every resend while its reply cannot be queued.
   */
  storeReady?: () => Promise<void>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
}

/**
 * What an MO is read from: a deliver_sm, or a data_sm (SMPP v3.4 §4.7: the same addresses and
 * data_coding, its text only in message_payload).
 */
export type MoPdu = Pick<
  Pdu<'deliver_sm'>,
  'source_addr' | 'destination_addr' | 'esm_class' | 'data_coding' | 'tlvs'
> & { short_message?: Buffer };

/** What became of one MO, for the caller's log and the tests. */
export type InboundOutcome =
  | { kind: 'keyword'; match: KeywordMatch; reply: MessageRecord | null }
  | { kind: 'ignored'; why: 'not_a_keyword' | 'unknown_sender' | 'not_text' | 'bad_number' };

export class InboundHandler {
  readonly #o: InboundOptions;
  readonly #tables = new Map<string, KeywordTable>();

  constructor(options: InboundOptions) {
    this.#o = options;
    for (const sender of options.senders.list) {
      this.#tables.set(sender.address, new KeywordTable(sender.keywords));
    }
  }

  /** Acts on one MO; rejects when the store or the reply's enqueue failed (answer RX_T_APPN). */
  async handle(pdu: MoPdu, connector: string): Promise<InboundOutcome> {
    // Sender addresses are configured without '+'; some SMSCs write the MO's destination with it.
    const to = pdu.destination_addr.startsWith('+') ? pdu.destination_addr.slice(1) : pdu.destination_addr;
    const sender = this.#o.senders.get(to);
    const table = sender ? this.#tables.get(sender.address) : undefined;
    if (!sender || !table) return { kind: 'ignored', why: 'unknown_sender' };
    const text = moText(pdu);
    if (text === null) return { kind: 'ignored', why: 'not_text' };
    const match = table.classify(text);
    if (match === null) return { kind: 'ignored', why: 'not_a_keyword' };
    const number = moNumber(pdu.source_addr);
    if (number === null) return { kind: 'ignored', why: 'bad_number' };
    await this.#o.storeReady?.();

    const now = this.#o.clock.now();
    const entry: OptOutEntry = {
      number,
      scope: this.#o.senders.recordScope(sender),
      at: now,
      source: 'keyword',
      keyword: match.keyword,
      reason: null,
      sender: sender.address,
    };
    let template: string;
    switch (match.kind) {
      case 'opt_out':
        await this.#o.optouts.add([entry]);
        this.#o.metrics.optOutChanges.inc({ action: 'opt_out', source: 'keyword' });
        template = sender.replies.optOut ?? match.reply;
        break;
      case 'opt_in':
        await this.#o.optouts.remove(await this.#optInTargets(sender, entry));
        this.#o.metrics.optOutChanges.inc({ action: 'opt_in', source: 'keyword' });
        template = sender.replies.optIn ?? match.reply;
        break;
      case 'help':
        template = sender.replies.help ?? match.reply;
        break;
      case 'custom':
        template = match.reply;
        break;
    }
    this.#o.metrics.keywordEvents.inc({ kind: match.kind, sender: sender.address });
    const body = renderReply(template, { program: sender.program ?? sender.address });
    const reply = await this.#reply(sender.address, number, body);
    this.#o.logger.info(
      {
        connector,
        sender: sender.address,
        from: maskNumber(number),
        keyword: match.kind,
        reply: reply?.id ?? null,
      },
      'keyword handled',
    );
    return { kind: 'keyword', match, reply };
  }

  /**
   * Queues the reply. A reply intake refuses (a number it cannot send to, no route) is logged and
   * given up: the keyword's effect is recorded, and asking the SMSC to send the MO again would
   * only fail the same way, for ever. A store failure rejects (the SMSC retries).
   */
  async #reply(from: string, number: string, body: string): Promise<MessageRecord | null> {
    try {
      return await this.#o.reply(from, `+${number}`, body);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500) throw err;
      this.#o.logger.warn(
        { sender: from, to: maskNumber(number), status: err.status, reason: err.message },
        'keyword reply not sent: intake refused it',
      );
      return null;
    }
  }

  /**
   * START lifts the opt-out in the sender's own scope, and any other opt-out that silences this
   * sender and that the consumer made by keyword (a STOP sent to another sender of the program,
   * say). Entries an operator made by API or import stay: a do-not-contact list the business
   * keeps is not the consumer's to undo by text.
   */
  async #optInTargets(sender: SenderConfig, own: OptOutEntry): Promise<OptOutEntry[]> {
    const checked = new Set<string>(this.#o.senders.checkScopes(sender.address));
    const targets = [own];
    for (const e of await this.#o.optouts.get(own.number)) {
      if (e.scope !== own.scope && checked.has(e.scope) && e.source === 'keyword') {
        targets.push({ ...own, scope: e.scope });
      }
    }
    return targets;
  }
}

/** The MO's text, or null when it is binary, or a part of a concatenated message (never a keyword). */
function moText(pdu: MoPdu): string | null {
  if ((pdu.tlvs?.sar_total_segments ?? 1) > 1) return null;
  const udhi = (pdu.esm_class & EsmClass.UDHI) !== 0;
  const payload = pdu.tlvs?.message_payload;
  const bytes = payload && payload.length > 0 ? payload : (pdu.short_message ?? NO_TEXT);
  try {
    const decoded = decodeShortMessage(bytes, pdu.data_coding, { udhi });
    if (decoded.udh?.concat) return null;
    return decoded.text;
  } catch {
    return null;
  }
}

const NO_TEXT = Buffer.alloc(0);

/** The MO's originator as E.164 digits, or null when it is not a plausible number. */
function moNumber(address: string): string | null {
  const digits = address.startsWith('+') ? address.slice(1) : address;
  return /^[1-9][0-9]{5,14}$/.test(digits) ? digits : null;
}
