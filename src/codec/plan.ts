/**
 * planMessage: text in, everything the SMPP submit path needs out: the encoding and data_coding, and
 * per part the octets for short_message (or message_payload) with the UDH or SAR values.
 *
 * Encoding choice (first that applies): GSM-7 default alphabet when every character is in it;
 * the same after smart encoding (when enabled); a national language shift table when the connector
 * allows one and it needs fewer parts than UCS-2; UCS-2. Characters are never replaced silently:
 * what cannot be sent in the chosen encoding is an UnencodableTextError naming it.
 */
import { Buffer } from 'node:buffer';
import {
  CodecOptionError,
  TooManyPartsError,
  type UnencodableCharacter,
  UnencodableTextError,
} from '../errors.js';
import { describeUnencodable } from './chars.js';
import { SeptetBoundaries, type UnitBoundaries, utf16Boundaries } from './graphemes.js';
import {
  countSeptets,
  DEFAULT_CHARSET,
  encodedSeptets,
  encodeToScratch,
  type Gsm7Charset,
  gsm7Charset,
  gsm7Lookup,
  packedLength,
  packInto,
  writeDefaultSingleSeptets,
} from './gsm7.js';
import { ESC, HAS_LOCKING_TABLE, NATIONAL_LANGUAGE, type NationalLanguage } from './gsm7-tables.js';
import {
  gsm7Capacity,
  PAYLOAD_ESTIMATE_UDH_OCTETS,
  type PlanWarning,
  SAR_RESERVED_UDH_OCTETS,
  type SegmentMode,
  splitUnits,
  ucs2Capacity,
} from './segment.js';
import { type Replacement, smartEncode, smartReplacement } from './smart.js';
import { findLoneSurrogate, unencodableUcs2, writeUcs2 } from './ucs2.js';
import { udhLength, writeUdh } from './udh.js';
import { findUrls } from './urls.js';

export const ENCODING = { gsm7: 'gsm7', ucs2: 'ucs2' } as const;
export type Encoding = (typeof ENCODING)[keyof typeof ENCODING];
export type EncodingChoice = Encoding | 'auto';

/** SMPP v3.4 §5.2.19 data_coding values the codec produces or reads. */
export const DATA_CODING = {
  /** SMSC default alphabet: GSM 03.38, one septet per octet unless the connector says otherwise. */
  default: 0x00,
  ia5: 0x01,
  octetUnspecified: 0x02,
  latin1: 0x03,
  octet: 0x04,
  ucs2: 0x08,
} as const;

/** Parts allowed when the caller sets no maximum: a cost guard (about 1,500 GSM characters). */
export const DEFAULT_MAX_PARTS = 10;
/** The concatenation IEs count parts in one octet (3GPP TS 23.040 §9.2.3.24.1). */
export const MAX_PARTS_LIMIT = 255;

export interface PlanOptions {
  /** How long messages travel on this connector; default 'udh8'. */
  readonly mode?: SegmentMode;
  /**
   * Concatenation reference: 0..255 for udh8, 0..65535 for udh16 and sar. A function is called once,
   * and only when the message needs more than one part. Required for multi-part messages in those modes.
   * The function must not call planMessage itself: the plan in progress lives in shared scratch buffers.
   */
  readonly reference?: number | (() => number);
  /** Most parts a message may take, 1..255; default 10. Longer text is a TooManyPartsError. */
  readonly maxParts?: number;
  /** Replace look-alike characters when that makes the text GSM-7; default true. */
  readonly smartEncoding?: boolean;
  /** 'auto' (default) chooses; 'gsm7' fails rather than fall back to UCS-2; 'ucs2' always. */
  readonly encoding?: EncodingChoice;
  /** National language shift tables the connector's destination supports; default none. */
  readonly nationalLanguages?: readonly NationalLanguage[];
  /** Pack GSM-7 septets eight to seven octets; default false (one septet per octet). */
  readonly packed?: boolean;
  /** data_coding for packed GSM-7, which depends on the SMSC; default 0x00. */
  readonly packedDataCoding?: number;
}

