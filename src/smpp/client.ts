/**
 * The ESME building block: keeps a set of binds to one SMSC up. Each bind slot connects, binds,
 * and after any loss reconnects with capped exponential backoff and jitter, then binds again.
 * submit() goes out on a transmitting bind with room in its window, round robin.
 */
import { EventEmitter } from 'node:events';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import {
  ConfigError,
  SmppClosedError,
  SmppNotBoundError,
  SmppStatusError,
  SmppWindowFullError,
} from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { Pdu, PduInput, ResponseOf } from './pdu/types.js';
import {
  type AnsweredRequest,
  type AppRequest,
  type BindMode,
  type CloseInfo,
  Session,
  type SessionOptions,
} from './session.js';

/** How the client binds: one mode for every slot, or a transmitter and a receiver per slot. */
export type BindPlan = BindMode | 'transmitter+receiver';

export interface ReconnectOptions {
  /** ms before the first reconnect. Default 1,000. */
  initialDelayMs?: number;
  /** ms the delay never exceeds. Default 60,000. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  factor?: number;
  /** Share of the delay taken off at random (0..1), so reconnecting clients spread out. Default 0.5. */
  jitter?: number;
}

export interface DialOptions {
  host: string;
  port: number;
  tls: tls.ConnectionOptions | null;
}

/** Opens a connected socket. Injected in tests; the default dials TCP or TLS. */
export type Dial = (options: DialOptions) => Promise<Socket>;

export interface ClientOptions {
  host: string;
  port: number;
  /** TLS options (or true for defaults); plain TCP when absent. */
  tls?: tls.ConnectionOptions | boolean;
  system_id: string;
  password: string;
  system_type?: string;
  addr_ton?: number;
  addr_npi?: number;
  address_range?: string;
  /** Default 'transceiver'. */
  bind?: BindPlan;
  /** Number of binds (for 'transmitter+receiver': of each). Default 1. */
  binds?: number;
  /** Options for every session: window, requestTimeoutMs, enquireLinkIntervalMs, ... */
  session?: Omit<SessionOptions, 'socket' | 'role' | 'clock' | 'logger'>;
  reconnect?: ReconnectOptions;
  /** ms a connection attempt may take. Default 10,000. */
  connectTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Random source for jitter, in [0, 1). Injected for deterministic tests. */
  random?: () => number;
  dial?: Dial;
}

export interface SlotInfo {
  slot: number;
  mode: BindMode;
}

export interface ClientEvents {
  bound: [info: SlotInfo & { session: Session }];
  /** A bound session closed; the slot dials again after `retryInMs` (null: stopping). */
  disconnected: [info: SlotInfo & CloseInfo & { retryInMs: number | null }];
  /** A connection or bind attempt failed; the slot retries after `retryInMs`. */
  connect_failed: [info: SlotInfo & { error: Error; attempt: number; retryInMs: number }];
  /** deliver_sm, data_sm: answer with session.respond(pdu, ...). */
  request: [pdu: AppRequest, session: Session];
  warning: [error: Error];
}

interface Slot {
  index: number;
  mode: BindMode;
  session: Session | null;
  attempt: number;
  /** When the slot's current session bound; null while it has none. */
  boundAt: number | null;
  timer: TimerHandle | null;
  connecting: boolean;
}

/**
 * A bind that stays up this long resets its slot's backoff. One dropped sooner is a failed
 * attempt like a refused one: a carrier that takes the bind and then closes the connection is
 * not dialled again every second.
 */
const STABLE_BIND_MS = 30_000;

export const defaultDial: Dial = ({ host, port, tls: tlsOptions }) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = tlsOptions
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...tlsOptions })
      : net.connect({ host, port });
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });

export class SmppClient extends EventEmitter<ClientEvents> {
  readonly #options: ClientOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #dial: Dial;
  readonly #slots: Slot[] = [];
  readonly #reconnect: Required<ReconnectOptions>;
  #started = false;
  #stopped = false;
  #next = 0;
  #capacityWaiters: Array<() => void> = [];

