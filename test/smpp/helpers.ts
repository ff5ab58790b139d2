/**
 * Shared helpers of the SMPP tests: hex wire notation for golden PDUs, a frame recorder for the
 * framer, a seeded PRNG for the fuzzers, and fast-check arbitraries of PDUs.
 */
import fc from 'fast-check';
import { SmppPduError } from '../../src/errors.js';
import { CommandId, type CommandName, type TlvName, TlvTag } from '../../src/smpp/constants.js';
import { decodePdu, encodePdu, makePdu } from '../../src/smpp/pdu/codec.js';
import type { FrameSink } from '../../src/smpp/pdu/framer.js';
import { tlvByTag, tlvTypes } from '../../src/smpp/pdu/schema.js';
import type {
  AnyPdu,
  BindBody,
  DataSmBody,
  Pdu,
  RawTlv,
  ShortMessageBody,
  Tlvs,
} from '../../src/smpp/pdu/types.js';

// ---------------------------------------------------------------------------------------------
// Wire notation

/** Bytes from hex segments (whitespace ignored), so a PDU can be written one field per line. */
export function wire(...segments: string[]): Buffer {
  const hex = segments.join('').replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/i.test(hex)) throw new Error(`not an even run of hex digits: ${hex}`);
  return Buffer.from(hex, 'hex');
}

/** ASCII text as hex, without a terminator (short_message, octet-string TLV values). */
export function ascii(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f)
      throw new Error(`ascii() takes ASCII text only, got ${JSON.stringify(text)}`);
  }
  return Buffer.from(text, 'latin1').toString('hex');
}

/** A C-Octet String as hex: the ASCII characters, then the terminating NUL. */
export function cstr(text: string): string {
  return `${ascii(text)}00`;
}

/** A big-endian unsigned integer of `bytes` octets as hex. */
export function int(value: number, bytes: 1 | 2 | 4): string {
  return value.toString(16).padStart(bytes * 2, '0');
}

/**
 * A complete PDU around a body given as hex, with command_length computed. For the strictness
 * and framing tests; the golden tests spell command_length out by hand.
 */
export function rawPdu(commandId: number, sequenceNumber: number, body = '', commandStatus = 0): Buffer {
  const bodyBytes = wire(body);
  const header = Buffer.alloc(16);
  header.writeUInt32BE(16 + bodyBytes.length, 0);
  header.writeUInt32BE(commandId >>> 0, 4);
  header.writeUInt32BE(commandStatus >>> 0, 8);
  header.writeUInt32BE(sequenceNumber >>> 0, 12);
  return Buffer.concat([header, bodyBytes]);
}