export interface NationalShift {
  readonly locking: NationalLanguage | null;
  readonly single: NationalLanguage | null;
}

/** The SAR TLV values of a part (SMPP v3.4 §5.3.2.22-24). */
export interface SarFields {
  readonly ref: number;
  readonly total: number;
  readonly seq: number;
}

export interface PlannedPart {
  /** 1-based. */
  readonly seq: number;
  /**
   * short_message octets (UDH first when udhi) in modes udh8, udh16 and sar; the message_payload
   * octets in mode payload.
   */
  readonly bytes: Uint8Array;
  /** Set esm_class UDHI (0x40): bytes start with a UDH. */
  readonly udhi: boolean;
  /** SAR TLV values in mode sar for a multi-part message; null otherwise. */
  readonly sar: SarFields | null;
  /** The text this part carries. */
  readonly text: string;
  /** Septets (an ESC pair counts two) or UTF-16 code units. */
  readonly units: number;
}

export interface MessagePlan {
  /** The text that is sent: the input, after smart-encoding replacements. */
  readonly text: string;
  readonly encoding: Encoding;
  /** National language tables in use (GSM-7 only), or null for the default alphabet. */
  readonly national: NationalShift | null;
  /** data_coding for every PDU of the message. */
  readonly dataCoding: number;
  readonly packed: boolean;
  readonly mode: SegmentMode;
  /** Septets or UTF-16 code units of the whole text. */
  readonly units: number;
  /** Units that fit in one part of this message as laid out. */
  readonly unitsPerPart: number;
  /** PDUs to submit, in order. One in mode payload. */
  readonly parts: readonly PlannedPart[];
  /** Short messages the handset receives: parts.length, except in mode payload (SMSC's split, estimated). */
  readonly segmentCount: number;
  /** The concatenation reference used, or null for a single part (and in mode payload). */
  readonly reference: number | null;
  readonly replacements: readonly Replacement[];
  readonly warnings: readonly PlanWarning[];
}

const NO_OPTIONS: PlanOptions = {};
const NO_REPLACEMENTS: readonly Replacement[] = Object.freeze([]);
const NO_WARNINGS: readonly PlanWarning[] = Object.freeze([]);
const NO_URLS: readonly number[] = Object.freeze([]);
const LANGUAGE_NAMES: Readonly<Record<number, NationalLanguage>> = {
  1: 'turkish',
  2: 'spanish',
  3: 'portuguese',
};

/** A text measured and split for one encoding, before any octets are written. */
interface Layout {
  readonly text: string;
  readonly encoding: Encoding;
  /** GSM-7 tables; null for UCS-2. */
  readonly cs: Gsm7Charset | null;
  /** GSM-7: the unpacked septets of the whole text. null for UCS-2. */
  readonly septets: Uint8Array | null;
  /** Septets (ESC pairs count two) or UTF-16 code units. */
  readonly units: number;
  readonly replacements: readonly Replacement[];
  /** UDH octets of every part (0: none). */
  readonly udhOctets: number;
  readonly refBits: 0 | 8 | 16;
  readonly capacity: number;
  /** End of each part in units; null: one part holding the whole text. */
  readonly ends: readonly number[] | null;
  /** Unit position → text index, for GSM-7 text with ESC pairs; null where they are equal. */
  readonly unitToIndex: Int32Array | null;
  readonly segmentCount: number;
  readonly warnings: readonly PlanWarning[];
}

