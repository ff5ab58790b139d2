/**
 * GSM 7-bit encoding and decoding (3GPP TS 23.038 §6.1.2.1 and §6.2.1): text to septets, unpacked
 * (one septet per octet, what SMPP data_coding 0 normally carries) or packed (eight septets in seven
 * octets, §6.1.2.1.1), and back.
 */
import { BadShortMessageError, UnencodableTextError } from '../errors.js';
import { describeUnencodable } from './chars.js';
import {
  BASIC_TABLES,
  ESC,
  EXTENSION_TABLES,
  NATIONAL_LANGUAGE,
  type NationalLanguage,
} from './gsm7-tables.js';

/**
 * One (locking shift, single shift) pair of tables, compiled for lookups by UTF-16 code unit.
 * Every character of every supported table is in the BMP, and all but a few (€, ∞) are below
 * U+0400, so an Int16Array covers them and a Map holds the rest.
 */
export interface Gsm7Charset {
  /** National Language Identifier of the locking shift table; 0 = default alphabet. */
  readonly locking: number;
  /** National Language Identifier of the single shift table; 0 = default extension table. */
  readonly single: number;
  /** Code unit below 0x400 → septet (0..0x7F), ESC-prefixed septet (0x100 | septet), or -1. */
  readonly low: Int16Array;
  /** The same for code units at or above 0x400. */
  readonly high: ReadonlyMap<number, number>;
  /** Septet → UTF-16 code unit, basic table. */
  readonly basic: Uint16Array;
  /** Septet → UTF-16 code unit after ESC; 0 where the extension table defines nothing. */
  readonly extension: Uint16Array;
}

/** Marks an extension-table entry in Gsm7Charset.low/high: two septets, ESC then the low 7 bits. */
export const EXT_FLAG = 0x100;
export const LOW_LIMIT = 0x400;

const charsets = new Map<number, Gsm7Charset>();

function compile(locking: number, single: number): Gsm7Charset {
  const basicText = BASIC_TABLES[locking];
  const extTable = EXTENSION_TABLES[single];
  if (basicText === undefined || extTable === undefined) {
    throw new RangeError(`no GSM 7-bit tables for locking ${locking} / single ${single}`);
  }
  const low = new Int16Array(LOW_LIMIT).fill(-1);
  const high = new Map<number, number>();
  const basic = new Uint16Array(128);
  const extension = new Uint16Array(128);
  const set = (code: number, value: number): void => {
    if (code < LOW_LIMIT) {
      if (low[code] === -1) low[code] = value;
    } else if (!high.has(code)) high.set(code, value);
  };
  // Basic table first: a character present in both tables costs one septet, not two.
  for (let s = 0; s < 128; s++) {
    const code = basicText.charCodeAt(s);
    basic[s] = code;
    if (s !== ESC) set(code, s);
  }
  for (const [key, ch] of Object.entries(extTable)) {
    const s = Number(key);
    const code = ch.charCodeAt(0);
    extension[s] = code;
    set(code, EXT_FLAG | s);
  }
  return { locking, single, low, high, basic, extension };
}

/** The compiled tables for a pair of National Language Identifiers (0 = default). Cached. */
export function gsm7Charset(locking = 0, single = 0): Gsm7Charset {
  const key = locking * 256 + single;
  let cs = charsets.get(key);
  if (cs === undefined) {
    cs = compile(locking, single);
    charsets.set(key, cs);
  }
  return cs;
}

export const DEFAULT_CHARSET: Gsm7Charset = gsm7Charset(0, 0);

/** Septet value for a code unit (0x100 flag for ESC pairs), or -1 when the charset lacks it. */
export function gsm7Lookup(cs: Gsm7Charset, code: number): number {
  return code < LOW_LIMIT ? cs.low[code]! : (cs.high.get(code) ?? -1);
}

/**
 * Septets needed for text[start, end) in this charset, escapes counted as two; or, when a code unit
 * is not in the charset, -1 - (its index) (always negative).
 */
export function countSeptets(cs: Gsm7Charset, text: string, start = 0, end = text.length): number {
  const low = cs.low;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < LOW_LIMIT ? low[c]! : (cs.high.get(c) ?? -1);
    if (v < 0) return -1 - i;
    n += v < EXT_FLAG ? 1 : 2;
  }
  return n;
}

let scratch = new Uint8Array(1024);

/**
 * Encodes text as unpacked septets into a buffer shared by all calls, in one pass (the hot path of
 * planMessage). Returns the septet count, or -1 - (index of the first code unit the charset lacks).
 * The septets are valid until the next call: read them with encodedSeptets().
 */
