/**
 * Bytes ⇄ PDU. Pure: no sockets, no timers. Decoding is strict (command_length, mandatory fields,
 * C-string terminators and maximum lengths, time formats, TLV lengths) and every failure is an
 * SmppPduError carrying the command_status to answer with.
 */
import { SmppEncodeError, SmppPduError } from '../../errors.js';
import { CommandId, type CommandName, commandName, isResponseId, CommandStatus as S } from '../constants.js';
import { bodySchemas, defaultValue, EMPTY, type FieldSpec, tlvByName, tlvByTag } from './schema.js';
import type {
  AnyPdu,
  DestAddress,
  MessageIdBody,
  Pdu,
  PduInput,
  RawTlv,
  ShortMessageBody,
  Tlvs,
  UnsuccessSme,
} from './types.js';

export const HEADER_LENGTH = 16;

/**
 * Default upper bound of command_length: a full 64 KiB message_payload TLV plus the largest
 * mandatory body fits; anything larger is a framing error, never a buffer to grow.
 */
export const DEFAULT_MAX_PDU_LENGTH = 72 * 1024;

/** The largest short_message (sm_length is 0..254, §5.2.21); longer text goes in message_payload. */
export const MAX_SHORT_MESSAGE = 254;

// ---------------------------------------------------------------------------------------------
// Decoding

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
    readonly commandId: number,
    readonly sequenceNumber: number,
  ) {
    this.pos = start;
  }

  fail(message: string, status: number): SmppPduError {
    return new SmppPduError(message, status, {
      commandId: this.commandId,
      sequenceNumber: this.sequenceNumber,
    });
  }

  need(n: number, field: string): void {
    if (this.end - this.pos < n) {
      throw this.fail(`mandatory field ${field} is missing: the PDU ends first`, S.ESME_RINVCMDLEN);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  cstr(field: string, max: number, status: number): string {
    const { buf, pos, end } = this;
    if (pos >= end)
      throw this.fail(`mandatory field ${field} is missing: the PDU ends first`, S.ESME_RINVCMDLEN);
    const limit = Math.min(end, pos + max);
    let i = pos;
    while (i < limit && buf[i] !== 0) i++;
    if (i === limit) {
      if (limit === end && end - pos < max) {
        throw this.fail(`${field} is not NUL-terminated before the end of the PDU`, S.ESME_RINVCMDLEN);
      }
      throw this.fail(`${field} is longer than ${max - 1} characters`, status);
    }
    this.pos = i + 1;
    return i === pos ? '' : buf.toString('latin1', pos, i);
  }

  /** §7.1: "YYMMDDhhmmsstnnp", p one of + - (absolute) or R (relative); or empty. */
  time(field: string, status: number): string {
    const value = this.cstr(field, 17, status);
    if (value.length === 0) return value;
    if (value.length !== 16 || !/^\d{15}[-+R]$/.test(value)) {
      throw this.fail(`${field} must be empty or YYMMDDhhmmsstnnp (16 characters), got "${value}"`, status);
    }
    return value;
  }

  shortMessage(): Buffer {
    const length = this.u8('sm_length');
    // §5.2.21: sm_length is 0..254. Accepting 255 would hand out a PDU that writePdu refuses.
    if (length > MAX_SHORT_MESSAGE) {
      throw this.fail(`sm_length must be 0..${MAX_SHORT_MESSAGE}, got ${length}`, S.ESME_RINVMSGLEN);
    }
    if (this.end - this.pos < length) {
      throw this.fail(
        `sm_length ${length} exceeds the ${this.end - this.pos} bytes left in the PDU`,
        S.ESME_RINVMSGLEN,
      );
    }
    // A copy, so a kept message does not pin the whole socket chunk it arrived in.
    const sm = Buffer.from(this.buf.subarray(this.pos, this.pos + length));
    this.pos += length;
    return sm;
  }

  destAddresses(): DestAddress[] {
    const count = this.u8('number_of_dests');
    if (count === 0) throw this.fail('number_of_dests must be 1..255, got 0', S.ESME_RINVNUMDESTS);
    const dests: DestAddress[] = [];
    for (let i = 0; i < count; i++) {
      const flag = this.u8('dest_flag');
      if (flag === 1) {
        dests.push({
          dest_flag: 1,
          dest_addr_ton: this.u8('dest_addr_ton'),
          dest_addr_npi: this.u8('dest_addr_npi'),
          destination_addr: this.cstr('destination_addr', 21, S.ESME_RINVDSTADR),
        });
      } else if (flag === 2) {
        dests.push({ dest_flag: 2, dl_name: this.cstr('dl_name', 21, S.ESME_RINVDLNAME) });
      } else {
        throw this.fail(
          `dest_flag must be 1 (SME address) or 2 (distribution list), got ${flag}`,
          S.ESME_RINVDESTFLAG,
        );
      }
    }
    return dests;
  }

  unsuccessSmes(): UnsuccessSme[] {
    const count = this.u8('no_unsuccess');
    const list: UnsuccessSme[] = [];
    for (let i = 0; i < count; i++) {
      list.push({
        dest_addr_ton: this.u8('dest_addr_ton'),
        dest_addr_npi: this.u8('dest_addr_npi'),
        destination_addr: this.cstr('destination_addr', 21, S.ESME_RINVDSTADR),
        error_status_code: this.u32('error_status_code'),
      });
    }
    return list;
  }

  field(f: FieldSpec): unknown {
    switch (f.type) {
      case 'u8':
        return this.u8(f.name);
      case 'u16':
        return this.u16(f.name);
      case 'u32':
        return this.u32(f.name);
      case 'cstr':
        return this.cstr(f.name, f.max, f.status);
      case 'time':
        return this.time(f.name, f.status);
      case 'sm':
        return this.shortMessage();
      case 'dests':
        return this.destAddresses();
      case 'unsuccess':
        return this.unsuccessSmes();
    }
  }

  tlvs(): Tlvs {
    const tlvs: Tlvs = {};
    const { buf, end } = this;
    while (this.pos < end) {
      if (end - this.pos < 4) {
        throw this.fail(`${end - this.pos} stray bytes after the last TLV`, S.ESME_RINVOPTPARSTREAM);
      }
      const tag = buf.readUInt16BE(this.pos);
      const length = buf.readUInt16BE(this.pos + 2);
      const at = this.pos + 4;
      if (at + length > end) {
        throw this.fail(
          `TLV 0x${tag.toString(16).padStart(4, '0')} of length ${length} runs past the end of the PDU`,
          S.ESME_RINVOPTPARSTREAM,
        );
      }
      this.pos = at + length;
      const def = tlvByTag.get(tag);
      if (!def) {
        if (!tlvs.unknown) tlvs.unknown = [];
        tlvs.unknown.push({ tag, value: Buffer.from(buf.subarray(at, at + length)) });
        continue;
      }
      const target = tlvs as Record<string, unknown>;
      switch (def.type) {
        case 'u8':
        case 'u16':
        case 'u32': {
          const size = def.type === 'u8' ? 1 : def.type === 'u16' ? 2 : 4;
          if (length !== size) {
            throw this.fail(`TLV ${def.name} must be ${size} bytes long, got ${length}`, S.ESME_RINVPARLEN);
          }
          target[def.name] = size === 1 ? buf[at] : size === 2 ? buf.readUInt16BE(at) : buf.readUInt32BE(at);
          break;
        }
        case 'cstr': {
          // Some SMSCs leave out the NUL of receipted_message_id; the value is the same either way.
          let stop = at + length;
          const nul = buf.indexOf(0, at);
          if (nul !== -1 && nul < stop) stop = nul;
          target[def.name] = buf.toString('latin1', at, stop);
          break;
        }
        case 'octets':
          target[def.name] = Buffer.from(buf.subarray(at, at + length));
          break;
        case 'flag':
          target[def.name] = true;
          break;
      }
    }
    return tlvs;
  }
}

/**
 * Decodes exactly one PDU occupying buf[start, end). Throws SmppPduError; `fatal` is set when the
 * header itself is unusable (the stream cannot be framed any further).
 */
export function decodePdu(buf: Buffer, start = 0, end = buf.length): AnyPdu {
  const length = end - start;
  if (length < HEADER_LENGTH) {
    throw new SmppPduError(`PDU of ${length} bytes is shorter than the 16-byte header`, S.ESME_RINVCMDLEN, {
      commandId: null,
      sequenceNumber: null,
      fatal: true,
    });
  }
  const commandLength = buf.readUInt32BE(start);
  const commandId = buf.readUInt32BE(start + 4);
  const commandStatus = buf.readUInt32BE(start + 8);
  const sequenceNumber = buf.readUInt32BE(start + 12);
  if (commandLength !== length) {
    throw new SmppPduError(
      `command_length ${commandLength} does not match the ${length} bytes given`,
      S.ESME_RINVCMDLEN,
      {
        commandId,
        sequenceNumber,
        fatal: true,
      },
    );
  }
  const name = commandName(commandId);
  if (name === undefined) {
    throw new SmppPduError(
      `unknown command_id 0x${commandId.toString(16).padStart(8, '0')}`,
      S.ESME_RINVCMDID,
      {
        commandId,
        sequenceNumber,
      },
    );
  }
  const reader = new Reader(buf, start + HEADER_LENGTH, end, commandId, sequenceNumber);
  // §4: a response with a non-zero command_status may leave its body out altogether. So may a
  // deliver_sm_resp, whatever its status: its message_id is unused (§4.6.2), and ESMEs in the
  // field send the bare header; refusing it would make the SMSC resend the message forever.
  if (
    length === HEADER_LENGTH &&
    isResponseId(commandId) &&
    (commandStatus !== 0 || commandId === CommandId.deliver_sm_resp)
  ) {
    return defaultPdu(name, commandStatus, sequenceNumber);
  }
  switch (name) {
    case 'submit_sm':
    case 'deliver_sm':
      return readShortMessagePdu(reader, name, commandStatus, sequenceNumber);
    case 'submit_sm_resp':
    case 'deliver_sm_resp':
    case 'data_sm_resp':
      return {
        command: name,
        command_status: commandStatus,
        sequence_number: sequenceNumber,
        message_id: reader.cstr('message_id', 65, S.ESME_RINVMSGID),
        tlvs: reader.tlvs(),
      };
    default:
      return readBySchema(reader, name, commandStatus, sequenceNumber);
  }
}

function defaultPdu(name: CommandName, commandStatus: number, sequenceNumber: number): AnyPdu {
  const pdu: Record<string, unknown> = {
    command: name,
    command_status: commandStatus,
    sequence_number: sequenceNumber,
  };
  for (const f of bodySchemas[name]) pdu[f.name] = defaultValue(f);
  pdu.tlvs = {};
  return pdu as unknown as AnyPdu;
}

/** The reference decoder: walks the body schema. The fast paths must agree with it (tested). */
function readBySchema(
  reader: Reader,
  name: CommandName,
  commandStatus: number,
  sequenceNumber: number,
): AnyPdu {
  const pdu: Record<string, unknown> = {
    command: name,
    command_status: commandStatus,
    sequence_number: sequenceNumber,
  };
  for (const f of bodySchemas[name]) pdu[f.name] = reader.field(f);
  pdu.tlvs = reader.tlvs();
  return pdu as unknown as AnyPdu;
}

/**
 * submit_sm and deliver_sm, the hot path, decoded into one object literal: a fixed shape that V8
 * keeps fast, where the schema walk's computed keys cost several times more.
 */
function readShortMessagePdu(
  r: Reader,
  command: 'submit_sm' | 'deliver_sm',
  commandStatus: number,
  sequenceNumber: number,
): Pdu<'submit_sm' | 'deliver_sm'> {
  return {
    command,
    command_status: commandStatus,
    sequence_number: sequenceNumber,
    service_type: r.cstr('service_type', 6, S.ESME_RINVSERTYP),
    source_addr_ton: r.u8('source_addr_ton'),
    source_addr_npi: r.u8('source_addr_npi'),
    source_addr: r.cstr('source_addr', 21, S.ESME_RINVSRCADR),
    dest_addr_ton: r.u8('dest_addr_ton'),
    dest_addr_npi: r.u8('dest_addr_npi'),
    destination_addr: r.cstr('destination_addr', 21, S.ESME_RINVDSTADR),
    esm_class: r.u8('esm_class'),
    protocol_id: r.u8('protocol_id'),
    priority_flag: r.u8('priority_flag'),
    schedule_delivery_time: r.time('schedule_delivery_time', S.ESME_RINVSCHED),
    validity_period: r.time('validity_period', S.ESME_RINVEXPIRY),
    registered_delivery: r.u8('registered_delivery'),
    replace_if_present_flag: r.u8('replace_if_present_flag'),
    data_coding: r.u8('data_coding'),
    sm_default_msg_id: r.u8('sm_default_msg_id'),
    short_message: r.shortMessage(),
    tlvs: r.tlvs(),
  };
}

/** decodePdu through the body schema only, without the fast paths: the reference for tests. */
export function decodePduBySchema(buf: Buffer, start = 0, end = buf.length): AnyPdu {
  const pdu = decodePdu(buf, start, end);
  const reader = new Reader(buf, start + HEADER_LENGTH, end, CommandId[pdu.command], pdu.sequence_number);
  if (end - start === HEADER_LENGTH && isResponseId(CommandId[pdu.command])) return pdu;
  return readBySchema(reader, pdu.command, pdu.command_status, pdu.sequence_number);
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** An append-only byte buffer that PDUs are encoded into, many per buffer, without copies. */
export class PduWriter {
  #initial: number;
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 16 * 1024) {
    this.#initial = initialSize;
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** The bytes written since the last take(); writing continues in a fresh buffer. */
  take(): Buffer {
    let out: Buffer;
    if (this.pos <= this.#initial >> 3) {
      // A small batch is copied out (from Node's shared pool) and the buffer kept for the next.
      out = Buffer.from(this.buf.subarray(0, this.pos));
    } else {
      out = this.buf.subarray(0, this.pos);
      this.buf = Buffer.allocUnsafe(this.#initial);
    }
    this.pos = 0;
    return out;
  }

  u8(v: number, field: string): void {
    if ((v & 0xff) !== v) throw new SmppEncodeError(`${field} must be an integer 0..255, got ${v}`);
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number, field: string): void {
    if ((v & 0xffff) !== v) throw new SmppEncodeError(`${field} must be an integer 0..65535, got ${v}`);
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number, field: string): void {
    if (v >>> 0 !== v) throw new SmppEncodeError(`${field} must be an integer 0..4294967295, got ${v}`);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  cstr(v: string, max: number, field: string): void {
    if (typeof v !== 'string') throw new SmppEncodeError(`${field} must be a string`);
    if (v.length > max - 1) {
      throw new SmppEncodeError(`${field} must be at most ${max - 1} characters, got ${v.length}`);
    }
    this.ensure(v.length + 1);
    const { buf } = this;
    let p = this.pos;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c === 0 || c > 0xff) {
        throw new SmppEncodeError(
          `${field} has a character that a C-Octet String cannot carry at index ${i}`,
        );
      }
      buf[p++] = c;
    }
    buf[p++] = 0;
    this.pos = p;
  }

  /** §7.1 time: empty, or exactly 16 characters (YYMMDDhhmmsstnnp). */
  time(v: string, field: string): void {
    if (v.length !== 0 && v.length !== 16) {
      throw new SmppEncodeError(`${field} must be empty or 16 characters (YYMMDDhhmmsstnnp), got "${v}"`);
    }
    this.cstr(v, 17, field);
  }

  /** sm_length followed by short_message. */
  shortMessage(sm: Uint8Array): void {
    if (sm.length > MAX_SHORT_MESSAGE) {
      throw new SmppEncodeError(
        `short_message must be at most ${MAX_SHORT_MESSAGE} bytes, got ${sm.length}: use message_payload`,
      );
    }
    this.u8(sm.length, 'sm_length');
    this.octets(sm);
  }

  /** Writes a u32 at an earlier position (the header, once the body length is known). */
  u32Patch(at: number, v: number, field: string): void {
    if (v >>> 0 !== v) throw new SmppEncodeError(`${field} must be an integer 0..4294967295, got ${v}`);
    this.buf.writeUInt32BE(v, at);
  }

  octets(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }
}

function writeField(w: PduWriter, f: FieldSpec, value: unknown): void {
  switch (f.type) {
    case 'u8':
      w.u8(value as number, f.name);
      return;
    case 'u16':
      w.u16(value as number, f.name);
      return;
    case 'u32':
      w.u32(value as number, f.name);
      return;
    case 'cstr':
      w.cstr(value as string, f.max, f.name);
      return;
    case 'time':
      w.time(value as string, f.name);
      return;
    case 'sm':
      w.shortMessage(value as Uint8Array);
      return;
    case 'dests': {
      const dests = value as DestAddress[];
      if (dests.length < 1 || dests.length > 255) {
        throw new SmppEncodeError(`submit_multi needs 1..255 destinations, got ${dests.length}`);
      }
      w.u8(dests.length, 'number_of_dests');
      for (const d of dests) {
        w.u8(d.dest_flag, 'dest_flag');
        if (d.dest_flag === 1) {
          w.u8(d.dest_addr_ton, 'dest_addr_ton');
          w.u8(d.dest_addr_npi, 'dest_addr_npi');
          w.cstr(d.destination_addr, 21, 'destination_addr');
        } else {
          w.cstr(d.dl_name, 21, 'dl_name');
        }
      }
      return;
    }
    case 'unsuccess': {
      const list = value as UnsuccessSme[];
      w.u8(list.length, 'no_unsuccess');
      for (const u of list) {
        w.u8(u.dest_addr_ton, 'dest_addr_ton');
        w.u8(u.dest_addr_npi, 'dest_addr_npi');
        w.cstr(u.destination_addr, 21, 'destination_addr');
        w.u32(u.error_status_code, 'error_status_code');
      }
      return;
    }
  }
}

function writeTlvs(w: PduWriter, tlvs: Tlvs): void {
  for (const key in tlvs) {
    const value = (tlvs as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (key === 'unknown') {
      for (const raw of value as RawTlv[]) writeRawTlv(w, raw.tag, raw.value);
      continue;
    }
    const def = tlvByName.get(key);
    if (!def) throw new SmppEncodeError(`unknown TLV name ${key}: put vendor TLVs in tlvs.unknown`);
    w.u16(def.tag, 'tag');
    switch (def.type) {
      case 'u8':
        w.u16(1, 'length');
        w.u8(value as number, key);
        break;
      case 'u16':
        w.u16(2, 'length');
        w.u16(value as number, key);
        break;
      case 'u32':
        w.u16(4, 'length');
        w.u32(value as number, key);
        break;
      case 'cstr': {
        const s = value as string;
        w.u16(s.length + 1, 'length');
        w.cstr(s, 0x10000, key);
        break;
      }
      case 'octets': {
        const b = value as Uint8Array;
        w.u16(b.length, `${key} length`);
        w.octets(b);
        break;
      }
      case 'flag':
        w.u16(0, 'length');
        break;
    }
  }
}

function writeRawTlv(w: PduWriter, tag: number, value: Uint8Array): void {
  w.u16(tag, 'tag');
  w.u16(value.length, 'TLV length');
  w.octets(value);
}

/** Appends one PDU to the writer. On an encode error nothing is left behind in the writer. */
export function writePdu(w: PduWriter, pdu: AnyPdu): void {
  writePduParts(w, pdu.command, pdu.command_status, pdu.sequence_number, pdu, pdu.tlvs);
}

/**
 * Appends one PDU given as its parts: `body` holds the mandatory fields, any left out take their
 * default. The session encodes straight from the caller's fields this way, with no PDU object in
 * between. On an encode error nothing is left behind in the writer.
 */
export function writePduParts(
  w: PduWriter,
  command: CommandName,
  commandStatus: number,
  sequenceNumber: number,
  body: object,
  tlvs: Tlvs | undefined,
  bySchema = false,
): void {
  const start = w.pos;
  try {
    w.ensure(HEADER_LENGTH);
    w.pos += HEADER_LENGTH;
    if (bySchema) writeBySchema(w, command, body);
    else {
      switch (command) {
        case 'submit_sm':
        case 'deliver_sm':
          writeShortMessageBody(w, body as Partial<ShortMessageBody>);
          break;
        case 'submit_sm_resp':
        case 'deliver_sm_resp':
        case 'data_sm_resp':
          w.cstr((body as Partial<MessageIdBody>).message_id ?? '', 65, 'message_id');
          break;
        default:
          writeBySchema(w, command, body);
      }
    }
    if (tlvs) writeTlvs(w, tlvs);
    w.buf.writeUInt32BE(w.pos - start, start);
    w.buf.writeUInt32BE(CommandId[command], start + 4);
    w.u32Patch(start + 8, commandStatus, 'command_status');
    w.u32Patch(start + 12, sequenceNumber, 'sequence_number');
  } catch (err) {
    w.pos = start;
    throw err;
  }
}

/** The reference encoder: walks the body schema. */
function writeBySchema(w: PduWriter, command: CommandName, body: object): void {
  const fields = body as Record<string, unknown>;
  for (const f of bodySchemas[command]) {
    const value = fields[f.name];
    writeField(w, f, value === undefined ? defaultValue(f) : value);
  }
}

function writeShortMessageBody(w: PduWriter, b: Partial<ShortMessageBody>): void {
  w.cstr(b.service_type ?? '', 6, 'service_type');
  w.u8(b.source_addr_ton ?? 0, 'source_addr_ton');
  w.u8(b.source_addr_npi ?? 0, 'source_addr_npi');
  w.cstr(b.source_addr ?? '', 21, 'source_addr');
  w.u8(b.dest_addr_ton ?? 0, 'dest_addr_ton');
  w.u8(b.dest_addr_npi ?? 0, 'dest_addr_npi');
  w.cstr(b.destination_addr ?? '', 21, 'destination_addr');
  w.u8(b.esm_class ?? 0, 'esm_class');
  w.u8(b.protocol_id ?? 0, 'protocol_id');
  w.u8(b.priority_flag ?? 0, 'priority_flag');
  w.time(b.schedule_delivery_time ?? '', 'schedule_delivery_time');
  w.time(b.validity_period ?? '', 'validity_period');
  w.u8(b.registered_delivery ?? 0, 'registered_delivery');
  w.u8(b.replace_if_present_flag ?? 0, 'replace_if_present_flag');
  w.u8(b.data_coding ?? 0, 'data_coding');
  w.u8(b.sm_default_msg_id ?? 0, 'sm_default_msg_id');
  w.shortMessage(b.short_message ?? EMPTY);
}

/** encodePdu through the body schema only, without the fast paths: the reference for tests. */
export function encodePduBySchema(pdu: AnyPdu): Buffer {
  const w = new PduWriter(256);
  writePduParts(w, pdu.command, pdu.command_status, pdu.sequence_number, pdu, pdu.tlvs, true);
  return w.take();
}

/** Encodes one PDU into a Buffer of its own. */
export function encodePdu(pdu: AnyPdu): Buffer {
  const w = new PduWriter(256);
  writePdu(w, pdu);
  return w.take();
}

/** Builds a complete PDU from partial fields: anything left out takes its default (0, '', empty). */
export function makePdu<C extends CommandName>(
  command: C,
  fields: PduInput<C> = {},
  header: { command_status?: number; sequence_number?: number } = {},
): Pdu<C> {
  const pdu: Record<string, unknown> = {
    command,
    command_status: header.command_status ?? 0,
    sequence_number: header.sequence_number ?? 0,
  };
  const given = fields as Record<string, unknown>;
  for (const f of bodySchemas[command]) pdu[f.name] = given[f.name] ?? defaultValue(f);
  pdu.tlvs = fields.tlvs ?? {};
  return pdu as unknown as Pdu<C>;
}