/** Plans one outbound message. Synchronous and pure; the hot path of the submit pipeline. */
export function planMessage(text: string, options: PlanOptions = NO_OPTIONS): MessagePlan {
  const mode = options.mode ?? 'udh8';
  const maxParts = options.maxParts ?? DEFAULT_MAX_PARTS;
  const choice = options.encoding ?? 'auto';
  checkOptions(options, mode, maxParts, choice);
  // Fast path, the common case: a short default-alphabet text without ESC pairs is one part with no
  // UDH in every mode, its septets written straight into the buffer that is returned.
  if (text.length <= SINGLE_GSM7_SEPTETS && choice !== 'ucs2' && options.packed !== true) {
    const bytes = Buffer.allocUnsafe(text.length);
    if (writeDefaultSingleSeptets(text, bytes)) return singleGsm7Plan(text, bytes, mode);
  }
  let layout: Layout;
  if (choice !== 'ucs2') {
    const n = encodeToScratch(DEFAULT_CHARSET, text);
    layout =
      n >= 0
        ? measureGsm7(text, DEFAULT_CHARSET, encodedSeptets(n), NO_REPLACEMENTS, mode, maxParts)
        : chooseNonDefault(text, -1 - n, options, mode, maxParts, choice === 'gsm7');
  } else {
    layout = measureUcs2(text, mode, maxParts);
  }
  return materialize(layout, mode, options);
}

const SINGLE_GSM7_SEPTETS = gsm7Capacity(0);

/** The plan of the fast path; the same shape (and property order) as materialize's. */
function singleGsm7Plan(text: string, bytes: Uint8Array, mode: SegmentMode): MessagePlan {
  const units = text.length;
  return {
    text,
    encoding: 'gsm7',
    national: null,
    dataCoding: DATA_CODING.default,
    packed: false,
    mode,
    units,
    unitsPerPart: SINGLE_GSM7_SEPTETS,
    parts: [{ seq: 1, bytes, udhi: false, sar: null, text, units }],
    segmentCount: 1,
    reference: null,
    replacements: NO_REPLACEMENTS,
    warnings: NO_WARNINGS,
  };
}

function checkOptions(
  options: PlanOptions,
  mode: SegmentMode,
  maxParts: number,
  choice: EncodingChoice,
): void {
  if (mode !== 'udh8' && mode !== 'udh16' && mode !== 'sar' && mode !== 'payload') {
    throw new CodecOptionError(`mode must be udh8, udh16, sar or payload, got ${String(mode)}`);
  }
  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > MAX_PARTS_LIMIT) {
    throw new CodecOptionError(`maxParts must be an integer 1..${MAX_PARTS_LIMIT}, got ${maxParts}`);
  }
  if (choice !== 'auto' && choice !== 'gsm7' && choice !== 'ucs2') {
    throw new CodecOptionError(`encoding must be auto, gsm7 or ucs2, got ${String(choice)}`);
  }
  const ref = options.reference;
  if (typeof ref === 'number') checkReference(ref, mode);
  const dc = options.packedDataCoding;
  if (dc !== undefined && (!Number.isInteger(dc) || dc < 0 || dc > 0xff)) {
    throw new CodecOptionError(`packedDataCoding must be an integer 0..255, got ${dc}`);
  }
  const langs = options.nationalLanguages;
  if (langs !== undefined) {
    for (const l of langs) {
      if (!Object.hasOwn(NATIONAL_LANGUAGE, l)) {
        throw new CodecOptionError(
          `nationalLanguages entries must be ${Object.keys(NATIONAL_LANGUAGE).join(', ')}; got ${String(l)}`,
        );
      }
    }
  }
}

function checkReference(ref: number, mode: SegmentMode): number {
  const max = mode === 'udh8' ? 0xff : 0xffff;
  if (!Number.isInteger(ref) || ref < 0 || ref > max) {
    throw new CodecOptionError(`reference must be an integer 0..${max} in mode ${mode}, got ${ref}`);
  }
  return ref;
}

function resolveReference(options: PlanOptions, mode: SegmentMode): number {
  const r = options.reference;
  const ref = typeof r === 'function' ? r() : r;
  if (ref === undefined) {
    throw new CodecOptionError(`a reference is required for a multi-part message in mode ${mode}`);
  }
  return checkReference(ref, mode);
}

