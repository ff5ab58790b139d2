/**
 * previewMessage: what a sender wants to know before sending: the encoding, the parts and their
 * text, the characters that forced UCS-2, what smart encoding replaced, and the warnings.
 * Plain data, ready for JSON (the CLI and, later, the HTTP API).
 */
import { Buffer } from 'node:buffer';
import type { UnencodableCharacter } from '../errors.js';
import { describeUnencodable, formatCodePoint } from './chars.js';
import { DEFAULT_CHARSET, gsm7Lookup } from './gsm7.js';
import {
  type Encoding,
  type MessagePlan,
  type NationalShift,
  type PlanOptions,
  planMessage,
} from './plan.js';
import type { PlanWarning, SegmentMode } from './segment.js';
import { type Replacement, smartReplacement } from './smart.js';

export interface PreviewPart {
  readonly seq: number;
  readonly text: string;
  /** Septets (an ESC pair counts two) or UTF-16 code units. */
  readonly units: number;
  /** Octets of short_message / message_payload, UDH included. */
  readonly octets: number;
  /** The octets, hex. */
  readonly hex: string;
}

export interface ForcedCharacter {
  readonly char: string;
  /** "U+1F600". */
  readonly codePoint: string;
  readonly index: number;
  readonly count: number;
}

export interface MessagePreview {
  readonly encoding: Encoding;
  readonly dataCoding: number;
  readonly national: NationalShift | null;
  readonly mode: SegmentMode;
  /** PDUs to submit. */
  readonly partCount: number;
  /** Short messages the handset receives (an estimate in mode payload, where the SMSC splits). */
  readonly segmentCount: number;
  readonly units: number;
  readonly unitsPerPart: number;
  readonly parts: readonly PreviewPart[];
  /**
   * Characters outside the GSM-7 default alphabet that made the text UCS-2 (those smart encoding
   * could have replaced are left out when it was on: they are not what forced UCS-2). Empty for GSM-7
   * and for UCS-2 chosen by the caller.
   */
  readonly forcedUcs2: readonly ForcedCharacter[];
  readonly replacements: readonly Replacement[];
  readonly warnings: readonly PlanWarning[];
}

/** Plans the text exactly as planMessage does (a reference of 0 is assumed when none is given). */
export function previewMessage(text: string, options: PlanOptions = {}): MessagePreview {
  const plan = planMessage(text, { ...options, reference: options.reference ?? 0 });
  return toPreview(plan, options);
}

export function toPreview(plan: MessagePlan, options: PlanOptions = {}): MessagePreview {
  const smart = options.smartEncoding !== false;
  const forced: UnencodableCharacter[] =
    plan.encoding === 'ucs2' && (options.encoding ?? 'auto') === 'auto'
      ? describeUnencodable(plan.text, (c) => {
          if (gsm7Lookup(DEFAULT_CHARSET, c) >= 0) return true;
          return smart && smartReplacement(c) !== undefined;
        })
      : [];
  return {
    encoding: plan.encoding,
    dataCoding: plan.dataCoding,
    national: plan.national,
    mode: plan.mode,
    partCount: plan.parts.length,
    segmentCount: plan.segmentCount,
    units: plan.units,
    unitsPerPart: plan.unitsPerPart,
    parts: plan.parts.map((p) => ({
      seq: p.seq,
      text: p.text,
      units: p.units,
      octets: p.bytes.length,
      hex: Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength).toString('hex'),
    })),
    forcedUcs2: forced.map((c) => ({
      char: c.char,
      codePoint: formatCodePoint(c.codePoint),
      index: c.index,
      count: c.count,
    })),
    replacements: plan.replacements,
    warnings: plan.warnings,
  };
}
