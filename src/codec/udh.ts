/**
 * User Data Header (3GPP TS 23.040 §9.2.3.24): UDHL (one octet, the length of what follows), then
 * information elements, each IEI, IEDL, data.
 */
import { BadShortMessageError, CodecOptionError } from '../errors.js';

/** Information Element Identifiers used here (3GPP TS 23.040 §9.2.3.24, Table 9.2.3.24). */
export const IEI = {
  /** §9.2.3.24.1 Concatenated short messages, 8-bit reference: ref, total, seq. */
  concat8: 0x00,
  /** §9.2.3.24.8 Concatenated short messages, 16-bit reference: refHi, refLo, total, seq. */
  concat16: 0x08,
  /** §9.2.3.24.15 National Language Single Shift: language id. */
  singleShift: 0x24,
  /** §9.2.3.24.16 National Language Locking Shift: language id. */
  lockingShift: 0x25,
} as const;

export interface Concatenation {
  readonly ref: number;
  readonly refBits: 8 | 16;
  /** Parts in the message, 1..255. */
  readonly total: number;
  /** This part's number, 1..total. */
  readonly seq: number;
}

export interface InformationElement {
  readonly iei: number;
  readonly data: Uint8Array;
}

export interface UserDataHeader {
  /** Octets the header takes, UDHL included. */
  readonly length: number;
  /** Every IE in order of appearance, the recognised ones included. */
  readonly elements: readonly InformationElement[];
  /** From IE 0x00 or 0x08; null when absent or invalid (§9.2.3.24.1: a receiver ignores those). */
  readonly concat: Concatenation | null;
  /** National Language Identifier from IE 0x24, or null. */
  readonly singleShift: number | null;
  /** National Language Identifier from IE 0x25, or null. */
  readonly lockingShift: number | null;
}

/** Octets of a UDH carrying the given IEs (UDHL included); 0 when there is none. */
export function udhLength(concatRefBits: 0 | 8 | 16, shiftIes: number): number {
  const concat = concatRefBits === 8 ? 5 : concatRefBits === 16 ? 6 : 0;
  const body = concat + 3 * shiftIes;
  return body === 0 ? 0 : 1 + body;
}

/**
 * Writes a UDH at out[offset]: the concatenation IE (when refBits is not 0), then the national
 * language IEs (0 = absent). Returns the offset after it.
 */
export function writeUdh(
  out: Uint8Array,
  offset: number,
  refBits: 0 | 8 | 16,
  ref: number,
  total: number,
  seq: number,
  single: number,
  locking: number,
): number {
  const len = udhLength(refBits, (single ? 1 : 0) + (locking ? 1 : 0));
  if (len === 0) return offset;
  let o = offset;
  out[o++] = len - 1;
  if (refBits === 8) {
    out[o++] = IEI.concat8;
    out[o++] = 3;
    out[o++] = ref;
  } else if (refBits === 16) {
    out[o++] = IEI.concat16;
    out[o++] = 4;
    out[o++] = ref >>> 8;
    out[o++] = ref & 0xff;
  }
  if (refBits !== 0) {
    out[o++] = total;
    out[o++] = seq;
  }
  if (single) {
    out[o++] = IEI.singleShift;
    out[o++] = 1;
    out[o++] = single;
  }
  if (locking) {
    out[o++] = IEI.lockingShift;
    out[o++] = 1;
    out[o++] = locking;
  }
  return o;
}

export interface BuildUdhOptions {
  readonly concat?: Concatenation;
  readonly singleShift?: number;
  readonly lockingShift?: number;
  /** Further IEs, appended after the ones above. */
  readonly elements?: readonly InformationElement[];
}

function checkByte(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new CodecOptionError(`${name} must be an integer ${min}..${max}, got ${v}`);
  }
}

