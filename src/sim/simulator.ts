/**
 * An SMSC simulator built on sluice's own SMPP stack, for tests, the bench and the embedded default.
 * It answers submits (with configurable throttling, rate ceiling and id formats), writes delivery
 * receipts after a delay, and injects MO messages, concatenated in any part order. Receipts and MO
 * for an account wait in its queue while no receiver of that account is bound.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { ConfigError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { CommandStatus, EsmClass, MessageState } from '../smpp/constants.js';
import type { Pdu, PduInput } from '../smpp/pdu/types.js';
import { SmppServer } from '../smpp/server.js';
import type { AppRequest, Session } from '../smpp/session.js';
import { Fifo } from '../util/fifo.js';
import { type ControlPort, startControlPort } from './control.js';
import {
  formatMessageId,
  formatReceipt,
  formatReceiptId,
  type IdFormat,
  type ReceiptIdFormat,
  type ReceiptStat,
} from './receipt.js';
import { encodeMo, quoteText } from './text.js';

export interface SimAccount {
  systemId: string;
  password: string;
}

export interface SimulatorOptions {
  host?: string;
  /** SMPP port; 0 picks a free one. Default 2775. */
  port?: number;
  /** Line-based control port; 0 picks a free one, null disables. Default null. */
  controlPort?: number | null;
  tls?: tls.TlsOptions;
  accounts: SimAccount[];
  /** ms between a submit and its receipt. Default 100. */
  dlrDelayMs?: number;
  /**
   * ms before a submit_sm is answered: a carrier's latency, and what keeps a window full. The
   * message is taken (counted, its receipt scheduled) when answered; a bind that closes first
   * leaves it untaken. Default 0.
   */
  submitDelayMs?: number;
  /** Share of messages whose receipt says UNDELIV. Default 0. */
  dlrFailFraction?: number;
  /** message_id form in submit_sm_resp. Default 'hex'. */
  idFormat?: IdFormat;
  /** id form in the receipt. Default 'same'. */
  receiptIdFormat?: ReceiptIdFormat;
  /** Share of submits answered ESME_RTHROTTLED. Default 0. */
  throttleFraction?: number;
  /** Submits per second accepted (over it: ESME_RTHROTTLED); 0 for no ceiling. Default 0. */
  maxSubmitRate?: number;
  /** Whether receipts carry the receipted_message_id and message_state TLVs. Default true. */
  receiptTlvs?: boolean;
  /** Outbound window of deliver_sm per receiver bind. Default 100. */
  window?: number;
  /**
   * Tests: keep due receipts until releaseReceipts() lets them go, so a test can watch a message
   * between its parts' receipts. Default false.
   */
  holdReceipts?: boolean;
  /** A programmatic fault: a non-zero command_status to answer this submit with, or 0. */
  decideSubmit?: (pdu: Pdu<'submit_sm'>, systemId: string) => number;
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
}

export interface SubmitRecord {
  at: number;
  systemId: string;
  messageId: string;
  source: string;
  destination: string;
  pdu: Pdu<'submit_sm'>;
}

export interface MoRequest {
  from: string;
  to: string;
  text: string;
  /** Account whose receivers get it; default: the first account. */
  systemId?: string;
  /** Order in which the parts go out, as 1-based part numbers (e.g. [3, 1, 2]). Default in order. */
  order?: number[];
}

export interface SimStats {
  binds: { transmitter: number; receiver: number; transceiver: number };
  submits: number;
  throttled: number;
  rejected: number;
  receiptsSent: number;
  moSent: number;
  queued: number;
}

export interface SimulatorEvents {
  submit: [record: SubmitRecord];
  /** A deliver_sm (receipt or MO part) the ESME accepted. */
  delivered: [pdu: PduInput<'deliver_sm'>, systemId: string];
}

interface DueReceipt {
  due: number;
  systemId: string;
  pdu: PduInput<'deliver_sm'>;
}

interface AccountQueue {
  items: Fifo<PduInput<'deliver_sm'>>;
  retryTimer: TimerHandle | null;
  receivers: Session[];
  next: number;
}