/** The text does not fit the default alphabet: smart encoding, national tables, or UCS-2. */
function chooseNonDefault(
  text: string,
  firstBad: number,
  options: PlanOptions,
  mode: SegmentMode,
  maxParts: number,
  gsmOnly: boolean,
): Layout {
  const smart = options.smartEncoding !== false;
  if (smart) {
    const s = smartEncode(text, DEFAULT_CHARSET, firstBad);
    if (s !== null) {
      let gsm: Layout;
      try {
        gsm = measureGsm7Copy(s.text, DEFAULT_CHARSET, s.replacements, mode, maxParts);
      } catch (err) {
        // Too long once '…' became '...': the original may still fit as UCS-2.
        if (gsmOnly || !(err instanceof TooManyPartsError)) throw err;
        try {
          return measureUcs2(text, mode, maxParts);
        } catch (ucs2Err) {
          // Too long either way: the smaller count says how far to shorten.
          if (ucs2Err instanceof TooManyPartsError && ucs2Err.parts < err.parts) throw ucs2Err;
          throw err;
        }
      }
      // Smart encoding is there to save parts; '…' becoming '...' can cost more than it saves.
      return gsmOnly ? gsm : fewerOrEqualThanUcs2(gsm, text, mode, maxParts);
    }
  }
  // National tables are announced in the UDH (IE 0x24/0x25), which only the UDH modes let us write.
  const charsets = mode === 'udh8' || mode === 'udh16' ? nationalCharsets(options.nationalLanguages) : [];
  let best: Layout | null = null;
  let tooLong: TooManyPartsError | null = null;
  for (const cs of charsets) {
    let t = text;
    let reps = NO_REPLACEMENTS;
    if (countSeptets(cs, text) < 0) {
      const s = smart ? smartEncode(text, cs) : null;
      if (s === null) continue;
      t = s.text;
      reps = s.replacements;
    }
    try {
      const l = measureGsm7Copy(t, cs, reps, mode, maxParts);
      if (best === null || better(l, best)) best = l;
    } catch (err) {
      if (!(err instanceof TooManyPartsError)) throw err;
      tooLong ??= err;
    }
  }
  if (gsmOnly) {
    if (best !== null) return best;
    if (tooLong !== null) throw tooLong;
    throw unencodableAsGsm7(text, smart, charsets);
  }
  if (best === null) return measureUcs2(text, mode, maxParts);
  // Prefer UCS-2 on a tie: every handset shows it, not every handset has the national tables.
  const ucs2 = tryMeasureUcs2(text, mode, maxParts);
  return ucs2 === null || best.segmentCount < ucs2.segmentCount ? best : ucs2;
}

/** The GSM-7 layout unless UCS-2 of the original text needs fewer parts. */
function fewerOrEqualThanUcs2(gsm: Layout, text: string, mode: SegmentMode, maxParts: number): Layout {
  if (gsm.segmentCount === 1) return gsm;
  const ucs2 = tryMeasureUcs2(text, mode, maxParts);
  return ucs2 !== null && ucs2.segmentCount < gsm.segmentCount ? ucs2 : gsm;
}

/** measureUcs2, or null when the text needs more than maxParts parts as UCS-2. */
function tryMeasureUcs2(text: string, mode: SegmentMode, maxParts: number): Layout | null {
  try {
    return measureUcs2(text, mode, maxParts);
  } catch (err) {
    if (err instanceof TooManyPartsError) return null;
    throw err;
  }
}

function better(a: Layout, b: Layout): boolean {
  if (a.segmentCount !== b.segmentCount) return a.segmentCount < b.segmentCount;
  if (a.replacements.length !== b.replacements.length) return a.replacements.length < b.replacements.length;
  if (a.udhOctets !== b.udhOctets) return a.udhOctets < b.udhOctets;
  return a.units < b.units;
}

/** Every (locking, single) pair the allowed languages make, the default pair excluded. */
function nationalCharsets(langs: readonly NationalLanguage[] | undefined): Gsm7Charset[] {
  if (langs === undefined || langs.length === 0) return [];
  const locking = new Set<number>([0]);
  const single = new Set<number>([0]);
  for (const l of langs) {
    single.add(NATIONAL_LANGUAGE[l]);
    if (HAS_LOCKING_TABLE[l]) locking.add(NATIONAL_LANGUAGE[l]);
  }
  const out: Gsm7Charset[] = [];
  for (const lk of locking) for (const sg of single) if (lk !== 0 || sg !== 0) out.push(gsm7Charset(lk, sg));
  return out;
}