  constructor(options: ClientOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    // `smsc`, not `connector`: the caller's logger names the connector (main.ts) and a second
    // field of that name would shadow it in most log stores.
    this.#log = (options.logger ?? silentLogger).child({ smsc: `${options.host}:${options.port}` });
    this.#random = options.random ?? Math.random;
    this.#dial = options.dial ?? defaultDial;
    this.#reconnect = {
      initialDelayMs: options.reconnect?.initialDelayMs ?? 1_000,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 60_000,
      factor: options.reconnect?.factor ?? 2,
      jitter: options.reconnect?.jitter ?? 0.5,
    };
    const r = this.#reconnect;
    if (r.initialDelayMs < 0 || r.maxDelayMs < r.initialDelayMs) {
      throw new ConfigError(
        `reconnect delays must satisfy 0 <= initialDelayMs <= maxDelayMs, got ${r.initialDelayMs} and ${r.maxDelayMs}`,
      );
    }
    if (r.factor < 1) throw new ConfigError(`reconnect.factor must be >= 1, got ${r.factor}`);
    if (r.jitter < 0 || r.jitter > 1) throw new ConfigError(`reconnect.jitter must be 0..1, got ${r.jitter}`);
    const binds = options.binds ?? 1;
    if (!Number.isInteger(binds) || binds < 1 || binds > 64) {
      throw new ConfigError(`binds must be an integer 1..64, got ${binds}`);
    }
    const plan = options.bind ?? 'transceiver';
    const modes: BindMode[] = plan === 'transmitter+receiver' ? ['transmitter', 'receiver'] : [plan];
    for (let i = 0; i < binds; i++) {
      for (const mode of modes) {
        this.#slots.push({
          index: this.#slots.length,
          mode,
          session: null,
          attempt: 0,
          boundAt: null,
          timer: null,
          connecting: false,
        });
      }
    }
  }

  /** Connects and binds every slot, and keeps them bound until stop(). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const slot of this.#slots) void this.#connect(slot);
  }

  /** Sessions currently bound. */
  get sessions(): Session[] {
    return this.#slots.flatMap((s) => (s.session?.bound ? [s.session] : []));
  }

  /** The binds this client keeps, by mode (`binds` of each mode of its plan). */
  get configuredBinds(): ReadonlyMap<BindMode, number> {
    const by = new Map<BindMode, number>();
    for (const s of this.#slots) by.set(s.mode, (by.get(s.mode) ?? 0) + 1);
    return by;
  }

  /** Requests that can be sent right now on transmitting binds. */
  get capacity(): number {
    let free = 0;
    for (const s of this.#slots) {
      const session = s.session;
      if (session?.canSend('submit_sm')) free += session.window - session.inFlight;
    }
    return free;
  }

  /** Resolves when a transmitting bind has room (at once if one has). */
  waitForCapacity(): Promise<void> {
    if (this.capacity > 0) return Promise.resolve();
    return new Promise((resolve) => this.#capacityWaiters.push(resolve));
  }

  submit(fields: PduInput<'submit_sm'>): Promise<Pdu<'submit_sm_resp'>> {
    return this.request('submit_sm', fields);
  }

  /**
   * Sends a request on the next transmitting bind with room. Fails fast with SmppNotBoundError
   * when no bind can transmit and SmppWindowFullError when every window is full.
   */
  request<C extends AnsweredRequest>(command: C, fields: PduInput<C>): Promise<Pdu<ResponseOf<C>>> {
    const n = this.#slots.length;
    let anyBound = false;
    for (let i = 0; i < n; i++) {
      const slot = this.#slots[(this.#next + i) % n]!;
      const session = slot.session;
      if (!session?.canSend(command)) continue;
      anyBound = true;
      if (session.inFlight >= session.window) continue;
      this.#next = (slot.index + 1) % n;
      return session.request(command, fields);
    }
    if (!anyBound) return Promise.reject(new SmppNotBoundError(`no bind can send ${command} now`));
    return Promise.reject(new SmppWindowFullError(this.#slots[0]?.session?.window ?? 0));
  }

  /** Stops reconnecting and unbinds every session gracefully (draining what is in flight). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const slot of this.#slots) {
      slot.timer?.cancel();
      slot.timer = null;
    }
    await Promise.all(this.#slots.map((s) => s.session?.unbind()));
    const waiters = this.#capacityWaiters;
    this.#capacityWaiters = [];
    for (const w of waiters) w();
  }

  readonly #wakeCapacity = (): void => {
    if (this.#capacityWaiters.length === 0 || this.capacity === 0) return;
    const waiters = this.#capacityWaiters;
    this.#capacityWaiters = [];
    for (const w of waiters) w();
  };

  async #connect(slot: Slot): Promise<void> {
    if (this.#stopped || slot.connecting) return;
    slot.connecting = true;
    slot.timer = null;
    const o = this.#options;
    const info = { slot: slot.index, mode: slot.mode };
    let session: Session | null = null;
    try {
      const socket = await this.#dialWithTimeout();
      if (this.#stopped) {
        socket.destroy();
        return;
      }
      session = new Session({
        ...o.session,
        socket,
        role: 'esme',
        clock: this.#clock,
        logger: this.#log,
      });
      const s = session;
      s.on('request', (pdu) => this.emit('request', pdu, s));
      s.on('warning', (err) => this.emit('warning', err));
      s.on('close', (closeInfo) => this.#onSessionClose(slot, s, closeInfo));
      s.onSettle = this.#wakeCapacity;
      slot.session = s;
      await s.bind(slot.mode, {
        system_id: o.system_id,
        password: o.password,
        system_type: o.system_type ?? '',
        addr_ton: o.addr_ton ?? 0,
        addr_npi: o.addr_npi ?? 0,
        address_range: o.address_range ?? '',
      });
      slot.boundAt = this.#clock.now();
      this.emit('bound', { ...info, session: s });
      this.#wakeCapacity();
    } catch (err) {
      // A session that never bound reports nothing on close: the retry is scheduled here.
      session?.close(`bind failed: ${(err as Error).message}`);
      slot.session = null;
      slot.connecting = false;
      this.#retry(slot, err as Error);
    } finally {
      slot.connecting = false;
    }
  }

  #retry(slot: Slot, error: Error): void {
    const retryInMs = this.#scheduleReconnect(slot);
    if (retryInMs === null) return;
    const level = error instanceof SmppStatusError ? 'error' : 'warn';
    this.#log[level](
      { slot: slot.index, err: error.message, attempt: slot.attempt, retryInMs },
      'bind attempt failed',
    );
    this.emit('connect_failed', {
      slot: slot.index,
      mode: slot.mode,
      error,
      attempt: slot.attempt,
      retryInMs,
    });
  }

  #onSessionClose(slot: Slot, session: Session, info: CloseInfo): void {
    if (slot.session !== session) return;
    slot.session = null;
    if (slot.boundAt !== null && this.#clock.now() - slot.boundAt >= STABLE_BIND_MS) slot.attempt = 0;
    slot.boundAt = null;
    if (session.mode === null) return;
    const retryInMs = this.#scheduleReconnect(slot);
    this.emit('disconnected', { slot: slot.index, mode: slot.mode, ...info, retryInMs });
  }

  /**
   * Arms the slot's next attempt after initial × factor^attempt ms, capped at maxDelayMs, less a
   * random share (jitter). Returns the delay, or null when none is due (stopped, already armed).
   */
  #scheduleReconnect(slot: Slot): number | null {
    if (this.#stopped || slot.timer || slot.connecting) return null;
    const r = this.#reconnect;
    const base = Math.min(r.maxDelayMs, r.initialDelayMs * r.factor ** slot.attempt);
    const delay = Math.round(base * (1 - r.jitter * this.#random()));
    slot.attempt++;
    this.#log.debug({ slot: slot.index, delay }, 'reconnect scheduled');
    slot.timer = this.#clock.setTimeout(() => void this.#connect(slot), delay);
    return delay;
  }

  #dialWithTimeout(): Promise<Socket> {
    const o = this.#options;
    const timeoutMs = o.connectTimeoutMs ?? 10_000;
    const tlsOptions = o.tls === true ? {} : o.tls || null;
    return new Promise<Socket>((resolve, reject) => {
      let done = false;
      const timer = this.#clock.setTimeout(() => {
        if (done) return;
        done = true;
        reject(new SmppClosedError(`connect to ${o.host}:${o.port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#dial({ host: o.host, port: o.port, tls: tlsOptions }).then(
        (socket) => {
          timer.cancel();
          if (done) socket.destroy();
          else {
            done = true;
            resolve(socket);
          }
        },
        (err: unknown) => {
          timer.cancel();
          if (!done) {
            done = true;
            reject(
              new SmppClosedError(`connect to ${o.host}:${o.port} failed: ${(err as Error).message}`, {
                cause: err,
              }),
            );
          }
        },
      );
    });
  }
}