export class Simulator extends EventEmitter<SimulatorEvents> {
  readonly #o: SimulatorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #server: SmppServer;
  readonly #accounts = new Map<string, string>();
  readonly #queues = new Map<string, AccountQueue>();
  /** Receipts in due order (every receipt has the same delay, so appending keeps the order). */
  readonly #due = new Fifo<DueReceipt>();
  #dueTimer: TimerHandle | null = null;
  #counter: number;
  #moRef = 0;
  #tokens: number;
  #tokensAt: number;
  #control: ControlPort | null = null;
  /** Receipts released by releaseReceipts() and not yet due-processed (holdReceipts mode). */
  #released = 0;
  readonly #stats = { submits: 0, throttled: 0, rejected: 0, receiptsSent: 0, moSent: 0 };

  constructor(options: SimulatorOptions) {
    super();
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'sim' });
    this.#random = options.random ?? Math.random;
    checkFraction('dlrFailFraction', options.dlrFailFraction ?? 0);
    checkFraction('throttleFraction', options.throttleFraction ?? 0);
    const rate = options.maxSubmitRate ?? 0;
    if (!(rate >= 0)) throw new ConfigError(`maxSubmitRate must be >= 0, got ${rate}`);
    if (options.accounts.length === 0) throw new ConfigError('the simulator needs at least one account');
    for (const a of options.accounts) {
      this.#accounts.set(a.systemId, a.password);
      this.#queues.set(a.systemId, { items: new Fifo(), retryTimer: null, receivers: [], next: 0 });
    }
    // Ids continue from the clock so a restarted simulator does not reissue earlier ids.
    this.#counter = this.#clock.now() * 1000;
    this.#tokens = rate;
    this.#tokensAt = this.#clock.now();
    this.#server = new SmppServer({
      authenticate: (a) => {
        const password = this.#accounts.get(a.system_id);
        if (password === undefined) return CommandStatus.ESME_RINVSYSID;
        return password === a.password ? CommandStatus.ESME_ROK : CommandStatus.ESME_RINVPASWD;
      },
      systemId: 'sluicesim',
      session: { window: options.window ?? 100 },
      clock: this.#clock,
      logger: this.#log,
      ...(options.tls ? { tls: options.tls } : {}),
    });
    this.#server.on('bound', (s) => this.#onBound(s));
  }

  async start(): Promise<{ smpp: AddressInfo; control: AddressInfo | null }> {
    const host = this.#o.host ?? '127.0.0.1';
    const smpp = await this.#server.listen(this.#o.port ?? 2775, host);
    let control: AddressInfo | null = null;
    if (this.#o.controlPort !== undefined && this.#o.controlPort !== null) {
      this.#control = await startControlPort(this, host, this.#o.controlPort);
      control = this.#control.address;
    }
    return { smpp, control };
  }

  async stop(): Promise<void> {
    this.#dueTimer?.cancel();
    this.#dueTimer = null;
    await Promise.all([this.#server.close(), this.#control?.close()]);
  }

  get server(): SmppServer {
    return this.#server;
  }

  stats(): SimStats {
    const binds = { transmitter: 0, receiver: 0, transceiver: 0 };
    for (const s of this.#server.sessions) if (s.mode) binds[s.mode]++;
    let queued = this.#due.length;
    for (const q of this.#queues.values()) queued += q.items.length;
    return { binds, ...this.#stats, queued };
  }

  /** Queues an MO message (split into concatenated parts when long) for the account's receivers. */
  injectMo(mo: MoRequest): number {
    const systemId = mo.systemId ?? this.#o.accounts[0]!.systemId;
    const queue = this.#queues.get(systemId);
    if (!queue) throw new ConfigError(`no simulator account '${systemId}'`);
    this.#moRef = (this.#moRef + 1) & 0xff;
    const { dataCoding, parts } = encodeMo(mo.text, this.#moRef);
    const order = mo.order ?? parts.map((_, i) => i + 1);
    const sorted = [...order].sort((a, b) => a - b);
    if (sorted.length !== parts.length || sorted.some((n, i) => n !== i + 1)) {
      throw new ConfigError(`order must be a permutation of 1..${parts.length}, got ${order.join(',')}`);
    }
    for (const n of order) {
      queue.items.push({
        source_addr: mo.from,
        source_addr_ton: 1,
        source_addr_npi: 1,
        destination_addr: mo.to,
        esm_class: parts.length > 1 ? EsmClass.UDHI : 0,
        data_coding: dataCoding,
        short_message: parts[n - 1]!,
      });
    }
    this.#stats.moSent += parts.length;
    this.#pump(systemId);
    return parts.length;
  }

  #onBound(session: Session): void {
    const systemId = session.systemId ?? '';
    session.on('request', (pdu) => this.#onRequest(session, systemId, pdu));
    if (session.mode === 'receiver' || session.mode === 'transceiver') {
      const queue = this.#queues.get(systemId);
      if (!queue) return;
      queue.receivers.push(session);
      session.once('close', () => {
        queue.receivers = queue.receivers.filter((s) => s !== session);
      });
      this.#pump(systemId);
    }
  }

  #onRequest(session: Session, systemId: string, pdu: AppRequest): void {
    if (pdu.command !== 'submit_sm') {
      // data_sm, submit_multi, query_sm, cancel_sm, replace_sm: not simulated.
      session.respond(pdu, {}, CommandStatus.ESME_RSYSERR);
      return;
    }
    const now = this.#clock.now();
    if (this.#throttled(now)) {
      this.#stats.throttled++;
      session.respond(pdu, {}, CommandStatus.ESME_RTHROTTLED);
      return;
    }
    const fault = this.#o.decideSubmit?.(pdu, systemId) ?? 0;
    if (fault !== 0) {
      this.#stats.rejected++;
      session.respond(pdu, {}, fault);
      return;
    }
    const delay = this.#o.submitDelayMs ?? 0;
    if (delay > 0) {
      this.#clock.setTimeout(() => {
        if (session.state !== 'closed') this.#accept(session, systemId, pdu);
      }, delay);
    } else {
      this.#accept(session, systemId, pdu);
    }
  }

  /** Takes a submit: answers it with a new message id and schedules its receipt. */
  #accept(session: Session, systemId: string, pdu: Pdu<'submit_sm'>): void {
    const now = this.#clock.now();
    const n = ++this.#counter;
    const idFormat = this.#o.idFormat ?? 'hex';
    const messageId = formatMessageId(n, idFormat, randomUUID);
    session.respond(pdu, { message_id: messageId });
    this.#stats.submits++;
    this.emit('submit', {
      at: now,
      systemId,
      messageId,
      source: pdu.source_addr,
      destination: pdu.destination_addr,
      pdu,
    });
    // registered_delivery bits 1-0 (§5.2.17): 1 = receipt on final outcome, 2 = on failure only.
    const wanted = pdu.registered_delivery & 0x03;
    if (wanted === 0 || wanted === 3) return;
    const failed = this.#random() < (this.#o.dlrFailFraction ?? 0);
    if (wanted === 2 && !failed) return;
    const due = now + (this.#o.dlrDelayMs ?? 100);
    this.#due.push({ due, systemId, pdu: this.#receipt(pdu, messageId, n, now, due, failed) });
    this.#armDue();
  }

  #receipt(
    submit: Pdu<'submit_sm'>,
    messageId: string,
    n: number,
    submitted: number,
    done: number,
    failed: boolean,
  ): PduInput<'deliver_sm'> {
    const idFormat = this.#o.idFormat ?? 'hex';
    const receiptId = formatReceiptId(messageId, n, idFormat, this.#o.receiptIdFormat ?? 'same');
    const stat: ReceiptStat = failed ? 'UNDELIV' : 'DELIVRD';
    const udhi = (submit.esm_class & EsmClass.UDHI) !== 0;
    const text = formatReceipt({
      id: receiptId,
      submitted,
      done,
      stat,
      err: failed ? 1 : 0,
      text: quoteText(submit.short_message, submit.data_coding, udhi),
    });
    const fields: PduInput<'deliver_sm'> = {
      // A receipt travels back: from the handset's address to the sender's.
      source_addr_ton: submit.dest_addr_ton,
      source_addr_npi: submit.dest_addr_npi,
      source_addr: submit.destination_addr,
      dest_addr_ton: submit.source_addr_ton,
      dest_addr_npi: submit.source_addr_npi,
      destination_addr: submit.source_addr,
      esm_class: EsmClass.DELIVERY_RECEIPT,
      short_message: Buffer.from(text, 'latin1'),
    };
    if (this.#o.receiptTlvs ?? true) {
      fields.tlvs = {
        receipted_message_id: receiptId,
        message_state: failed ? MessageState.UNDELIVERABLE : MessageState.DELIVERED,
      };
    }
    return fields;
  }

  /** Token bucket holding one second of maxSubmitRate, plus the random throttle share. */
  #throttled(now: number): boolean {
    if (this.#random() < (this.#o.throttleFraction ?? 0)) return true;
    const rate = this.#o.maxSubmitRate ?? 0;
    if (rate === 0) return false;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#tokensAt) * rate) / 1000);
    this.#tokensAt = now;
    if (this.#tokens < 1) return true;
    this.#tokens -= 1;
    return false;
  }

  /** holdReceipts mode: lets the next `count` due receipts go out, in order. */
  releaseReceipts(count = 1): void {
    this.#released += count;
    this.#dueTimer?.cancel();
    this.#dueTimer = null;
    this.#releaseDue();
  }

  /** Receipts waiting for their delay or for releaseReceipts(). */
  get heldReceipts(): number {
    return this.#due.length;
  }

  #armDue(): void {
    const first = this.#due.peek();
    if (this.#dueTimer || !first || (this.#o.holdReceipts && this.#released === 0)) return;
    this.#dueTimer = this.#clock.setTimeout(
      () => this.#releaseDue(),
      Math.max(0, first.due - this.#clock.now()),
    );
  }

  #releaseDue(): void {
    this.#dueTimer = null;
    const now = this.#clock.now();
    const touched = new Set<string>();
    for (let r = this.#due.peek(); r && r.due <= now; r = this.#due.peek()) {
      if (this.#o.holdReceipts) {
        if (this.#released === 0) break;
        this.#released--;
      }
      this.#due.shift();
      this.#queues.get(r.systemId)?.items.push(r.pdu);
      touched.add(r.systemId);
    }
    for (const systemId of touched) this.#pump(systemId);
    this.#armDue();
  }

  /** Sends queued deliver_sm to the account's receivers while their windows have room. */
  #pump(systemId: string): void {
    const q = this.#queues.get(systemId);
    if (!q || q.items.length === 0) return;
    const n = q.receivers.length;
    if (n === 0) return;
    let idle = 0;
    while (q.items.length > 0 && idle < n) {
      const session = q.receivers[q.next % n]!;
      q.next = (q.next + 1) % n;
      if (!session.hasCapacity) {
        idle++;
        continue;
      }
      idle = 0;
      const item = q.items.shift()!;
      session.request('deliver_sm', item).then(
        () => {
          if (item.esm_class === EsmClass.DELIVERY_RECEIPT) this.#stats.receiptsSent++;
          this.emit('delivered', item, systemId);
          this.#pump(systemId);
        },
        (err: Error) => {
          // Not answered (closed, timed out, refused): back to the front, never lost. A bind that
          // comes up pumps again; a refusal is retried after a second, as SMSCs retry later.
          this.#log.debug({ err: err.message }, 'deliver_sm failed; requeued');
          q.items.unshift(item);
          if (session.state !== 'closed' && !q.retryTimer) {
            q.retryTimer = this.#clock.setTimeout(() => {
              q.retryTimer = null;
              this.#pump(systemId);
            }, 1_000);
          }
        },
      );
    }
  }
}

function checkFraction(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new ConfigError(`${name} must be between 0 and 1, got ${v}`);
}