function unencodableAsGsm7(
  text: string,
  smart: boolean,
  national: readonly Gsm7Charset[],
): UnencodableTextError {
  const charsets = [DEFAULT_CHARSET, ...national];
  const fits = (c: number): boolean => {
    for (const cs of charsets) {
      if (gsm7Lookup(cs, c) >= 0) return true;
      const r = smart ? smartReplacement(c) : undefined;
      if (r !== undefined && countSeptets(cs, r) >= 0) return true;
    }
    return false;
  };
  let chars: UnencodableCharacter[] = describeUnencodable(text, fits);
  // Each character fits some table but no one table fits them all: name those the default lacks.
  if (chars.length === 0) chars = describeUnencodable(text, (c) => gsm7Lookup(DEFAULT_CHARSET, c) >= 0);
  return new UnencodableTextError('gsm7', chars);
}

/** measureGsm7 on septets of its own, for candidates compared before one is chosen. */
function measureGsm7Copy(
  text: string,
  cs: Gsm7Charset,
  replacements: readonly Replacement[],
  mode: SegmentMode,
  maxParts: number,
): Layout {
  const n = encodeToScratch(cs, text);
  const layout = measureGsm7(text, cs, encodedSeptets(n).slice(), replacements, mode, maxParts);
  const map = layout.unitToIndex;
  return map === null ? layout : { ...layout, unitToIndex: map.slice(0, n + 1) };
}

function measureGsm7(
  text: string,
  cs: Gsm7Charset,
  septets: Uint8Array,
  replacements: readonly Replacement[],
  mode: SegmentMode,
  maxParts: number,
): Layout {
  const units = septets.length;
  const shifts = (cs.locking ? 1 : 0) + (cs.single ? 1 : 0);
  const udh1 = mode === 'payload' ? 0 : udhLength(0, shifts);
  if (units <= gsm7Capacity(udh1)) {
    return {
      text,
      encoding: 'gsm7',
      cs,
      septets,
      units,
      replacements,
      udhOctets: udh1,
      refBits: 0,
      capacity: gsm7Capacity(udh1),
      ends: null,
      unitToIndex: null,
      segmentCount: 1,
      warnings: NO_WARNINGS,
    };
  }
  const unitToIndex = units === text.length ? null : mapUnitsToIndexes(septets, text.length);
  const bounds = new SeptetBoundaries(septets);
  return measureMulti(text, 'gsm7', cs, septets, replacements, mode, maxParts, shifts, bounds, unitToIndex);
}

function measureUcs2(text: string, mode: SegmentMode, maxParts: number): Layout {
  if (findLoneSurrogate(text) >= 0) throw unencodableUcs2(text);
  const units = text.length;
  if (units <= ucs2Capacity(0)) {
    return {
      text,
      encoding: 'ucs2',
      cs: null,
      septets: null,
      units,
      replacements: NO_REPLACEMENTS,
      udhOctets: 0,
      refBits: 0,
      capacity: ucs2Capacity(0),
      ends: null,
      unitToIndex: null,
      segmentCount: 1,
      warnings: NO_WARNINGS,
    };
  }
  return measureMulti(
    text,
    'ucs2',
    null,
    null,
    NO_REPLACEMENTS,
    mode,
    maxParts,
    0,
    utf16Boundaries(text),
    null,
  );
}

