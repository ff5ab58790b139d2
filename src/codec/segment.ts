/**
 * Segmentation: how many units fit in a part for each connector mode, and where the parts end.
 *
 * A short message carries at most 140 octets of user data (3GPP TS 23.040 §9.2.3.24). A UDH takes
 * octets from it; GSM-7 septets after a UDH start on a septet boundary (the fill bits of
 * §9.2.3.24), so a UDH of u octets leaves floor((140 - u) * 8 / 7) septets: 160 without one, 153 with
 * the 6-octet 8-bit-reference concatenation header, 152 with the 7-octet 16-bit one. UCS-2 leaves
 * floor((140 - u) / 2) code units: 70, 67, 66. The same limits hold for unpacked septets in SMPP,
 * since the SMSC packs them into that TPDU.
 */
import type { UnitBoundaries } from './graphemes.js';

export const SEGMENT_MODE = {
  /** Concatenation UDH, IE 0x00 with an 8-bit reference, in short_message (esm_class UDHI 0x40). */
  udh8: 'udh8',
  /** Concatenation UDH, IE 0x08 with a 16-bit reference, in short_message (esm_class UDHI 0x40). */
  udh16: 'udh16',
  /** SAR TLVs (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum); the SMSC builds the UDH. */
  sar: 'sar',
  /** The whole text in one message_payload TLV; the SMSC splits it. */
  payload: 'payload',
} as const;
export type SegmentMode = (typeof SEGMENT_MODE)[keyof typeof SEGMENT_MODE];

export const MAX_USER_DATA_OCTETS = 140;

/** Septets that fit in a part whose UDH takes `udhOctets` octets (UDHL included). */
export function gsm7Capacity(udhOctets: number): number {
  return Math.floor(((MAX_USER_DATA_OCTETS - udhOctets) * 8) / 7);
}

/** UTF-16 code units that fit in a part whose UDH takes `udhOctets` octets (UDHL included). */
export function ucs2Capacity(udhOctets: number): number {
  return (MAX_USER_DATA_OCTETS - udhOctets) >>> 1;
}

/**
 * UDH octets that SAR parts must leave to the SMSC. sar_msg_ref_num is 16 bits wide, so an SMSC that
 * keeps the whole reference writes IE 0x08 (7 octets): planning for it costs one septet per part
 * against an SMSC that writes IE 0x00, where planning for IE 0x00 would overflow the other kind.
 */
export const SAR_RESERVED_UDH_OCTETS = 7;

/** 8-bit-reference concatenation UDH, 6 octets: what an SMSC splitting a message_payload usually adds. */
export const PAYLOAD_ESTIMATE_UDH_OCTETS = 6;

export type PlanWarningCode = 'url-split' | 'grapheme-split';

export interface PlanWarning {
  readonly code: PlanWarningCode;
  readonly message: string;
  /** UTF-16 index in the text where the split happens (url-split: where the URL starts). */
  readonly index: number;
}

export interface Split {
  /** End (exclusive, in units) of each part; the last is the total. */
  readonly ends: number[];
  readonly warnings: PlanWarning[];
}

/**
 * Greedy split of `total` units into parts of at most `capacity`: each part ends at the last grapheme
 * cluster boundary that fits. Only a cluster larger than a whole part is cut, at a code point
 * boundary (never inside a surrogate or ESC pair), with a warning. A URL (`urls`: sorted,
 * non-overlapping start/end pairs, in units) that does not fit in what is left of a part but fits in
 * a whole one starts the next part; a longer URL is split, with a warning. `unitToIndex` turns a unit
 * position into the text index used in warnings (null: they are equal).
 */
export function splitUnits(
  total: number,
  capacity: number,
  bounds: UnitBoundaries,
  urls: readonly number[],
  unitToIndex: Int32Array | null = null,
): Split {
  const ends: number[] = [];
  const warnings: PlanWarning[] = [];
  for (let k = 0; k < urls.length; k += 2) {
    if (urls[k + 1]! - urls[k]! > capacity) {
      warnings.push({
        code: 'url-split',
        message: `the link at ${textIndex(unitToIndex, urls[k]!)} is longer than one part (${capacity} units): it will be split`,
        index: textIndex(unitToIndex, urls[k]!),
      });
    }
  }
  let start = 0;
  let url = 0;
  while (total - start > capacity) {
    const limit = start + capacity;
    let end = bounds.clusterStart(limit);
    if (end <= start) {
      end = bounds.codePointStart(limit);
      warnings.push({
        code: 'grapheme-split',
        message: `a character sequence at ${textIndex(unitToIndex, start)} is longer than one part (${capacity} units): it will be split`,
        index: textIndex(unitToIndex, end),
      });
    }
    // The first URL that ends past the cut is the only one the cut can split.
    while (url < urls.length && urls[url + 1]! <= end) url += 2;
    if (url < urls.length) {
      const s = urls[url]!;
      if (s > start && s < end && urls[url + 1]! - s <= capacity && bounds.clusterStart(s) === s) end = s;
    }
    ends.push(end);
    start = end;
  }
  ends.push(total);
  return { ends, warnings };
}

function textIndex(unitToIndex: Int32Array | null, unit: number): number {
  return unitToIndex === null ? unit : unitToIndex[unit]!;
}
