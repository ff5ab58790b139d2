/**
 * The SMSC side: listens on TCP or TLS, authenticates binds through an injected function, and
 * hands bound sessions to the application. A failed bind is answered with the status the
 * authenticator chose and the connection is closed (§4.1: the ESME may try again on a new one).
 */
import { EventEmitter } from 'node:events';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import tls from 'node:tls';
import { type Clock, systemClock } from '../clock.js';
import { type Logger, silentLogger } from '../logger.js';
import { CommandStatus } from './constants.js';
import type { Pdu } from './pdu/types.js';
import { type BindCommand, type BindMode, Session, type SessionOptions } from './session.js';

export interface BindAttempt {
  system_id: string;
  password: string;
  system_type: string;
  mode: BindMode;
  /** "address:port" of the ESME. */
  peer: string;
}

/** 0 (ESME_ROK) admits the bind; any other command_status refuses it (ESME_RINVPASWD, ESME_RINVSYSID, ...). */
export type Authenticate = (attempt: BindAttempt) => number | Promise<number>;

export interface ServerOptions {
  authenticate: Authenticate;
  /** system_id this SMSC answers binds with. Default 'sluice'. */
  systemId?: string;
  /** TLS key and certificate; plain TCP when absent. */
  tls?: tls.TlsOptions;
  /** Options for every session: window, requestTimeoutMs, enquireLinkIntervalMs, ... */
  session?: Omit<SessionOptions, 'socket' | 'role' | 'clock' | 'logger'>;
  /** Connections open at once; more are refused. Default 1,000. */
  maxConnections?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface ServerEvents {
  /** A connection was accepted (not yet bound). */
  connection: [session: Session];
  /** A session bound: from now on it carries traffic. */
  bound: [session: Session];
  /** A bind was refused with `status`. */
  bind_refused: [attempt: BindAttempt, status: number];
  warning: [error: Error];
}

const BIND_MODE: Record<BindCommand, BindMode> = {
  bind_transmitter: 'transmitter',
  bind_receiver: 'receiver',
  bind_transceiver: 'transceiver',
};

export class SmppServer extends EventEmitter<ServerEvents> {
  readonly #options: ServerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #sessions = new Set<Session>();

  constructor(options: ServerOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    // A logger already naming its component (the simulator's) keeps it: a second `component`
    // binding would write the key twice in every line.
    const parent = options.logger ?? silentLogger;
    this.#log = 'component' in parent.bindings() ? parent : parent.child({ component: 'smpp-server' });
    const onSocket = (socket: Socket) => this.#accept(socket);
    this.#server = options.tls ? tls.createServer(options.tls, onSocket) : net.createServer(onSocket);
    this.#server.maxConnections = options.maxConnections ?? 1000;
    this.#server.on('error', (err) => this.emit('warning', err));
  }

  /** Every open session, bound or not. */
  get sessions(): ReadonlySet<Session> {
    return this.#sessions;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address() as AddressInfo;
        this.#log.info({ host: address.address, port: address.port, tls: !!this.#options.tls }, 'listening');
        resolve(address);
      });
    });
  }

  get address(): AddressInfo | null {
    return this.#server.address() as AddressInfo | null;
  }

  /** Stops accepting, unbinds every session (draining what is in flight) and closes. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all([...this.#sessions].map((s) => s.unbind()));
    await closed;
  }

  #accept(socket: Socket): void {
    const session = new Session({
      ...this.#options.session,
      socket,
      role: 'smsc',
      clock: this.#clock,
      logger: this.#log,
    });
    this.#sessions.add(session);
    session.on('close', () => this.#sessions.delete(session));
    session.on('warning', (err) => this.emit('warning', err));
    session.on('bind', (pdu) => void this.#onBind(session, pdu));
    this.emit('connection', session);
  }

  async #onBind(session: Session, pdu: Pdu<BindCommand>): Promise<void> {
    const attempt: BindAttempt = {
      system_id: pdu.system_id,
      password: pdu.password,
      system_type: pdu.system_type,
      mode: BIND_MODE[pdu.command],
      peer: session.peer,
    };
    let status: number;
    try {
      status = await this.#options.authenticate(attempt);
    } catch (err) {
      this.#log.error({ err }, 'authenticate failed');
      status = CommandStatus.ESME_RBINDFAIL;
    }
    const systemId = this.#options.systemId ?? 'sluice';
    if (status === CommandStatus.ESME_ROK) {
      session.respond(pdu, { system_id: systemId, tlvs: { sc_interface_version: 0x34 } });
      this.emit('bound', session);
      return;
    }
    this.#log.warn({ systemId: pdu.system_id, peer: session.peer, status }, 'bind refused');
    session.respond(pdu, { system_id: systemId }, status);
    this.emit('bind_refused', attempt, status);
    session.end('bind refused');
  }
}