/** A copy of a PDU's bytes cut to `length` octets, with command_length rewritten to match. */
export function truncated(pdu: Buffer, length: number): Buffer {
  const out = Buffer.from(pdu.subarray(0, length));
  out.writeUInt32BE(length, 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Runs `fn` and returns the error of class `type` it throws; fails on success or on any other throwable. */
export function errorOf<E extends Error>(type: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw new Error(`expected an ${type.name}, got ${errorText(err)}`, { cause: err });
  }
  throw new Error(`expected an ${type.name}, but nothing was thrown`);
}

/** Runs `fn` and returns the SmppPduError it throws; fails on success or on any other throwable. */
export function pduErrorOf(fn: () => unknown): SmppPduError {
  return errorOf(SmppPduError, fn);
}

/** The SmppPduError that decoding `buf` raises. */
export function decodeError(buf: Buffer): SmppPduError {
  return pduErrorOf(() => decodePdu(buf));
}

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

// ---------------------------------------------------------------------------------------------
// Framing

export interface RecordedFrame {
  /** The buffer the framer handed over (a chunk, or a buffer it gathered). */
  buf: Buffer;
  start: number;
  end: number;
  /** A copy of the frame's bytes, taken when it was delivered. */
  bytes: Buffer;
}

/** A FrameSink that keeps everything it is given, in order. */
export class FrameRecorder implements FrameSink {
  readonly frames: RecordedFrame[] = [];
  readonly errors: SmppPduError[] = [];
  /** Frames and errors in delivery order, for "nothing after the error" checks. */
  readonly events: Array<'frame' | 'error'> = [];

  frame(buf: Buffer, start: number, end: number): void {
    this.frames.push({ buf, start, end, bytes: Buffer.from(buf.subarray(start, end)) });
    this.events.push('frame');
  }

  error(err: SmppPduError): void {
    this.errors.push(err);
    this.events.push('error');
  }

  /** The bytes of every frame, as hex strings (readable diffs). */
  hex(): string[] {
    return this.frames.map((f) => f.bytes.toString('hex'));
  }
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness for the fuzzers (mulberry32: small, fast, and the same on every platform)

export class Prng {
  #state: number;
  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  u32(): number {
    return (this.int(0x10000) * 0x10000 + this.int(0x10000)) >>> 0;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick() from an empty list');
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// A varied set of valid PDUs (streams for the framer, traffic for the fuzzer)

/** One PDU of every command plus a few large ones, all valid, with distinct sequence numbers. */
export function samplePdus(): AnyPdu[] {
  let seq = 1;
  const h = () => ({ sequence_number: seq++ });
  const address = { source_addr_ton: 1, source_addr_npi: 1, source_addr: '447700900123' };
  const dest = { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900456' };
  const bind = { system_id: 'sluice', password: 'secret', system_type: 'SMPP', interface_version: 0x34 };
  return [
    makePdu('bind_transmitter', bind, h()),
    makePdu('bind_receiver', bind, h()),
    makePdu('bind_transceiver', bind, h()),
    makePdu('bind_transmitter_resp', { system_id: 'SMSC', tlvs: { sc_interface_version: 0x34 } }, h()),
    makePdu('bind_receiver_resp', { system_id: 'SMSC' }, h()),
    makePdu('bind_transceiver_resp', { system_id: 'SMSC' }, h()),
    makePdu('outbind', { system_id: 'smsc', password: 'pw' }, h()),
    makePdu('unbind', {}, h()),
    makePdu('unbind_resp', {}, h()),
    makePdu('generic_nack', {}, { command_status: 3, sequence_number: seq++ }),
    makePdu('enquire_link', {}, h()),
    makePdu('enquire_link_resp', {}, h()),
    makePdu('submit_sm', { ...address, ...dest, short_message: Buffer.from('hello') }, h()),
    makePdu(
      'submit_sm',
      {
        ...address,
        ...dest,
        esm_class: 0x40,
        data_coding: 8,
        // The largest short_message: larger than many TCP chunks once a few are batched.
        short_message: Buffer.alloc(254, 0x41),
        validity_period: '000001000000000R',
        tlvs: { sar_msg_ref_num: 7, sar_total_segments: 2, sar_segment_seqnum: 1 },
      },
      h(),
    ),
    makePdu('submit_sm_resp', { message_id: 'abc123' }, h()),
    makePdu(
      'deliver_sm',
      {
        ...address,
        ...dest,
        esm_class: 0x04,
        short_message: Buffer.from('id:abc123 stat:DELIVRD err:000'),
        tlvs: { receipted_message_id: 'abc123', message_state: 2 },
      },
      h(),
    ),
    makePdu('deliver_sm_resp', {}, h()),
    makePdu(
      'submit_multi',
      {
        ...address,
        dest_addresses: [
          { dest_flag: 1, dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900001' },
          { dest_flag: 2, dl_name: 'team' },
        ],
        short_message: Buffer.from('all'),
      },
      h(),
    ),
    makePdu(
      'submit_multi_resp',
      {
        message_id: 'm1',
        unsuccess_smes: [
          { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '447700900001', error_status_code: 0x0b },
        ],
      },
      h(),
    ),
    makePdu('data_sm', { ...address, ...dest, tlvs: { message_payload: Buffer.alloc(1500, 0x42) } }, h()),
    makePdu('data_sm_resp', { message_id: 'd1' }, h()),
    makePdu('query_sm', { message_id: 'abc123', ...address }, h()),
    makePdu('query_sm_resp', { message_id: 'abc123', final_date: '260101120000000+', message_state: 2 }, h()),
    makePdu('cancel_sm', { message_id: 'abc123', ...address, ...dest }, h()),
    makePdu('cancel_sm_resp', {}, h()),
    makePdu('replace_sm', { message_id: 'abc123', ...address, short_message: Buffer.from('new') }, h()),
    makePdu('replace_sm_resp', {}, h()),
    makePdu(
      'alert_notification',
      {
        ...address,
        esme_addr_ton: 1,
        esme_addr_npi: 1,
        esme_addr: 'sluice',
        tlvs: { ms_availability_status: 0 },
      },
      h(),
    ),
  ];
}

/**
 * A data_sm of about 70 KB: a full 64 KiB message_payload plus a vendor TLV, close to the framer's
 * default maximum (a single TLV cannot exceed 65,535 octets).
 */
export function hugeDataSm(sequence_number: number): Pdu<'data_sm'> {
  const payload = Buffer.alloc(0xffff);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  return makePdu(
    'data_sm',
    {
      source_addr: '447700900123',
      destination_addr: '447700900456',
      tlvs: { message_payload: payload, unknown: [{ tag: 0x1500, value: Buffer.alloc(6200, 0x5a) }] },
    },
    { sequence_number },
  );
}

export function encodeAll(pdus: readonly AnyPdu[]): Buffer {
  return Buffer.concat(pdus.map((p) => encodePdu(p)));
}

// ---------------------------------------------------------------------------------------------
// fast-check arbitraries: PDUs whose every field is arbitrary within the SMPP v3.4 rules

/** A C-Octet String of up to `max - 1` Latin-1 characters, never NUL (the terminator). */
export function cstrArb(max: number): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c)),
    maxLength: max - 1,
  });
}

/** §7.1 time: empty, or YYMMDDhhmmsstnn followed by +, - (absolute) or R (relative). */
export const timeArb: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 15, maxLength: 15 }),
      fc.constantFrom('+', '-', 'R'),
    )
    .map(([digits, p]) => digits + p),
);

