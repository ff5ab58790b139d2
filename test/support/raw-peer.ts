/**
 * A PDU-level SMPP peer over a real loopback socket, scripted by the test: it sends exactly what it
 * is told (valid or not) and queues every PDU it receives, so a test can play a misbehaving ESME or
 * a silent SMSC against our stack.
 */
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { CommandName } from '../../src/smpp/constants.js';
import { decodePdu, encodePdu, makePdu, PduFramer } from '../../src/smpp/pdu/index.js';
import type { AnyPdu, Pdu, PduInput } from '../../src/smpp/pdu/types.js';

export class RawPeer {
  readonly socket: Socket;
  readonly #received: AnyPdu[] = [];
  #waiters: Array<(pdu: AnyPdu | null) => void> = [];
  #ended = false;
  readonly closed: Promise<void>;

  constructor(socket: Socket) {
    this.socket = socket;
    const framer = new PduFramer({
      frame: (buf, start, end) => this.#deliver(decodePdu(buf, start, end)),
      error: (err) => {
        throw err;
      },
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#ended = true;
        for (const w of this.#waiters) w(null);
        this.#waiters = [];
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  #deliver(pdu: AnyPdu): void {
    const w = this.#waiters.shift();
    if (w) w(pdu);
    else this.#received.push(pdu);
  }

  send(pdu: AnyPdu | Buffer): void {
    this.socket.write(Buffer.isBuffer(pdu) ? pdu : encodePdu(pdu));
  }

  sendPdu<C extends CommandName>(command: C, fields: PduInput<C>, seq: number, status = 0): void {
    this.send(makePdu(command, fields, { sequence_number: seq, command_status: status }));
  }

  /** The next PDU received; rejects if the connection closes first. */
  async next(): Promise<AnyPdu> {
    const queued = this.#received.shift();
    if (queued) return queued;
    if (this.#ended) throw new Error('connection closed');
    const pdu = await new Promise<AnyPdu | null>((resolve) => this.#waiters.push(resolve));
    if (!pdu) throw new Error('connection closed');
    return pdu;
  }

  /** The next PDU, which must be `command`. */
  async expect<C extends CommandName>(command: C): Promise<Pdu<C>> {
    const pdu = await this.next();
    if (pdu.command !== command) {
      throw new Error(
        `expected ${command}, got ${pdu.command} (status 0x${pdu.command_status.toString(16)})`,
      );
    }
    return pdu as Pdu<C>;
  }

  /** Binds as an ESME (transceiver unless told otherwise) and returns the bind_resp. */
  async bind(
    mode: 'transmitter' | 'receiver' | 'transceiver' = 'transceiver',
    credentials = { system_id: 'test', password: 'secret' },
  ): Promise<AnyPdu> {
    this.sendPdu(`bind_${mode}`, { ...credentials, interface_version: 0x34 }, 1);
    return this.next();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A TCP listener whose connections arrive as RawPeers, in order. */
export class RawServer {
  readonly #server: net.Server;
  readonly #peers: RawPeer[] = [];
  readonly #all: RawPeer[] = [];
  #waiters: Array<(p: RawPeer) => void> = [];
  connections = 0;

  constructor() {
    this.#server = net.createServer((socket) => {
      this.connections++;
      const peer = new RawPeer(socket);
      this.#all.push(peer);
      const w = this.#waiters.shift();
      if (w) w(peer);
      else this.#peers.push(peer);
    });
  }

  async listen(): Promise<number> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return (this.#server.address() as AddressInfo).port;
  }

  /** The next connection accepted. */
  accept(): Promise<RawPeer> {
    const p = this.#peers.shift();
    if (p) return Promise.resolve(p);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const p of this.#all) p.close();
    await closed;
  }
}
