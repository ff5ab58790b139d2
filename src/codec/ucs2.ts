/**
 * UCS-2 as carried by SMS (3GPP TS 23.038 §6.2.3): in practice UTF-16BE, surrogate pairs passed
 * through whole, so a character outside the BMP costs two code units (four octets).
 */
import { BadShortMessageError, UnencodableTextError } from '../errors.js';
import { describeUnencodable } from './chars.js';
import { fromCodeUnits, unitScratch } from './gsm7.js';

/** Index of the first unpaired surrogate in text[start, end), or -1. */
export function findLoneSurrogate(text: string, start = 0, end = text.length): number {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < end) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

/** Writes text[start, end) as UTF-16BE into out at offset; returns the offset after it. */
export function writeUcs2(text: string, start: number, end: number, out: Uint8Array, offset: number): number {
  let o = offset;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    out[o++] = c >>> 8;
    out[o++] = c & 0xff;
  }
  return o;
}

export function unencodableUcs2(text: string): UnencodableTextError {
  return new UnencodableTextError(
    'ucs2',
    describeUnencodable(text, (c) => c < 0xd800 || c > 0xdfff),
  );
}

/**
 * Encodes text as UTF-16BE. An unpaired surrogate is not a character a handset can show, so it is an
 * UnencodableTextError rather than a replacement character.
 */
export function encodeUcs2(text: string): Uint8Array {
  if (findLoneSurrogate(text) >= 0) throw unencodableUcs2(text);
  const out = new Uint8Array(text.length * 2);
  writeUcs2(text, 0, text.length, out, 0);
  return out;
}

/** Decodes UTF-16BE; an odd length is a BadShortMessageError. */
export function decodeUcs2(bytes: Uint8Array, errorOffset = 0): string {
  if (bytes.length % 2 !== 0) {
    throw new BadShortMessageError(
      'odd-ucs2-length',
      `UCS-2 user data has an odd length of ${bytes.length} octets`,
      errorOffset + bytes.length - 1,
    );
  }
  const n = bytes.length >>> 1;
  const units = unitScratch(n);
  for (let i = 0; i < n; i++) units[i] = (bytes[2 * i]! << 8) | bytes[2 * i + 1]!;
  return fromCodeUnits(units, n);
}
