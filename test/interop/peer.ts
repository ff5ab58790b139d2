/**
 * Typed helpers around the `smpp` npm package (node-smpp), the independent SMPP implementation the
 * interop tests run our stack against: connect, request/response as promises, and inboxes that
 * queue (and answer) the requests the package receives.
 */
import type { AddressInfo } from 'node:net';
import smpp, { type PDU, type PduCommand, type PduOptions, type Server, type Session } from 'smpp';

export type { PDU, Server, Session };
export { smpp };

/** Connects a package client to 127.0.0.1:port; resolves once the TCP connection is up. */
export function connectPeer(port: number): Promise<Session> {
  return new Promise((resolve, reject) => {
    const session = smpp.connect({ url: `smpp://127.0.0.1:${port}` });
    const onError = (err: Error) => reject(err);
    session.once('error', onError);
    session.once('connect', () => {
      session.off('error', onError);
      // A reset by our side must not become an unhandled 'error' event.
      session.on('error', () => {});
      resolve(session);
    });
  });
}

/** Starts a package server on 127.0.0.1, port 0; resolves with its port. */
export function listenPeerServer(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Destroys every session of a package server and closes it. */
export function closePeerServer(server: Server): Promise<void> {
  for (const s of [...server.sessions]) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Resolves when the package session's connection has closed (at once if it already has). */
export function peerClosed(session: Session): Promise<void> {
  if (session.socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => session.once('close', () => resolve()));
}

/**
 * Sends a request over a package session and resolves with its response PDU; rejects if the
 * connection closes first.
 */
export function call(session: Session, command: PduCommand, options: PduOptions = {}): Promise<PDU> {
  return new Promise((resolve, reject) => {
    const onClose = () => reject(new Error(`connection closed before ${command} was answered`));
    session.once('close', onClose);
    const sent = session.send(new smpp.PDU(command, options), (resp) => {
      session.off('close', onClose);
      resolve(resp);
    });
    if (!sent) {
      session.off('close', onClose);
      reject(new Error(`${command} not sent: the socket is not writable`));
    }
  });
}

/**
 * Queues every `command` request a package session receives, answering each at once with
 * `answer(pdu)` (default: an empty response with status 0), as a well-behaved peer does.
 */
export class PeerInbox {
  readonly #queue: PDU[] = [];
  #waiters: Array<(pdu: PDU) => void> = [];

  constructor(session: Session, command: PduCommand, answer: (pdu: PDU) => PduOptions = () => ({})) {
    session.on(command, (pdu) => {
      session.send(pdu.response(answer(pdu)));
      const w = this.#waiters.shift();
      if (w) w(pdu);
      else this.#queue.push(pdu);
    });
  }

  next(): Promise<PDU> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async take(n: number): Promise<PDU[]> {
    const out: PDU[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next());
    return out;
  }
}

/** The text of a short_message as the package decoded it (it decodes by data_coding). */
export function peerText(pdu: PDU): string {
  const message = pdu.short_message?.message;
  if (message === undefined) throw new Error(`${pdu.command} has no short_message`);
  return typeof message === 'string' ? message : message.toString('latin1');
}

/**
 * The concatenation IE (00 03 ref total seq, or 08 04 ref ref total seq) of a short_message the
 * package decoded, or null when it carries none.
 */
export function concatInfo(pdu: PDU): { ref: number; total: number; seq: number } | null {
  for (const ie of pdu.short_message?.udh ?? []) {
    if (ie[0] === 0x00 && ie[1] === 3) return { ref: ie[2]!, total: ie[3]!, seq: ie[4]! };
    if (ie[0] === 0x08 && ie[1] === 4) return { ref: ie.readUInt16BE(2), total: ie[4]!, seq: ie[5]! };
  }
  return null;
}