/** A text longer than one part without concatenation. */
function measureMulti(
  text: string,
  encoding: Encoding,
  cs: Gsm7Charset | null,
  septets: Uint8Array | null,
  replacements: readonly Replacement[],
  mode: SegmentMode,
  maxParts: number,
  shifts: number,
  bounds: UnitBoundaries,
  unitToIndex: Int32Array | null,
): Layout {
  const gsm = encoding === 'gsm7';
  const units = gsm ? septets!.length : text.length;
  let udhOctets = 0;
  let refBits: 0 | 8 | 16 = 0;
  let capacity: number;
  let ends: number[] | null = null;
  let segmentCount: number;
  let warnings: readonly PlanWarning[] = NO_WARNINGS;
  if (mode === 'payload') {
    // One PDU; the SMSC splits it, most often with 8-bit-reference UDHs: estimate what it sends.
    const capN = gsm ? gsm7Capacity(PAYLOAD_ESTIMATE_UDH_OCTETS) : ucs2Capacity(PAYLOAD_ESTIMATE_UDH_OCTETS);
    checkLowerBound(units, capN, maxParts, encoding);
    segmentCount = splitUnits(units, capN, bounds, NO_URLS, unitToIndex).ends.length;
    if (segmentCount > maxParts) throw new TooManyPartsError(segmentCount, maxParts, encoding, capN);
    capacity = gsm ? gsm7Capacity(0) : ucs2Capacity(0);
  } else {
    refBits = mode === 'udh8' ? 8 : mode === 'udh16' ? 16 : 0;
    udhOctets = udhLength(refBits, shifts);
    const reserved = mode === 'sar' ? SAR_RESERVED_UDH_OCTETS : udhOctets;
    capacity = gsm ? gsm7Capacity(reserved) : ucs2Capacity(reserved);
    checkLowerBound(units, capacity, maxParts, encoding);
    const urls = septets === null ? findUrls(text) : urlsInSeptets(text, septets, unitToIndex);
    let split = splitUnits(units, capacity, bounds, urls, unitToIndex);
    if (split.ends.length > maxParts && urls.length > 0) {
      // Keeping links whole costs parts; when that is what breaks the limit, split them instead.
      const plain = splitUnits(units, capacity, bounds, NO_URLS, unitToIndex);
      if (plain.ends.length <= maxParts) {
        plain.warnings.push({
          code: 'url-split',
          message: `links are split across parts: keeping them whole would need ${split.ends.length} parts, more than ${maxParts}`,
          index: unitToIndex === null ? urls[0]! : unitToIndex[urls[0]!]!,
        });
        split = plain;
      }
    }
    segmentCount = split.ends.length;
    if (segmentCount > maxParts) throw new TooManyPartsError(segmentCount, maxParts, encoding, capacity);
    ends = split.ends;
    if (split.warnings.length > 0) warnings = split.warnings;
  }
  return {
    text,
    encoding,
    cs,
    septets,
    units,
    replacements,
    udhOctets,
    refBits,
    capacity,
    ends,
    unitToIndex,
    segmentCount,
    warnings,
  };
}

let indexScratch = new Int32Array(1024);

/**
 * Text index of each septet position (an ESC pair's second septet maps to its character). The map
 * lives in a buffer shared by all calls: it is only read before planMessage returns.
 */
function mapUnitsToIndexes(septets: Uint8Array, length: number): Int32Array {
  if (indexScratch.length < septets.length + 1) {
    indexScratch = new Int32Array(Math.max(septets.length + 1, indexScratch.length * 2));
  }
  const map = indexScratch;
  let i = 0;
  for (let u = 0; u < septets.length; u++) {
    map[u] = i;
    if (septets[u] === ESC) map[++u] = i;
    i++;
  }
  map[septets.length] = length;
  return map;
}

/** URL ranges in septets: text indexes shifted by the ESC septets before them. */
function urlsInSeptets(text: string, septets: Uint8Array, unitToIndex: Int32Array | null): number[] {
  const urls = findUrls(text);
  if (unitToIndex === null || urls.length === 0) return urls;
  const out = new Array<number>(urls.length);
  let u = 0;
  for (let k = 0; k < urls.length; k++) {
    while (unitToIndex[u]! < urls[k]! || (u > 0 && septets[u - 1] === ESC)) u++;
    out[k] = u;
  }
  return out;
}

/** Fails before any splitting work when even full parts could not hold the text. */
function checkLowerBound(units: number, capacity: number, maxParts: number, encoding: Encoding): void {
  const atLeast = Math.ceil(units / capacity);
  if (atLeast > maxParts) throw new TooManyPartsError(atLeast, maxParts, encoding, capacity);
}

