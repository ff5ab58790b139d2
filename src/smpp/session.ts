/**
 * One SMPP session over an established transport (TCP or TLS socket), for either side: an ESME
 * (client) or an SMSC (server). It owns the bind state machine, sequence numbers, the outbound
 * window with per-request timeouts, enquire_link in both directions, inbound flow control and the
 * graceful unbind. It knows nothing of messages: the application answers inbound requests with
 * respond(). Nothing throws out of a socket callback: protocol faults become responses, 'warning'
 * events or a 'close' with the reason.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import {
  ConfigError,
  SmppBindStateError,
  SmppClosedError,
  SmppPduError,
  SmppStatusError,
  SmppTimeoutError,
  SmppWindowFullError,
} from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import {
  CommandId,
  type CommandName,
  CommandStatus,
  commandName,
  isResponseId,
  isRetryableStatus,
  statusName,
} from './constants.js';
import { DEFAULT_MAX_PDU_LENGTH, decodePdu, makePdu, PduWriter, writePduParts } from './pdu/codec.js';
import { PduFramer } from './pdu/framer.js';
import type { AnyPdu, Pdu, PduInput, RequestName, ResponseOf } from './pdu/types.js';

export type Role = 'esme' | 'smsc';
export type BindMode = 'transmitter' | 'receiver' | 'transceiver';
export type SessionState = 'open' | 'bound_tx' | 'bound_rx' | 'bound_trx' | 'unbinding' | 'closed';

/** Requests that are answered by a response PDU. */
export type AnsweredRequest = Exclude<RequestName, 'alert_notification' | 'outbind'>;
export type BindCommand = 'bind_transmitter' | 'bind_receiver' | 'bind_transceiver';

/** Requests the application sees through the 'request' event (the session answers the rest itself). */
export type AppRequest = Pdu<Exclude<AnsweredRequest, BindCommand | 'enquire_link' | 'unbind'>>;

export interface SessionOptions {
  socket: Socket;
  role: Role;
  clock?: Clock;
  logger?: Logger;
  /** Outbound requests in flight at most; request() fails fast beyond it. Default 10. */
  window?: number;
  /** ms a request may wait for its response. Default 10,000. */
  requestTimeoutMs?: number;
  /** ms of inbound silence before we send enquire_link; 0 disables. Default 30,000. */
  enquireLinkIntervalMs?: number;
  /** Inbound requests handed to the application and not yet answered before reading pauses. Default 1,000. */
  inboundWindow?: number;
  /** Largest command_length accepted. Default 72 KiB. */
  maxPduLength?: number;
  /**
   * Protocol errors within protocolErrorWindowMs that close the session. Default 10. A peer that
   * sends a malformed PDU now and then keeps its bind: a reconnect would cost the submits in
   * flight (sent again, so duplicates), for nothing a reconnect fixes.
   */
  maxProtocolErrors?: number;
  /** The window maxProtocolErrors counts in, in ms; 0 counts over the session's life. Default 60,000. */
  protocolErrorWindowMs?: number;
  /** SMSC side: ms a connection may stay unbound before it is closed; 0 disables. Default 30,000. */
  bindTimeoutMs?: number;
  /** ms unbind() waits for in-flight requests to drain before unbinding anyway. Default 5,000. */
  drainTimeoutMs?: number;
  /** Bytes queued on the socket before reading pauses until it drains. Default 1 MiB. */
  writeHighWaterMark?: number;
}

export interface CloseInfo {
  reason: string;
  error?: Error;
}

export interface SessionEvents {
  /** SMSC side: a bind request to authenticate; answer with respond(). */
  bind: [pdu: Pdu<BindCommand>];
  /** ESME side: the SMSC asks us to bind (outbind). */
  outbind: [pdu: Pdu<'outbind'>];
  /** An inbound request for the application; answer with respond(). */
  request: [pdu: AppRequest];
  /** alert_notification from the SMSC (it has no response). */
  alert: [pdu: Pdu<'alert_notification'>];
  bound: [mode: BindMode];
  state: [from: SessionState, to: SessionState];
  /** A protocol fault the session answered or survived; for logs and metrics. */
  warning: [error: Error];
  close: [info: CloseInfo];
}

