/**
 * Fuzzing a live SmppServer over TCP, as a black box: raw sockets bind as a transceiver, then send
 * valid, mutated and random PDUs. The process must never crash, the server must only ever send
 * well-formed PDUs, answer errors with generic_nack or the matching *_resp with a non-zero status,
 * close after maxProtocolErrors (10) protocol errors and after a fatal framing error, and release
 * every session and its memory.
 *
 * The PRNG is seeded: a failure names the seed; rerun with SLUICE_FUZZ_SEED=<seed> to replay it.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { SmppPduError } from '../../src/errors.js';
import {
  CommandId,
  type CommandName,
  CommandStatus,
  commandName,
  isResponseId,
} from '../../src/smpp/constants.js';
import { DEFAULT_MAX_PDU_LENGTH, decodePdu, encodePdu, makePdu } from '../../src/smpp/pdu/codec.js';
import { PduFramer } from '../../src/smpp/pdu/framer.js';
import type { AnyPdu } from '../../src/smpp/pdu/types.js';
import { SmppServer } from '../../src/smpp/server.js';
import type { Session } from '../../src/smpp/session.js';
import { errorText, hugeDataSm, Prng, rawPdu, samplePdus } from './helpers.js';

const SEED = process.env.SLUICE_FUZZ_SEED
  ? Number(process.env.SLUICE_FUZZ_SEED) >>> 0
  : Math.floor(Math.random() * 0x100000000);

/** The sequence number of the enquire_link that closes a round of in-sync traffic. */
const MARKER_SEQ = 0x7ffffffe;
/** The server's default protocol-error budget (SessionOptions.maxProtocolErrors). */
const MAX_PROTOCOL_ERRORS = 10;
/** Measured rounds (of 24 connections each), after one warm-up round. */
const ROUNDS = 30;

// ---------------------------------------------------------------------------------------------
// A raw ESME: writes bytes, frames and decodes everything the server sends, records any flaw.