/** Bits between the end of a UDH and the first septet: septets start on a septet boundary. */
function fillBits(udhOctets: number): number {
  return (7 - ((udhOctets * 8) % 7)) % 7;
}

function payloadLength(layout: Layout, units: number, packed: boolean, udhOctets: number): number {
  if (layout.septets === null) return units * 2;
  return packed ? packedLength(units, fillBits(udhOctets)) : units;
}

/** Writes units [u0, u1) after the UDH at out[offset]; returns the offset after them. */
function writePayload(
  layout: Layout,
  u0: number,
  u1: number,
  packed: boolean,
  udhOctets: number,
  out: Uint8Array,
  offset: number,
): number {
  const septets = layout.septets;
  if (septets === null) return writeUcs2(layout.text, u0, u1, out, offset);
  if (!packed) {
    out.set(septets.subarray(u0, u1), offset);
    return offset + u1 - u0;
  }
  const len = packedLength(u1 - u0, fillBits(udhOctets));
  out.fill(0, offset, offset + len);
  packInto(septets, u0, u1, out, offset, fillBits(udhOctets));
  return offset + len;
}

function materialize(layout: Layout, mode: SegmentMode, options: PlanOptions): MessagePlan {
  const packed = layout.septets !== null && options.packed === true;
  const cs = layout.cs;
  const national: NationalShift | null =
    cs !== null && (cs.locking !== 0 || cs.single !== 0)
      ? { locking: LANGUAGE_NAMES[cs.locking] ?? null, single: LANGUAGE_NAMES[cs.single] ?? null }
      : null;
  const dataCoding =
    layout.encoding === 'ucs2'
      ? DATA_CODING.ucs2
      : packed
        ? (options.packedDataCoding ?? DATA_CODING.default)
        : DATA_CODING.default;
  const ends = layout.ends;
  const text = layout.text;
  const udh = layout.udhOctets;
  const single = cs?.single ?? 0;
  const locking = cs?.locking ?? 0;
  let parts: PlannedPart[];
  let reference: number | null = null;
  if (ends === null) {
    const bytes = Buffer.allocUnsafe(udh + payloadLength(layout, layout.units, packed, udh));
    const o = writeUdh(bytes, 0, 0, 0, 0, 0, single, locking);
    writePayload(layout, 0, layout.units, packed, udh, bytes, o);
    parts = [{ seq: 1, bytes, udhi: udh > 0, sar: null, text, units: layout.units }];
  } else {
    reference = resolveReference(options, mode);
    const total = ends.length;
    let size = 0;
    let u0 = 0;
    for (let k = 0; k < total; k++) {
      size += udh + payloadLength(layout, ends[k]! - u0, packed, udh);
      u0 = ends[k]!;
    }
    const buf = Buffer.allocUnsafe(size);
    const map = layout.unitToIndex;
    parts = new Array<PlannedPart>(total);
    u0 = 0;
    let o = 0;
    for (let k = 0; k < total; k++) {
      const u1 = ends[k]!;
      const from = o;
      o = writeUdh(buf, o, layout.refBits, reference, total, k + 1, single, locking);
      o = writePayload(layout, u0, u1, packed, udh, buf, o);
      parts[k] = {
        seq: k + 1,
        bytes: buf.subarray(from, o),
        udhi: udh > 0,
        sar: mode === 'sar' ? { ref: reference, total, seq: k + 1 } : null,
        text: map === null ? text.slice(u0, u1) : text.slice(map[u0]!, map[u1]!),
        units: u1 - u0,
      };
      u0 = u1;
    }
  }
  return {
    text,
    encoding: layout.encoding,
    national,
    dataCoding,
    packed,
    mode,
    units: layout.units,
    unitsPerPart: layout.capacity,
    parts,
    segmentCount: layout.segmentCount,
    reference,
    replacements: layout.replacements,
    warnings: layout.warnings,
  };
}