interface Pending {
  command: CommandName;
  /** For a bind: the system_id it binds as. */
  systemId?: string;
  deadline: number;
  resolve(pdu: AnyPdu): void;
  reject(err: Error): void;
}

const RESPONSE_OF: Partial<Record<CommandName, CommandName>> = {};
for (const [name, id] of Object.entries(CommandId)) {
  if (!isResponseId(id)) {
    const resp = commandName((id | 0x80000000) >>> 0);
    if (resp) RESPONSE_OF[name as CommandName] = resp;
  }
}

const MODE_STATE: Record<BindMode, SessionState> = {
  transmitter: 'bound_tx',
  receiver: 'bound_rx',
  transceiver: 'bound_trx',
};

const BIND_MODE: Record<BindCommand, BindMode> = {
  bind_transmitter: 'transmitter',
  bind_receiver: 'receiver',
  bind_transceiver: 'transceiver',
};

/** Commands the ESME sends that need a transmitting bind (§2.3, table 2-1). */
const ESME_SUBMITS = new Set<CommandName>([
  'submit_sm',
  'submit_multi',
  'data_sm',
  'query_sm',
  'cancel_sm',
  'replace_sm',
]);
/** Commands the SMSC sends that need a receiving bind. */
const SMSC_DELIVERS = new Set<CommandName>(['deliver_sm', 'data_sm', 'alert_notification']);

/**
 * Whether `sender` may send request `command` while the session is bound as `mode` (null: not
 * bound). Returns 0 when legal, else the command_status that refuses it.
 */
export function legality(sender: Role, command: CommandName, mode: BindMode | null): number {
  if (command === 'enquire_link' || command === 'unbind') return 0;
  if (command in BIND_MODE) {
    if (sender !== 'esme') return CommandStatus.ESME_RINVCMDID;
    return mode === null ? 0 : CommandStatus.ESME_RALYBND;
  }
  if (command === 'outbind') return sender === 'smsc' && mode === null ? 0 : CommandStatus.ESME_RINVBNDSTS;
  if (mode === null) return CommandStatus.ESME_RINVBNDSTS;
  if (sender === 'esme') {
    if (!ESME_SUBMITS.has(command)) return CommandStatus.ESME_RINVCMDID;
    return mode === 'receiver' ? CommandStatus.ESME_RINVBNDSTS : 0;
  }
  if (!SMSC_DELIVERS.has(command)) return CommandStatus.ESME_RINVCMDID;
  return mode === 'transmitter' ? CommandStatus.ESME_RINVBNDSTS : 0;
}

let sessionCounter = 0;

export class Session extends EventEmitter<SessionEvents> {
  readonly id: string;
  readonly role: Role;
  readonly peer: string;
  readonly #socket: Socket;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #window: number;
  readonly #requestTimeoutMs: number;
  readonly #enquireLinkIntervalMs: number;
  readonly #inboundWindow: number;
  readonly #maxProtocolErrors: number;
  readonly #protocolErrorWindowMs: number;
  readonly #drainTimeoutMs: number;
  readonly #writeHighWaterMark: number;
  readonly #framer: PduFramer;
  readonly #writer = new PduWriter();
  readonly #inflight = new Map<number, Pending>();

  #state: SessionState = 'open';
  #mode: BindMode | null = null;
  #systemId: string | null = null;
  #seq = 0;
  /** When the protocol errors still inside the window happened, oldest first. */
  readonly #protocolErrorTimes: number[] = [];
  #inboundPending = 0;
  #readPausedForApp = false;
  #readPausedForWrite = false;
  #flushScheduled = false;
  #rxSinceCheck = false;
  #sweepTimer: TimerHandle | null = null;
  #enquireTimer: TimerHandle | null = null;
  #bindTimer: TimerHandle | null = null;
  #drainWaiters: Array<() => void> = [];
  #closeInfo: CloseInfo | null = null;