class FuzzPeer {
  readonly socket: net.Socket;
  readonly received: AnyPdu[] = [];
  /** Server output that did not frame or decode: must stay empty. */
  readonly flaws: string[] = [];
  readonly closed: Promise<void>;
  /** ECONNRESET / EPIPE seen while the server was closing, if any. */
  socketError: string | null = null;
  #framer: PduFramer;
  #waiters: Array<{ match: (pdu: AnyPdu) => boolean; resolve: (pdu: AnyPdu | null) => void }> = [];
  #ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#framer = new PduFramer({
      frame: (buf, start, end) => {
        try {
          this.#deliver(decodePdu(buf, start, end));
        } catch (err) {
          this.flaws.push(`undecodable PDU from the server: ${errorText(err)}`);
        }
      },
      error: (err) => this.flaws.push(`unframeable output from the server: ${err.message}`),
    });
    socket.on('data', (chunk: Buffer) => this.#framer.push(chunk));
    socket.on('error', (err: Error) => {
      this.socketError = 'code' in err && typeof err.code === 'string' ? err.code : err.message;
    });
    // Not once(): it rejects on 'error', and a reset is reported through socketError instead.
    this.closed = new Promise<void>((resolve) => socket.once('close', () => resolve())).then(() => {
      this.#ended = true;
      // A connection must not end in the middle of a PDU from the server.
      if (this.#framer.buffered > 0)
        this.flaws.push(`${this.#framer.buffered} bytes of a partial PDU at close`);
      for (const w of this.#waiters.splice(0)) w.resolve(null);
    });
  }

  static async connect(port: number): Promise<FuzzPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new FuzzPeer(socket);
  }

  #deliver(pdu: AnyPdu): void {
    this.received.push(pdu);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(pdu)) return true;
      w.resolve(pdu);
      return false;
    });
  }

  /** The first PDU received (already or later) that matches; null if the connection closes first. */
  waitFor(match: (pdu: AnyPdu) => boolean): Promise<AnyPdu | null> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  async bind(): Promise<void> {
    this.write(
      encodePdu(
        makePdu(
          'bind_transceiver',
          { system_id: 'fuzzer', password: 'secret', interface_version: 0x34 },
          { sequence_number: 1 },
        ),
      ),
    );
    const resp = await this.waitFor((p) => p.sequence_number === 1);
    if (resp?.command !== 'bind_transceiver_resp' || resp.command_status !== 0) {
      throw new Error(`bind failed: ${JSON.stringify(resp)}`);
    }
    this.received.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// What the server must answer to one in-sync frame (SMPP v3.4 §2.3, §4, from the ESME's side)

/** Requests an ESME may send on a transceiver bind (§2.3 table 2-1), answered by the application. */
const ESME_REQUESTS = new Set<CommandName>([
  'submit_sm',
  'submit_multi',
  'data_sm',
  'query_sm',
  'cancel_sm',
  'replace_sm',
]);

interface Answer {
  command: CommandName;
  sequence_number: number;
  /** 'ok' for 0, 'refused' for any non-zero status, or the exact status. */
  status: 'ok' | 'refused' | number;
}

interface Expectation {
  /** The frame is a protocol error (it counts towards maxProtocolErrors). */
  error: boolean;
  answer: Answer | null;
}

function responseTo(command: CommandName | undefined): CommandName {
  const resp = command && `${command}_resp`;
  return resp && resp in CommandId ? (resp as CommandName) : 'generic_nack';
}

function expectationFor(frame: Buffer): Expectation {
  const id = frame.readUInt32BE(4);
  const seq = frame.readUInt32BE(12);
  let pdu: AnyPdu;
  try {
    pdu = decodePdu(frame);
  } catch (err) {
    if (!(err instanceof SmppPduError)) throw err;
    // Nothing answers a response, even one that cannot be read (it fails the request it answers).
    if (isResponseId(id)) return { error: true, answer: null };
    return {
      error: true,
      answer: { command: responseTo(commandName(id)), sequence_number: seq, status: err.commandStatus },
    };
  }
  if (isResponseId(id)) return { error: false, answer: null };
  const answer = (status: Answer['status']): Answer => ({
    command: responseTo(pdu.command),
    sequence_number: seq,
    status,
  });
  if (pdu.command === 'enquire_link' || ESME_REQUESTS.has(pdu.command))
    return { error: false, answer: answer('ok') };
  // A second bind, an outbind, a deliver_sm or alert_notification from an ESME: refused.
  return { error: true, answer: answer('refused') };
}

function matches(pdu: AnyPdu, want: Answer): boolean {
  if (pdu.command !== want.command || pdu.sequence_number !== want.sequence_number) return false;
  if (want.status === 'ok') return pdu.command_status === 0;
  if (want.status === 'refused') return pdu.command_status !== 0;
  return pdu.command_status === want.status;
}

function show(p: AnyPdu | Answer | undefined): string {
  if (!p) return 'nothing';
  const status = 'status' in p ? p.status : p.command_status;
  return `${p.command} #${p.sequence_number} status ${status}`;
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** Requests an ESME may send on a transceiver bind, and responses (ignored when nothing waits). */
const LEGAL = new Set<CommandName>([
  ...ESME_REQUESTS,
  'enquire_link',
  'deliver_sm_resp',
  'data_sm_resp',
  'generic_nack',
]);
/** Valid traffic of a well-behaved ESME. */
const BASE = samplePdus()
  .filter((p) => LEGAL.has(p.command))
  .map((p) => encodePdu(p));
/** Valid PDUs an ESME must not send on this bind (binds, outbind, deliver_sm, alert_notification). */
const OUT_OF_PLACE = samplePdus()
  .filter((p) => !LEGAL.has(p.command) && !isResponseId(CommandId[p.command]) && p.command !== 'unbind')
  .map((p) => encodePdu(p));
/** Every command, unbind and binds included, for traffic where anything goes. */
const ALL = samplePdus().map((p) => encodePdu(p));
const HUGE = encodePdu(hugeDataSm(0));
const KNOWN_IDS = Object.values(CommandId);

function withSeq(frame: Buffer, seq: number): Buffer {
  const out = Buffer.from(frame);
  out.writeUInt32BE(seq >>> 0, 12);
  return out;
}

function fixLength(frame: Buffer): Buffer {
  frame.writeUInt32BE(frame.length, 0);
  return frame;
}

/** A mutation that keeps command_length true, so the stream stays in sync. */
function mutateInSync(rng: Prng, frame: Buffer): Buffer {
  const f = Buffer.from(frame);
  switch (rng.int(7)) {
    case 0: {
      // Bit flips anywhere after command_length.
      for (let n = rng.range(1, 3); n > 0; n--) {
        const at = 4 + rng.int(f.length - 4);
        f[at] = f[at]! ^ (1 << rng.int(8));
      }
      return f;
    }
    case 1: // Truncation inside the body (a missing field).
      return fixLength(Buffer.from(f.subarray(0, rng.range(16, Math.max(16, f.length - 1)))));
    case 2: // Another command_id: a known one (a body that does not fit) or any number.
      f.writeUInt32BE(rng.chance(0.7) ? rng.pick(KNOWN_IDS) : rng.u32(), 4);
      return f;
    case 3: // Random octets over the body.
      for (let n = rng.range(1, 6); n > 0 && f.length > 16; n--)
        f[16 + rng.int(f.length - 16)] = rng.int(256);
      return f;
    case 4: // Trailing bytes: a broken or vendor TLV stream.
      return fixLength(Buffer.concat([f, rng.bytes(rng.range(1, 12))]));
    case 5: // A random command_status on whatever it is.
      f.writeUInt32BE(rng.chance(0.5) ? rng.int(0x100) : rng.u32(), 8);
      return f;
    default: // A well-formed PDU this ESME may not send now.
      return withSeq(rng.pick(OUT_OF_PLACE), f.readUInt32BE(12));
  }
}

/** Anything at all, including a broken command_length that desynchronises the stream. */
function mutateChaos(rng: Prng, frame: Buffer, framingRate: number): Buffer {
  const f = Buffer.from(frame);
  // Mostly damage that keeps the framing, so that many PDUs reach the decoder and the session
  // before a broken command_length ends the connection.
  const r = rng.next() / framingRate;
  switch (r < 0.4 ? 0 : r < 0.8 ? 1 : r < 1 ? 2 : 3) {
    case 0: // Bit flips anywhere, command_length included.
      for (let n = rng.range(1, 4); n > 0; n--) {
        const at = rng.int(f.length);
        f[at] = f[at]! ^ (1 << rng.int(8));
      }
      return f;
    case 1: {
      // command_length a little off, far off, below 16 or above the maximum.
      const lengths = [
        f.length + rng.range(-20, 20),
        rng.int(16),
        DEFAULT_MAX_PDU_LENGTH + 1 + rng.int(1000),
        rng.u32(),
      ];
      f.writeUInt32BE(Math.max(0, rng.pick(lengths)) >>> 0, 0);
      return f;
    }
    case 2: // Plain noise.
      return rng.bytes(rng.range(1, 64));
    default:
      return mutateInSync(rng, f);
  }
}

// ---------------------------------------------------------------------------------------------
// Connections

interface Outcome {
  kind: 'in-sync' | 'chaos';
  /** Which plan entry ran it (set by the round). */
  label?: string;
  frames: number;
  /** Whether the server closed the connection (rather than the client after the marker). */
  serverClosed: boolean;
  markerAnswered: boolean;
  answers: number;
  /** Protocol errors the server met (in-sync: predicted; chaos: refusals received). */
  errors: number;
  /** The distinct non-zero command_status values received. */
  refusals: number[];
  socketError: string | null;
}

function distinctRefusals(pdus: readonly AnyPdu[]): number[] {
  return [...new Set(pdus.map((p) => p.command_status).filter((st) => st !== 0))];
}

/**
 * In-sync traffic: every frame keeps its command_length, so every answer can be predicted and is
 * compared in order. With fewer than 10 protocol errors the marker enquire_link is answered; at
 * the 10th the server closes right after answering it.
 */
async function runInSync(
  port: number,
  rng: Prng,
  frames: number,
  mutations: number,
  maxErrors: number,
): Promise<Outcome> {
  const peer = await FuzzPeer.connect(port);
  await peer.bind();
  const mutateAt = new Set(Array.from({ length: mutations }, () => rng.int(frames)));
  const sent: Buffer[] = [];
  const expected: Answer[] = [];
  let errors = 0;
  for (let i = 0; i < frames; i++) {
    let frame: Buffer;
    let e: Expectation;
    do {
      frame = withSeq(rng.chance(0.01) ? HUGE : rng.pick(BASE), 2 + i);
      if (mutateAt.has(i)) frame = mutateInSync(rng, frame);
      e = expectationFor(frame);
      // unbind would end the session by design; a malformed generic_nack is answered with one
      // (see the report); the marker's sequence number is reserved.
    } while (
      frame.readUInt32BE(4) === CommandId.unbind ||
      (frame.readUInt32BE(4) === CommandId.generic_nack && e.error) ||
      frame.readUInt32BE(12) === MARKER_SEQ
    );
    sent.push(frame);
    if (errors < maxErrors) {
      if (e.answer) expected.push(e.answer);
      if (e.error) errors++;
    }
  }
  const closesAfterErrors = errors >= maxErrors;
  sent.push(encodePdu(makePdu('enquire_link', {}, { sequence_number: MARKER_SEQ })));
  // Several writes of random sizes: the server sees PDUs split across reads.
  const stream = Buffer.concat(sent);
  for (let at = 0; at < stream.length; ) {
    const n = rng.range(1, 4096);
    peer.write(stream.subarray(at, at + n));
    at += n;
  }
  const marker = await peer.waitFor(
    (p) => p.command === 'enquire_link_resp' && p.sequence_number === MARKER_SEQ,
  );
  if (marker) peer.socket.end();
  await peer.closed;

  const got = peer.received.filter((p) => p !== marker);
  expect(peer.flaws).toEqual([]);
  // We close after the marker; a reset is acceptable only as the server's close racing our writes.
  if (marker) expect(peer.socketError).toBeNull();
  else if (peer.socketError !== null) expect(['ECONNRESET', 'EPIPE']).toContain(peer.socketError);
  expect(
    marker !== null,
    `the marker is answered unless ${maxErrors} protocol errors closed the session`,
  ).toBe(!closesAfterErrors);
  for (let i = 0; i < Math.max(got.length, expected.length); i++) {
    const g = got[i];
    const w = expected[i];
    if (!g || !w || !matches(g, w)) {
      throw new Error(`answer ${i}: expected ${show(w)}, got ${show(g)}`);
    }
  }
  return {
    kind: 'in-sync',
    frames,
    serverClosed: !marker,
    markerAnswered: !!marker,
    answers: got.length,
    errors: Math.min(errors, maxErrors),
    refusals: distinctRefusals(got),
    socketError: peer.socketError,
  };
}

/**
 * Anything goes, framing included. Afterwards, a tail of 0xFF bytes long enough to complete any
 * PDU the server may be waiting for and then to present command_length 0xFFFFFFFF: whatever state
 * the stream is in, the server ends with a fatal framing error (if it has not closed already).
 */
async function runChaos(
  port: number,
  rng: Prng,
  frames: number,
  framingRate: number,
  bound = true,
): Promise<Outcome> {
  const peer = await FuzzPeer.connect(port);
  if (bound) await peer.bind();
  const parts: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const base = withSeq(rng.chance(0.01) ? HUGE : rng.pick(rng.chance(0.8) ? BASE : ALL), rng.u32());
    parts.push(rng.chance(0.7) ? mutateChaos(rng, base, framingRate) : base);
  }
  parts.push(Buffer.alloc(2 * DEFAULT_MAX_PDU_LENGTH + 64, 0xff));
  const stream = Buffer.concat(parts);
  for (let at = 0; at < stream.length; ) {
    const n = rng.range(1, 16 * 1024);
    peer.write(stream.subarray(at, at + n));
    at += n;
  }
  await peer.closed;

  expect(peer.flaws).toEqual([]);
  for (const pdu of peer.received) {
    // The server only answers: responses and generic_nack, each nack with a reason.
    expect(isResponseId(CommandId[pdu.command]), show(pdu)).toBe(true);
    if (pdu.command === 'generic_nack') expect(pdu.command_status, show(pdu)).not.toBe(0);
  }
  // A reset is acceptable only as the server's close racing our writes.
  if (peer.socketError !== null) expect(['ECONNRESET', 'EPIPE']).toContain(peer.socketError);
  return {
    kind: 'chaos',
    frames,
    serverClosed: true,
    markerAnswered: false,
    answers: peer.received.length,
    errors: peer.received.filter((p) => p.command_status !== 0).length,
    refusals: distinctRefusals(peer.received),
    socketError: peer.socketError,
  };
}

// ---------------------------------------------------------------------------------------------

/** A live server on 127.0.0.1, with its open sessions' close events to await. */
interface Target {
  server: SmppServer;
  port: number;
  closing: Set<Promise<unknown>>;
}

describe(`fuzzing a live SmppServer (seed ${SEED}; replay with SLUICE_FUZZ_SEED=${SEED})`, () => {
  /** Default session options: the protocol-error budget of 10 applies. */
  let strict: Target;
  /** A budget too large to reach, so a connection takes hundreds of bad PDUs before it ends. */
  let tolerant: Target;
  let port = 0;
  /**
   * The servers' clock. Nothing here waits on time; a closing session arms a timer that destroys
   * a socket the peer never closes (2 s), and advancing past it after each round lets those go,
   * so the heap is measured without sessions that only a pending timer still holds.
   */
  const clock = new ManualClock();
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  let warnings = 0;

  async function start(session?: { maxProtocolErrors: number }): Promise<Target> {
    const server = new SmppServer({
      clock,
      authenticate: (a) =>
        a.system_id === 'fuzzer' && a.password === 'secret'
          ? CommandStatus.ESME_ROK
          : CommandStatus.ESME_RINVPASWD,
      ...(session ? { session } : {}),
    });
    const closing = new Set<Promise<unknown>>();
    server.on('connection', (s: Session) => {
      const closed = once(s, 'close');
      closing.add(closed);
      void closed.then(() => closing.delete(closed));
      // The application accepts every request that reaches it.
      s.on('request', (pdu) => s.respond(pdu));
    });
    server.on('warning', () => warnings++);
    const { port } = await server.listen(0);
    return { server, port, closing };
  }

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    strict = await start();
    tolerant = await start({ maxProtocolErrors: 1_000_000 });
    port = strict.port;
  });

  afterAll(async () => {
    await Promise.all([strict.server.close(), tolerant.server.close()]);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    expect(uncaught).toEqual([]);
  });

  /** Every server-side session of the connections so far has closed and left its server. */
  async function allSessionsGone(): Promise<void> {
    for (const t of [strict, tolerant]) {
      await Promise.all([...t.closing]);
      expect(t.server.sessions.size).toBe(0);
    }
    clock.advance(60_000);
  }

  /** Runs `fn`, naming the seed and connection in any failure. */
  async function replayable<T>(what: string, seed: number, fn: (rng: Prng) => Promise<T>): Promise<T> {
    try {
      return await fn(new Prng(seed));
    } catch (err) {
      throw new Error(`${what} (SLUICE_FUZZ_SEED=${SEED}, connection seed ${seed}): ${errorText(err)}`, {
        cause: err,
      });
    }
  }

  it('closes after maxProtocolErrors (10) protocol errors, answering each, and not before', async () => {
    const peer = await FuzzPeer.connect(port);
    await peer.bind();
    const unknownId = (seq: number) => rawPdu(0x00000099, seq);
    for (let seq = 100; seq < 109; seq++) peer.write(unknownId(seq));
    peer.write(encodePdu(makePdu('enquire_link', {}, { sequence_number: MARKER_SEQ })));
    expect(await peer.waitFor((p) => p.sequence_number === MARKER_SEQ)).not.toBeNull();
    expect(peer.received.map((p) => [p.command, p.command_status, p.sequence_number])).toEqual([
      ...Array.from({ length: 9 }, (_, i) => ['generic_nack', CommandStatus.ESME_RINVCMDID, 100 + i]),
      ['enquire_link_resp', 0, MARKER_SEQ],
    ]);
    // The tenth error: answered, then the server closes.
    peer.write(unknownId(109));
    peer.write(encodePdu(makePdu('enquire_link', {}, { sequence_number: 110 })));
    await peer.closed;
    expect(peer.received.slice(10).map((p) => [p.command, p.command_status, p.sequence_number])).toEqual([
      ['generic_nack', CommandStatus.ESME_RINVCMDID, 109],
    ]);
    expect(peer.flaws).toEqual([]);
    await allSessionsGone();
  });

  for (const [name, length] of [
    ['above the maximum', 0xffffffff],
    ['below 16', 8],
  ] as const) {
    it(`closes after a fatal framing error (command_length ${name}), with a generic_nack first`, async () => {
      const peer = await FuzzPeer.connect(port);
      await peer.bind();
      const bad = rawPdu(CommandId.submit_sm, 0x42, '00'.repeat(32));
      bad.writeUInt32BE(length, 0);
      peer.write(encodePdu(makePdu('enquire_link', {}, { sequence_number: 0x41 })));
      peer.write(bad);
      peer.write(encodePdu(makePdu('enquire_link', {}, { sequence_number: 0x43 })));
      await peer.closed;
      expect(peer.received.map((p) => [p.command, p.command_status, p.sequence_number])).toEqual([
        ['enquire_link_resp', 0, 0x41],
        ['generic_nack', CommandStatus.ESME_RINVCMDLEN, 0x42],
      ]);
      expect(peer.flaws).toEqual([]);
      await allSessionsGone();
    });
  }

  it('survives thousands of random and mutated PDUs over many connections; memory and sessions are released', async () => {
    const outcomes: Outcome[] = [];
    let connection = 0;
    const plan: Array<[string, (rng: Prng) => Promise<Outcome>]> = [];
    for (let i = 0; i < 4; i++) {
      plan.push(
        ['few', (rng) => runInSync(strict.port, rng, 30, rng.range(0, 9), MAX_PROTOCOL_ERRORS)],
        ['many', (rng) => runInSync(strict.port, rng, 40, rng.range(40, 80), MAX_PROTOCOL_ERRORS)],
        ['chaos', (rng) => runChaos(strict.port, rng, 60, 0.15)],
        ['deep', (rng) => runInSync(tolerant.port, rng, 150, 75, Number.POSITIVE_INFINITY)],
        ['deep-chaos', (rng) => runChaos(tolerant.port, rng, 300, 0.01)],
        ['unbound-chaos', (rng) => runChaos(strict.port, rng, 40, 0.1, false)],
      );
    }
    /**
     * One round, all connections at once. On the strict server: in-sync traffic with at most 9
     * errors (the marker is answered), with many (the server closes at the 10th), chaos, and
     * chaos before any bind. On the tolerant one: long in-sync runs, half of them mutated, and
     * long chaos runs that seldom break the framing.
     */
    const round = async () => {
      const runs: Array<Promise<Outcome>> = [];
      for (const [label, run] of plan) {
        const seed = (SEED + Math.imul(++connection, 0x9e3779b1)) >>> 0;
        runs.push(
          replayable(`connection ${connection} (${label})`, seed, run).then((o) => ({ ...o, label })),
        );
      }
      outcomes.push(...(await Promise.all(runs)));
      await allSessionsGone();
    };

    const gc = globalThis.gc;
    if (!gc) throw new Error('run vitest with --expose-gc (see vitest.config.ts)');
    // V8 frees ArrayBuffer backing stores on a background sweeper after a collection: collect
    // a few times with turns of the event loop between, or freed Buffers still count (under CPU
    // load that noise alone reached 26 MB, and did not grow with the number of rounds).
    const settle = async () => {
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return process.memoryUsage();
    };
    await round(); // warm-up: JIT, socket and buffer pools
    const before = await settle();
    for (let r = 0; r < ROUNDS; r++) await round();
    const after = await settle();
    // The JS heap, and Buffers outside it (a leaked session would keep its 16 KiB write buffer).
    const growth = after.heapUsed - before.heapUsed;
    const buffers = after.arrayBuffers - before.arrayBuffers;

    expect(uncaught).toEqual([]);
    expect([strict.server.sessions.size, tolerant.server.sessions.size]).toEqual([0, 0]);
    const connections = ROUNDS * plan.length;
    expect(
      growth,
      `heap grew by ${(growth / 1e6).toFixed(1)} MB over ${connections} connections`,
    ).toBeLessThan(8 * 1024 * 1024);
    expect(
      buffers,
      `Buffers grew by ${(buffers / 1e6).toFixed(1)} MB over ${connections} connections`,
    ).toBeLessThan(8 * 1024 * 1024);

    // Not vacuous: thousands of PDUs reached the session, both endings happened, many refusals.
    const by = (label: string) => outcomes.filter((o) => o.label === label);
    const sum = (os: Outcome[], f: (o: Outcome) => number) => os.reduce((n, o) => n + f(o), 0);
    expect(sum(outcomes, (o) => o.frames)).toBeGreaterThanOrEqual(50_000);
    expect(sum(outcomes, (o) => o.answers)).toBeGreaterThanOrEqual(20_000);
    expect(by('few').every((o) => o.markerAnswered)).toBe(true);
    expect(by('many').filter((o) => o.serverClosed).length).toBeGreaterThanOrEqual(by('many').length / 2);
    expect(by('deep').every((o) => o.markerAnswered && o.errors >= 20)).toBe(true);
    expect(sum(by('deep-chaos'), (o) => o.answers)).toBeGreaterThanOrEqual(30 * by('deep-chaos').length);
    expect(new Set(outcomes.flatMap((o) => o.refusals)).size).toBeGreaterThanOrEqual(10);
    expect(warnings).toBeGreaterThan(8_000);
  });
});