export function encodeToScratch(cs: Gsm7Charset, text: string): number {
  const n = text.length;
  if (scratch.length < 2 * n) scratch = new Uint8Array(Math.max(2 * n, scratch.length * 2));
  const out = scratch;
  const low = cs.low;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const v = c < LOW_LIMIT ? low[c]! : (cs.high.get(c) ?? -1);
    if (v < EXT_FLAG) {
      if (v < 0) return -1 - i;
      out[o++] = v;
    } else {
      out[o++] = ESC;
      out[o++] = v & 0x7f;
    }
  }
  return o;
}

/** Default alphabet, code unit below 0x400 → septet; 0xFF for ESC pairs and characters it lacks. */
const DEFAULT_SINGLE = new Uint8Array(LOW_LIMIT).fill(0xff);
for (let c = 0; c < LOW_LIMIT; c++) {
  const v = DEFAULT_CHARSET.low[c]!;
  if (v >= 0 && v < EXT_FLAG) DEFAULT_SINGLE[c] = v;
}

/**
 * The fast path of planMessage: writes text as default-alphabet septets into out (out.length ===
 * text.length) and returns true, or returns false as soon as a code unit needs an ESC pair or is not
 * in the default alphabet (out is then partly written and must be discarded).
 */
export function writeDefaultSingleSeptets(text: string, out: Uint8Array): boolean {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= LOW_LIMIT) return false;
    const v = DEFAULT_SINGLE[c]!;
    if (v === 0xff) return false;
    out[i] = v;
  }
  return true;
}

/** The septets written by the last encodeToScratch call. */
export function encodedSeptets(count: number): Uint8Array {
  return scratch.subarray(0, count);
}

/**
 * Writes text[start, end) as unpacked septets into out at offset; returns the offset after the last
 * septet. The caller has checked that every code unit is in the charset (countSeptets >= 0).
 */
export function writeSeptets(
  cs: Gsm7Charset,
  text: string,
  start: number,
  end: number,
  out: Uint8Array,
  offset: number,
): number {
  const low = cs.low;
  let o = offset;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < LOW_LIMIT ? low[c]! : cs.high.get(c)!;
    if (v < EXT_FLAG) {
      out[o++] = v;
    } else {
      out[o++] = ESC;
      out[o++] = v & 0x7f;
    }
  }
  return o;
}

/**
 * Packs septets[start, end) into out, the first septet starting `bitOffset` bits after out[offset]
 * (§6.1.2.1.1: septet n occupies bits 7n..7n+6, least significant bit first). The destination
 * octets must be zero. When the last octet ends with exactly 7 spare bits, they are filled with CR,
 * as §6.1.2.3.1 requires so that a receiver does not read a trailing '@'. Returns the number of
 * octets written from offset.
 */
export function packInto(
  septets: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  offset: number,
  bitOffset = 0,
): number {
  let bit = bitOffset;
  for (let i = start; i < end; i++) {
    bit = packOne(out, offset, bit, septets[i]!);
  }
  const octets = (bit + 7) >>> 3;
  if (octets * 8 - bit === 7) packOne(out, offset, bit, 0x0d);
  return octets;
}

function packOne(out: Uint8Array, offset: number, bit: number, septet: number): number {
  const at = offset + (bit >>> 3);
  const shift = bit & 7;
  out[at] = out[at]! | ((septet << shift) & 0xff);
  if (shift > 1) out[at + 1] = septet >>> (8 - shift);
  return bit + 7;
}

/** Octets needed to pack `septets` septets after `bitOffset` bits. */
export function packedLength(septets: number, bitOffset = 0): number {
  return (bitOffset + septets * 7 + 7) >>> 3;
}

/** Packs unpacked septets into a new buffer (§6.1.2.1.1). */
export function packSeptets(septets: Uint8Array, bitOffset = 0): Uint8Array {
  const out = new Uint8Array(packedLength(septets.length, bitOffset));
  packInto(septets, 0, septets.length, out, 0, bitOffset);
  return out;
}

/**
 * Unpacks septets from packed octets, starting `bitOffset` bits into `bytes`. When `count` is not
 * given (SMPP's sm_length counts octets, not septets) it is derived from the length, and a final CR
 * that exactly fills the last 7 bits is taken as the padding of §6.1.2.3.1 and dropped.
 */
export function unpackSeptets(bytes: Uint8Array, bitOffset = 0, count?: number): Uint8Array {
  const available = Math.max(0, Math.floor((bytes.length * 8 - bitOffset) / 7));
  const n = count === undefined ? available : Math.min(count, available);
  const out = new Uint8Array(n);
  let bit = bitOffset;
  for (let i = 0; i < n; i++) {
    const at = bit >>> 3;
    const shift = bit & 7;
    let v = bytes[at]! >>> shift;
    if (shift > 1) v |= bytes[at + 1]! << (8 - shift);
    out[i] = v & 0x7f;
    bit += 7;
  }
  // The sender's CR padding fills the last 7 bits exactly (no bits left over).
  if (count === undefined && n > 0 && bit === bytes.length * 8 && out[n - 1] === 0x0d) {
    return out.subarray(0, n - 1);
  }
  return out;
}