  constructor(options: SessionOptions) {
    super();
    this.id = `s${++sessionCounter}`;
    this.role = options.role;
    this.#socket = options.socket;
    this.#clock = options.clock ?? systemClock;
    this.#window = checkRange('window', options.window ?? 10, 1, 100_000);
    this.#requestTimeoutMs = checkRange('requestTimeoutMs', options.requestTimeoutMs ?? 10_000, 1, 3_600_000);
    this.#enquireLinkIntervalMs = checkRange(
      'enquireLinkIntervalMs',
      options.enquireLinkIntervalMs ?? 30_000,
      0,
      86_400_000,
    );
    this.#inboundWindow = checkRange('inboundWindow', options.inboundWindow ?? 1000, 1, 1_000_000);
    this.#maxProtocolErrors = checkRange('maxProtocolErrors', options.maxProtocolErrors ?? 10, 1, 1_000_000);
    this.#protocolErrorWindowMs = checkRange(
      'protocolErrorWindowMs',
      options.protocolErrorWindowMs ?? 60_000,
      0,
      86_400_000,
    );
    this.#drainTimeoutMs = checkRange('drainTimeoutMs', options.drainTimeoutMs ?? 5_000, 0, 3_600_000);
    this.#writeHighWaterMark = options.writeHighWaterMark ?? 1024 * 1024;
    this.peer = `${this.#socket.remoteAddress ?? '?'}:${this.#socket.remotePort ?? '?'}`;
    this.#log = (options.logger ?? silentLogger).child({
      session: this.id,
      role: this.role,
      peer: this.peer,
    });
    this.#framer = new PduFramer(
      {
        frame: (buf, start, end) => this.#onFrame(buf, start, end),
        error: (err) => this.#onFramingError(err),
      },
      options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH,
    );

    // Nagle's algorithm holds small PDUs back for the peer's delayed ACK: 5x the round trip.
    this.#socket.setNoDelay?.(true);
    this.#socket.on('data', (chunk: Buffer) => this.#framer.push(chunk));
    this.#socket.on('drain', () => this.#onDrain());
    this.#socket.on('end', () => this.#teardown({ reason: 'peer closed the connection' }));
    this.#socket.on('close', () => this.#teardown({ reason: 'connection closed' }));
    this.#socket.on('error', (error: Error) =>
      this.#teardown({ reason: `socket error: ${error.message}`, error }),
    );

    const bindTimeoutMs = options.bindTimeoutMs ?? 30_000;
    if (this.role === 'smsc' && bindTimeoutMs > 0) {
      this.#bindTimer = this.#clock.setTimeout(() => {
        if (this.#mode === null) this.close(`not bound within ${bindTimeoutMs} ms`);
      }, bindTimeoutMs);
    }
    this.#armEnquireLink();
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The bind mode, or null while not bound. */
  get mode(): BindMode | null {
    return this.#mode;
  }

  /** The system_id the ESME bound with (on either side), once bound. */
  get systemId(): string | null {
    return this.#systemId;
  }

  get bound(): boolean {
    return this.#state === 'bound_tx' || this.#state === 'bound_rx' || this.#state === 'bound_trx';
  }

  get window(): number {
    return this.#window;
  }

  /** Outbound requests awaiting their response. */
  get inFlight(): number {
    return this.#inflight.size;
  }

  /** Called whenever outbound requests settle (answered, failed, timed out): the window has room. */
  onSettle: (() => void) | null = null;

  /** Whether reading from the peer is paused (the application or the socket is behind). */
  get readPaused(): boolean {
    return this.#readPausedForApp || this.#readPausedForWrite;
  }

  /** Whether one more request fits the window now. */
  get hasCapacity(): boolean {
    return this.#inflight.size < this.#window && this.bound;
  }

  /** Whether this side may send `command` in the current state (e.g. a receiver may not submit). */
  canSend(command: CommandName): boolean {
    return this.bound && legality(this.role, command, this.#mode) === 0;
  }

  /**
   * Sends a request and resolves with its response. Fails fast with SmppWindowFullError when the
   * window is full, SmppBindStateError when the state forbids it, SmppStatusError when the peer
   * answers a non-zero command_status, SmppTimeoutError, or SmppClosedError.
   */
  request<C extends AnsweredRequest>(command: C, fields: PduInput<C> = {}): Promise<Pdu<ResponseOf<C>>> {
    if (this.#state === 'closed' || this.#state === 'unbinding') {
      return Promise.reject(new SmppClosedError(`session is ${this.#state}: ${command} not sent`));
    }
    const refusal = legality(this.role, command, this.#mode);
    if (refusal !== 0) return Promise.reject(new SmppBindStateError(command, this.#state));
    if (this.#inflight.size >= this.#window) return Promise.reject(new SmppWindowFullError(this.#window));
    return this.#sendRequest(command, fields) as Promise<Pdu<ResponseOf<C>>>;
  }

  /** ESME side: binds in `mode`. Resolves with the bind_resp once bound. */
  async bind(mode: BindMode, fields: PduInput<BindCommand>): Promise<Pdu<`${BindCommand}_resp`>> {
    if (this.role !== 'esme') throw new SmppBindStateError(`bind_${mode}`, `${this.#state} (role smsc)`);
    const command = `bind_${mode}` as BindCommand;
    const resp = await this.request(command, { interface_version: 0x34, ...fields });
    return resp as Pdu<`${BindCommand}_resp`>;
  }

  /** Sends a request that has no response (alert_notification, outbind). */
  notify(command: 'alert_notification' | 'outbind', fields: PduInput<typeof command> = {}): void {
    if (this.#state === 'closed') throw new SmppClosedError(`session is closed: ${command} not sent`);
    if (legality(this.role, command, this.#mode) !== 0) throw new SmppBindStateError(command, this.#state);
    this.#send(makePdu(command, fields, { sequence_number: this.#nextSeq() }));
  }

  /**
   * Answers an inbound request. A successful bind_resp moves the session to its bound state.
   * Answering after the session closed does nothing.
   */
  respond<C extends AnsweredRequest>(req: Pdu<C>, fields: PduInput<ResponseOf<C>> = {}, status = 0): void {
    if (this.#state === 'closed') return;
    const respCommand = RESPONSE_OF[req.command];
    if (!respCommand) return;
    if (this.#inboundPending > 0) this.#inboundPending--;
    this.#send(
      makePdu(respCommand, fields, { command_status: status, sequence_number: req.sequence_number }),
    );
    if (status === 0 && req.command in BIND_MODE && this.#mode === null) {
      const bind = req as Pdu<BindCommand>;
      this.#enterBound(BIND_MODE[bind.command], bind.system_id);
    }
    if (this.#readPausedForApp && this.#inboundPending <= this.#inboundWindow >> 1) {
      this.#readPausedForApp = false;
      this.#resumeReading();
    }
  }

  /**
   * Graceful unbind: stops new requests, waits (up to drainTimeoutMs) for those in flight, sends
   * unbind, waits for unbind_resp, and closes the connection.
   */
  async unbind(): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#mode === null) {
      this.close('closed before bind');
      return;
    }
    if (this.#state === 'unbinding') {
      await new Promise<void>((resolve) => this.once('close', () => resolve()));
      return;
    }
    this.#setState('unbinding');
    await this.#drain();
    if ((this.#state as SessionState) === 'closed') return;
    try {
      await this.#sendRequest('unbind', {});
      this.#log.info('unbound');
    } catch (err) {
      this.#log.warn({ err }, 'unbind not answered; closing anyway');
    }
    this.#teardown({ reason: 'unbound' }, true);
  }

  /**
   * Closes after flushing what is already written (a final response reaches the peer); everything
   * in flight fails with SmppClosedError. No unbind is exchanged.
   */
  end(reason: string): void {
    this.#teardown({ reason }, true);
  }

  /** Closes at once: everything in flight fails with SmppClosedError. */
  close(reason = 'closed by application', error?: Error): void {
    this.#teardown(error ? { reason, error } : { reason });
  }

  // -------------------------------------------------------------------------------------------
  // Outbound

  #nextSeq(): number {
    // §5.1.4: 0x00000001..0x7FFFFFFF, then wraps; never reuse one still in flight.
    do {
      this.#seq = this.#seq >= 0x7fffffff ? 1 : this.#seq + 1;
    } while (this.#inflight.has(this.#seq));
    return this.#seq;
  }

  /** Writes a request past the window and state checks (internal: enquire_link, unbind). */
  #sendRequest(command: AnsweredRequest, fields: PduInput<CommandName>): Promise<AnyPdu> {
    const seq = this.#nextSeq();
    try {
      this.#write(command, 0, seq, fields);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<AnyPdu>((resolve, reject) => {
      const pending: Pending = {
        command,
        deadline: this.#clock.now() + this.#requestTimeoutMs,
        resolve,
        reject,
      };
      if (command in BIND_MODE) pending.systemId = (fields as PduInput<BindCommand>).system_id ?? '';
      this.#inflight.set(seq, pending);
      this.#armSweep();
    });
  }

  #send(pdu: AnyPdu): void {
    this.#write(pdu.command, pdu.command_status, pdu.sequence_number, pdu);
  }

  /** Encodes a PDU from its parts into the outbound buffer; it goes out with the next flush. */
  #write(command: CommandName, status: number, seq: number, fields: PduInput<CommandName>): void {
    writePduParts(this.#writer, command, status, seq, fields, fields.tlvs);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Every PDU produced by the current callback and its promise reactions goes out in one
      // write, as soon as they have run: a batch per socket event, without waiting a loop turn.
      queueMicrotask(this.#flushTask);
    }
  }

  readonly #flushTask = (): void => this.#flush();

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#writer.pos === 0 || this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(this.#writer.take());
    if (this.#socket.writableLength > this.#writeHighWaterMark && !this.#readPausedForWrite) {
      // The peer is not reading what we answer: stop reading its requests until it catches up.
      this.#readPausedForWrite = true;
      this.#socket.pause();
    }
  }

  #onDrain(): void {
    if (this.#readPausedForWrite) {
      this.#readPausedForWrite = false;
      this.#resumeReading();
    }
  }

  #resumeReading(): void {
    if (!this.#readPausedForApp && !this.#readPausedForWrite && this.#state !== 'closed')
      this.#socket.resume();
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  #armSweep(): void {
    if (this.#sweepTimer || this.#inflight.size === 0) return;
    // The Map keeps insertion order and every request has the same timeout, so the first entry
    // has the earliest deadline: one timer serves the whole window.
    const first = this.#inflight.values().next().value as Pending;
    this.#sweepTimer = this.#clock.setTimeout(
      () => this.#sweep(),
      Math.max(0, first.deadline - this.#clock.now()),
    );
  }

  #sweep(): void {
    this.#sweepTimer = null;
    const now = this.#clock.now();
    for (const [seq, p] of this.#inflight) {
      if (p.deadline > now) break;
      this.#inflight.delete(seq);
      p.reject(new SmppTimeoutError(p.command, this.#requestTimeoutMs));
      if (p.command === 'enquire_link') {
        this.#teardown({ reason: `peer did not answer enquire_link within ${this.#requestTimeoutMs} ms` });
        return;
      }
    }
    this.#afterSettle();
    this.#armSweep();
  }

  #armEnquireLink(): void {
    if (this.#enquireLinkIntervalMs === 0 || this.#state === 'closed') return;
    this.#enquireTimer = this.#clock.setTimeout(() => {
      this.#enquireTimer = null;
      if (this.#state === 'closed') return;
      if (!this.#rxSinceCheck && (this.bound || this.role === 'esme')) {
        this.#sendRequest('enquire_link', {}).catch(() => {
          // A timeout closes the session in #sweep; a close already reported itself.
        });
      }
      this.#rxSinceCheck = false;
      this.#armEnquireLink();
    }, this.#enquireLinkIntervalMs);
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  #onFrame(buf: Buffer, start: number, end: number): void {
    let pdu: AnyPdu;
    try {
      pdu = decodePdu(buf, start, end);
    } catch (err) {
      this.#rxSinceCheck = true;
      if (err instanceof SmppPduError) this.#onDecodeError(err);
      else this.close('decoder failure', err as Error);
      return;
    }
    // The answer to our own enquire_link does not make the next one unneeded: counted, it would
    // have an idle link checked every other interval, and a dead peer found that much later.
    if (pdu.command !== 'enquire_link_resp') this.#rxSinceCheck = true;
    if (isResponseId(CommandId[pdu.command])) this.#onResponse(pdu);
    else this.#onRequest(pdu);
  }

  #onFramingError(err: SmppPduError): void {
    // The answer first: counting the error may close the session, and the nack must go with it.
    this.#nack(err.sequenceNumber ?? 0, err.commandStatus);
    this.#protocolError(err);
    this.#teardown({ reason: err.message, error: err }, true);
  }

  #onDecodeError(err: SmppPduError): void {
    const id = err.commandId ?? 0;
    const seq = err.sequenceNumber ?? 0;
    if (isResponseId(id)) {
      // A response we cannot read (generic_nack included): fail the request it answers; a
      // response is never answered.
      const pending = this.#inflight.get(seq);
      if (pending) {
        this.#inflight.delete(seq);
        pending.reject(err);
        this.#afterSettle();
      }
    } else {
      const name = commandName(id);
      const resp = name ? RESPONSE_OF[name] : undefined;
      if (resp) this.#send(makePdu(resp, {}, { command_status: err.commandStatus, sequence_number: seq }));
      else this.#nack(seq, err.commandStatus);
    }
    this.#protocolError(err);
  }

  #nack(seq: number, status: number): void {
    try {
      this.#send(makePdu('generic_nack', {}, { command_status: status, sequence_number: seq }));
    } catch (err) {
      this.emit('warning', err as Error);
    }
  }

  #protocolError(err: Error): void {
    const times = this.#protocolErrorTimes;
    const now = this.#clock.now();
    times.push(now);
    if (this.#protocolErrorWindowMs > 0) {
      let gone = 0;
      while (gone < times.length && now - times[gone]! >= this.#protocolErrorWindowMs) gone++;
      if (gone > 0) times.splice(0, gone);
    }
    const count = times.length;
    this.#log.warn({ err: err.message, count }, 'protocol error');
    this.emit('warning', err);
    if (count >= this.#maxProtocolErrors && this.#state !== 'closed') {
      const within = this.#protocolErrorWindowMs > 0 ? ` in ${this.#protocolErrorWindowMs / 1000} s` : '';
      this.#teardown({ reason: `${count} protocol errors${within}`, error: err }, true);
    }
  }

  #onRequest(pdu: AnyPdu): void {
    const peerRole: Role = this.role === 'esme' ? 'smsc' : 'esme';
    // While unbinding, the peer may still use the bind it had until our unbind reaches it.
    const refusal = legality(peerRole, pdu.command, this.#mode);
    if (refusal !== 0) {
      const resp = RESPONSE_OF[pdu.command];
      if (resp) {
        this.#send(makePdu(resp, {}, { command_status: refusal, sequence_number: pdu.sequence_number }));
      } else {
        this.#nack(pdu.sequence_number, refusal);
      }
      this.#protocolError(
        new SmppPduError(`${pdu.command} refused in state ${this.#state}: ${statusName(refusal)}`, refusal, {
          commandId: CommandId[pdu.command],
          sequenceNumber: pdu.sequence_number,
        }),
      );
      return;
    }
    switch (pdu.command) {
      case 'enquire_link':
        this.#send(makePdu('enquire_link_resp', {}, { sequence_number: pdu.sequence_number }));
        return;
      case 'unbind':
        this.#send(makePdu('unbind_resp', {}, { sequence_number: pdu.sequence_number }));
        this.#log.info('peer unbound');
        this.#teardown({ reason: 'peer unbound' }, true);
        return;
      case 'bind_transmitter':
      case 'bind_receiver':
      case 'bind_transceiver':
        this.#inboundPending++;
        if (this.listenerCount('bind') === 0) this.respond(pdu, {}, CommandStatus.ESME_RBINDFAIL);
        else this.#handOver('bind', pdu);
        return;
      case 'outbind':
        this.emit('outbind', pdu);
        return;
      case 'alert_notification':
        this.emit('alert', pdu);
        return;
      default:
        this.#inboundPending++;
        if (this.#inboundPending >= this.#inboundWindow && !this.#readPausedForApp) {
          this.#readPausedForApp = true;
          this.#socket.pause();
        }
        if (this.listenerCount('request') === 0) {
          this.respond(pdu as AppRequest, {}, CommandStatus.ESME_RSYSERR);
        } else {
          this.#handOver('request', pdu as AppRequest);
        }
    }
  }

  /**
   * Gives an inbound request to the application. A handler that throws must not take the socket
   * callback (and the process) with it: the request is answered ESME_RSYSERR and reported.
   */
  #handOver(event: 'bind' | 'request', pdu: Pdu<BindCommand> | AppRequest): void {
    try {
      if (event === 'bind') this.emit('bind', pdu as Pdu<BindCommand>);
      else this.emit('request', pdu as AppRequest);
    } catch (err) {
      this.#log.error({ err, command: pdu.command }, 'request handler threw');
      this.respond(pdu, {}, CommandStatus.ESME_RSYSERR);
      this.emit('warning', err instanceof Error ? err : new Error(String(err)));
    }
  }

  #onResponse(pdu: AnyPdu): void {
    const pending = this.#inflight.get(pdu.sequence_number);
    if (!pending) {
      // A late answer to a request that already timed out, or a stray one: nothing waits for it.
      this.#log.debug({ command: pdu.command, seq: pdu.sequence_number }, 'response matches no request');
      return;
    }
    this.#inflight.delete(pdu.sequence_number);
    const expected = RESPONSE_OF[pending.command];
    if (pdu.command === 'generic_nack' || pdu.command_status !== 0) {
      const status = pdu.command_status === 0 ? CommandStatus.ESME_RUNKNOWNERR : pdu.command_status;
      pending.reject(
        new SmppStatusError(pending.command, status, statusName(status), isRetryableStatus(status)),
      );
    } else if (pdu.command !== expected) {
      const err = new SmppPduError(
        `${pdu.command} answers ${pending.command}`,
        CommandStatus.ESME_RINVCMDID,
        {
          commandId: CommandId[pdu.command],
          sequenceNumber: pdu.sequence_number,
        },
      );
      pending.reject(err);
      this.#protocolError(err);
    } else {
      if (pending.command in BIND_MODE && this.#mode === null) {
        this.#enterBound(BIND_MODE[pending.command as BindCommand], pending.systemId ?? null);
      }
      pending.resolve(pdu);
    }
    this.#afterSettle();
  }

  #afterSettle(): void {
    this.onSettle?.();
    if (this.#inflight.size === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  #drain(): Promise<void> {
    if (this.#inflight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#log.warn(
          { inFlight: this.#inflight.size },
          'drain deadline passed; unbinding with requests in flight',
        );
        resolve();
      }, this.#drainTimeoutMs);
      this.#drainWaiters.push(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  // -------------------------------------------------------------------------------------------
  // State

  #enterBound(mode: BindMode, systemId: string | null): void {
    this.#mode = mode;
    this.#systemId = systemId;
    this.#bindTimer?.cancel();
    this.#bindTimer = null;
    this.#setState(MODE_STATE[mode]);
    this.#log.info({ mode, systemId }, 'bound');
    this.emit('bound', mode);
  }

  #setState(to: SessionState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#log.debug({ from, to }, 'state');
    this.emit('state', from, to);
  }

  /**
   * Ends the session once: fails everything in flight, stops timers and the parser, closes the
   * socket (after flushing what is written when `graceful`), and emits 'close' with the reason.
   */
  #teardown(info: CloseInfo, graceful = false): void {
    if (this.#state === 'closed') return;
    this.#closeInfo = info;
    this.#setState('closed');
    this.#framer.stop();
    this.#sweepTimer?.cancel();
    this.#enquireTimer?.cancel();
    this.#bindTimer?.cancel();
    const pending = [...this.#inflight.values()];
    this.#inflight.clear();
    for (const p of pending) {
      p.reject(
        new SmppClosedError(`session closed before ${p.command} was answered: ${info.reason}`, {
          sent: true,
        }),
      );
    }
    this.#afterSettle();
    if (graceful && !this.#socket.destroyed) {
      if (this.#writer.pos > 0) this.#socket.write(this.#writer.take());
      this.#socket.end();
      // A peer that never closes its side must not hold the socket open.
      this.#clock.setTimeout(() => this.#socket.destroy(), 2_000);
    } else {
      this.#socket.destroy();
    }
    if (info.error) this.#log.info({ reason: info.reason, err: info.error.message }, 'session closed');
    else this.#log.info({ reason: info.reason }, 'session closed');
    this.emit('close', info);
  }

  /** Why the session closed, once it has. */
  get closeInfo(): CloseInfo | null {
    return this.#closeInfo;
  }
}

function checkRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer ${min}..${max}, got ${value}`);
  }
  return value;
}