/** Builds a UDH (UDHL included), e.g. for the SMSC simulator's mobile-originated parts. */
export function buildUdh(options: BuildUdhOptions): Uint8Array {
  const c = options.concat;
  if (c) {
    checkByte('concat.ref', c.ref, 0, c.refBits === 16 ? 0xffff : 0xff);
    checkByte('concat.total', c.total, 1, 255);
    checkByte('concat.seq', c.seq, 1, c.total);
  }
  const single = options.singleShift ?? 0;
  const locking = options.lockingShift ?? 0;
  checkByte('singleShift', single, 0, 255);
  checkByte('lockingShift', locking, 0, 255);
  const extra = options.elements ?? [];
  let extraLen = 0;
  for (const e of extra) {
    checkByte('iei', e.iei, 0, 255);
    checkByte('IE data length', e.data.length, 0, 255);
    extraLen += 2 + e.data.length;
  }
  const refBits = c ? c.refBits : 0;
  let len = udhLength(refBits, (single ? 1 : 0) + (locking ? 1 : 0));
  if (len === 0 && extraLen > 0) len = 1;
  checkByte('UDH length', len + extraLen - 1, 0, 139);
  const out = new Uint8Array(len + extraLen);
  let o = writeUdh(out, 0, refBits, c?.ref ?? 0, c?.total ?? 0, c?.seq ?? 0, single, locking);
  if (o === 0 && extraLen > 0) o = 1;
  out[0] = len + extraLen - 1;
  for (const e of extra) {
    out[o++] = e.iei;
    out[o++] = e.data.length;
    out.set(e.data, o);
    o += e.data.length;
  }
  return out;
}

/**
 * Parses the UDH at the start of `bytes`. A header or IE that runs past its end is a
 * BadShortMessageError; a recognised IE with a wrong length or out-of-range values is kept in
 * `elements` but not interpreted, as §9.2.3.24.1 tells a receiver to ignore it.
 */
export function parseUdh(bytes: Uint8Array): UserDataHeader {
  if (bytes.length < 1) {
    throw new BadShortMessageError('udh-missing', 'UDHI is set but the user data is empty', 0);
  }
  const length = 1 + bytes[0]!;
  if (length > bytes.length) {
    throw new BadShortMessageError(
      'udh-overflow',
      `UDH length ${length} runs past the ${bytes.length}-octet user data`,
      0,
    );
  }
  const elements: InformationElement[] = [];
  let concat: Concatenation | null = null;
  let singleShift: number | null = null;
  let lockingShift: number | null = null;
  let o = 1;
  while (o < length) {
    if (o + 2 > length) {
      throw new BadShortMessageError('ie-overflow', `UDH IE header at offset ${o} runs past the UDH`, o);
    }
    const iei = bytes[o]!;
    const iedl = bytes[o + 1]!;
    if (o + 2 + iedl > length) {
      throw new BadShortMessageError(
        'ie-overflow',
        `UDH IE 0x${iei.toString(16).padStart(2, '0')} at offset ${o} (${iedl} octets) runs past the UDH`,
        o,
      );
    }
    const data = bytes.subarray(o + 2, o + 2 + iedl);
    elements.push({ iei, data });
    if (iei === IEI.concat8 && iedl === 3) {
      concat = validConcat(data[0]!, 8, data[1]!, data[2]!) ?? concat;
    } else if (iei === IEI.concat16 && iedl === 4) {
      concat = validConcat((data[0]! << 8) | data[1]!, 16, data[2]!, data[3]!) ?? concat;
    } else if (iei === IEI.singleShift && iedl === 1) {
      singleShift = data[0]!;
    } else if (iei === IEI.lockingShift && iedl === 1) {
      lockingShift = data[0]!;
    }
    o += 2 + iedl;
  }
  return { length, elements, concat, singleShift, lockingShift };
}

function validConcat(ref: number, refBits: 8 | 16, total: number, seq: number): Concatenation | null {
  // §9.2.3.24.1: a total of 0, or a sequence of 0 or above the total, makes the IE void.
  if (total === 0 || seq === 0 || seq > total) return null;
  return { ref, refBits, total, seq };
}