/** Which national tables to use: a language name, or null/undefined for the default tables. */
export interface NationalTables {
  readonly locking?: NationalLanguage | null;
  readonly single?: NationalLanguage | null;
}

function charsetFor(national: NationalTables | undefined): Gsm7Charset {
  if (national === undefined) return DEFAULT_CHARSET;
  const locking = national.locking ? NATIONAL_LANGUAGE[national.locking] : 0;
  const single = national.single ? NATIONAL_LANGUAGE[national.single] : 0;
  return gsm7Charset(locking, single);
}

export interface Gsm7EncodeOptions {
  /** National language shift tables (3GPP TS 23.038 Annex A); default tables when absent. */
  readonly national?: NationalTables;
  /** Pack eight septets into seven octets (§6.1.2.1.1); default false (one septet per octet). */
  readonly packed?: boolean;
}

/**
 * Encodes text as GSM 7-bit septets. Throws UnencodableTextError naming every character that the
 * chosen tables lack; nothing is replaced.
 */
export function encodeGsm7(text: string, options: Gsm7EncodeOptions = {}): Uint8Array {
  const cs = charsetFor(options.national);
  const n = countSeptets(cs, text);
  if (n < 0) throw unencodableGsm7(text, cs);
  const septets = new Uint8Array(n);
  writeSeptets(cs, text, 0, text.length, septets, 0);
  return options.packed ? packSeptets(septets) : septets;
}

export function unencodableGsm7(text: string, cs: Gsm7Charset): UnencodableTextError {
  return new UnencodableTextError(
    'gsm7',
    describeUnencodable(text, (c) => gsm7Lookup(cs, c) >= 0),
  );
}

export interface Gsm7DecodeOptions {
  readonly national?: NationalTables;
  /** The input is packed (§6.1.2.1.1); default false. */
  readonly packed?: boolean;
  /** Packed only: septet count, when known; otherwise derived from the length (see unpackSeptets). */
  readonly septets?: number;
  /** Packed only: bits to skip before the first septet (the UDH and its fill bits). */
  readonly bitOffset?: number;
}

/** Decodes GSM 7-bit septets. An unpacked value above 0x7F is a BadShortMessageError. */
export function decodeGsm7(bytes: Uint8Array, options: Gsm7DecodeOptions = {}): string {
  const septets = options.packed ? unpackSeptets(bytes, options.bitOffset ?? 0, options.septets) : bytes;
  return septetsToText(septets, charsetFor(options.national), 0);
}

/**
 * Septets to text. ESC followed by a value the extension table does not define shows the basic
 * table's character (§6.2.1.1 note); ESC ESC is reserved for a further extension table and shows a
 * space (§6.2.1.1); a trailing lone ESC is dropped.
 */
export function septetsToText(septets: Uint8Array, cs: Gsm7Charset, errorOffset: number): string {
  const n = septets.length;
  const units = unitScratch(n);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const s = septets[i]!;
    if (s > 0x7f) {
      throw new BadShortMessageError(
        'septet-out-of-range',
        `GSM 7-bit octet 0x${s.toString(16)} at offset ${errorOffset + i} is above 0x7F`,
        errorOffset + i,
      );
    }
    if (s !== ESC) {
      units[o++] = cs.basic[s]!;
      continue;
    }
    if (i + 1 >= n) break;
    const e = septets[++i]!;
    if (e > 0x7f) {
      throw new BadShortMessageError(
        'septet-out-of-range',
        `GSM 7-bit octet 0x${e.toString(16)} at offset ${errorOffset + i} is above 0x7F`,
        errorOffset + i,
      );
    }
    if (e === ESC) units[o++] = 0x20;
    else units[o++] = cs.extension[e] || cs.basic[e]!;
  }
  return fromCodeUnits(units, o);
}

const CHUNK = 4096;
let units16 = new Uint16Array(1024);

/** A UTF-16 buffer shared by the decoders, at least n long; its contents are consumed at once. */
export function unitScratch(n: number): Uint16Array {
  if (units16.length < n) units16 = new Uint16Array(Math.max(n, units16.length * 2));
  return units16;
}

/** String from the first n UTF-16 code units, in chunks to stay clear of argument-count limits. */
export function fromCodeUnits(units: Uint16Array, n: number): string {
  if (n <= CHUNK) return String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]);
  let s = '';
  for (let i = 0; i < n; i += CHUNK) {
    s += String.fromCharCode.apply(null, units.subarray(i, Math.min(n, i + CHUNK)) as unknown as number[]);
  }
  return s;
}