const u8Arb = fc.integer({ min: 0, max: 0xff });
const u32Arb = fc.integer({ min: 0, max: 0xffffffff });
const bytesArb = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

/** Unknown tags: anything this stack does not define. */
const vendorTagArb = fc.integer({ min: 0, max: 0xffff }).filter((tag) => !tlvByTag.has(tag));

// fc.record builds null-prototype objects; the decoder builds plain ones (toStrictEqual tells).
const rawTlvArb: fc.Arbitrary<RawTlv> = fc
  .tuple(vendorTagArb, bytesArb(40))
  .map(([tag, value]) => ({ tag, value }));

function tlvValueArb(name: TlvName): fc.Arbitrary<unknown> {
  switch (tlvTypes[name]) {
    case 'u8':
      return u8Arb;
    case 'u16':
      return fc.integer({ min: 0, max: 0xffff });
    case 'u32':
      return u32Arb;
    case 'cstr':
      return cstrArb(65);
    case 'octets':
      return bytesArb(300);
    case 'flag':
      return fc.constant(true);
  }
}

/** Any subset of the known TLVs, each with an arbitrary value of its type, plus vendor TLVs. */
export const tlvsArb: fc.Arbitrary<Tlvs> = fc
  .tuple(
    fc.record(
      Object.fromEntries((Object.keys(TlvTag) as TlvName[]).map((name) => [name, tlvValueArb(name)])),
      { requiredKeys: [] },
    ),
    fc.array(rawTlvArb, { maxLength: 3 }),
  )
  .map(([known, unknown]) => {
    const tlvs: Record<string, unknown> = { ...known };
    // The decoder only creates `unknown` when a vendor TLV is present.
    if (unknown.length > 0) tlvs.unknown = unknown;
    return tlvs as Tlvs;
  });

const headerArb = fc.record({ command_status: u32Arb, sequence_number: u32Arb });

const shortMessageBodyArb: fc.Arbitrary<ShortMessageBody> = fc.record({
  service_type: cstrArb(6),
  source_addr_ton: u8Arb,
  source_addr_npi: u8Arb,
  source_addr: cstrArb(21),
  dest_addr_ton: u8Arb,
  dest_addr_npi: u8Arb,
  destination_addr: cstrArb(21),
  esm_class: u8Arb,
  protocol_id: u8Arb,
  priority_flag: u8Arb,
  schedule_delivery_time: timeArb,
  validity_period: timeArb,
  registered_delivery: u8Arb,
  replace_if_present_flag: u8Arb,
  data_coding: u8Arb,
  sm_default_msg_id: u8Arb,
  short_message: bytesArb(254),
});

const bindBodyArb: fc.Arbitrary<BindBody> = fc.record({
  system_id: cstrArb(16),
  password: cstrArb(9),
  system_type: cstrArb(13),
  interface_version: u8Arb,
  addr_ton: u8Arb,
  addr_npi: u8Arb,
  address_range: cstrArb(41),
});

const dataSmBodyArb: fc.Arbitrary<DataSmBody> = fc.record({
  service_type: cstrArb(6),
  source_addr_ton: u8Arb,
  source_addr_npi: u8Arb,
  source_addr: cstrArb(65),
  dest_addr_ton: u8Arb,
  dest_addr_npi: u8Arb,
  destination_addr: cstrArb(65),
  esm_class: u8Arb,
  registered_delivery: u8Arb,
  data_coding: u8Arb,
});

function pduArb<C extends CommandName>(command: C, body: fc.Arbitrary<object>): fc.Arbitrary<Pdu<C>> {
  return fc
    .tuple(headerArb, body, tlvsArb)
    .map(([header, fields, tlvs]) => ({ command, ...header, ...fields, tlvs }) as unknown as Pdu<C>);
}

/** Arbitrary submit_sm, deliver_sm, bind_*, submit_sm_resp and data_sm PDUs with arbitrary TLVs. */
export const pduArbitraries = {
  submit_sm: pduArb('submit_sm', shortMessageBodyArb),
  deliver_sm: pduArb('deliver_sm', shortMessageBodyArb),
  bind_transmitter: pduArb('bind_transmitter', bindBodyArb),
  bind_receiver: pduArb('bind_receiver', bindBodyArb),
  bind_transceiver: pduArb('bind_transceiver', bindBodyArb),
  submit_sm_resp: pduArb('submit_sm_resp', fc.record({ message_id: cstrArb(65) })),
  data_sm: pduArb('data_sm', dataSmBodyArb),
} as const;

export const anyPduArb: fc.Arbitrary<AnyPdu> = fc.oneof(...Object.values(pduArbitraries));

/** Every command id SMPP v3.4 defines. */
export const commandIds: readonly number[] = Object.values(CommandId);
