/**
 * decodeShortMessage: the octets of a received short_message (or message_payload) and its
 * data_coding to text and UDH. This reads network input: every malformed input is a
 * BadShortMessageError, never another exception.
 */
import { Buffer } from 'node:buffer';
import { BadShortMessageError } from '../errors.js';
import { DEFAULT_CHARSET, type Gsm7Charset, gsm7Charset, septetsToText, unpackSeptets } from './gsm7.js';
import { BASIC_TABLES, EXTENSION_TABLES } from './gsm7-tables.js';
import { decodeUcs2 } from './ucs2.js';
import { parseUdh, type UserDataHeader } from './udh.js';

export const ALPHABET = {
  gsm7: 'gsm7',
  ucs2: 'ucs2',
  latin1: 'latin1',
  ia5: 'ia5',
  /** 8-bit data: the payload is returned as octets, text is null. */
  binary: 'binary',
  /** A character set this codec does not decode (JIS, Cyrillic, Hebrew, KS C 5601, compressed...). */
  unsupported: 'unsupported',
} as const;
export type Alphabet = (typeof ALPHABET)[keyof typeof ALPHABET];

/**
 * The alphabet a data_coding value selects. 0x00-0x0F are SMPP v3.4 §5.2.19 values; above, the
 * 3GPP TS 23.038 §4 coding groups apply.
 */
export function alphabetOf(dataCoding: number): Alphabet {
  switch (dataCoding) {
    case 0x00:
      return 'gsm7';
    case 0x01:
      return 'ia5';
    case 0x02:
    case 0x04:
      return 'binary';
    case 0x03:
      return 'latin1';
    case 0x08:
      return 'ucs2';
  }
  if (dataCoding < 0x10) return 'unsupported';
  if (dataCoding < 0x80) {
    // General data coding (00xx) and automatic deletion (01xx) groups: bit 5 compressed, bits 3-2 alphabet.
    if (dataCoding & 0x20) return 'unsupported';
    return groupAlphabet((dataCoding >>> 2) & 0x03);
  }
  if (dataCoding < 0xc0) return 'unsupported'; // reserved coding groups
  if (dataCoding < 0xe0) return 'gsm7'; // message waiting indication, discard / store, default alphabet
  if (dataCoding < 0xf0) return 'ucs2'; // message waiting indication, store, UCS2
  return dataCoding & 0x04 ? 'binary' : 'gsm7'; // data coding / message class
}

function groupAlphabet(bits: number): Alphabet {
  return bits === 0 ? 'gsm7' : bits === 1 ? 'binary' : bits === 2 ? 'ucs2' : 'unsupported';
}

export interface DecodeShortMessageOptions {
  /** esm_class UDHI (0x40) was set: the octets start with a UDH. */
  readonly udhi?: boolean;
  /** GSM-7 arrives packed on this connector; default false (one septet per octet). */
  readonly packed?: boolean;
}

export interface DecodedShortMessage {
  readonly dataCoding: number;
  readonly alphabet: Alphabet;
  /** null for binary and unsupported alphabets. */
  readonly text: string | null;
  /** The octets after the UDH. */
  readonly payload: Uint8Array;
  readonly udh: UserDataHeader | null;
}

export function decodeShortMessage(
  bytes: Uint8Array,
  dataCoding: number,
  options: DecodeShortMessageOptions = {},
): DecodedShortMessage {
  if (!Number.isInteger(dataCoding) || dataCoding < 0 || dataCoding > 0xff) {
    throw new BadShortMessageError(
      'invalid-data-coding',
      `data_coding must be one octet, got ${dataCoding}`,
      0,
    );
  }
  const udh = options.udhi ? parseUdh(bytes) : null;
  const start = udh === null ? 0 : udh.length;
  const payload = bytes.subarray(start);
  const alphabet = alphabetOf(dataCoding);
  let text: string | null = null;
  switch (alphabet) {
    case 'gsm7': {
      const cs = charsetFor(udh);
      if (options.packed) {
        // Septets after a UDH start on a septet boundary (3GPP TS 23.040 §9.2.3.24).
        const bitOffset = udh === null ? 0 : Math.ceil((udh.length * 8) / 7) * 7;
        text = septetsToText(unpackSeptets(bytes, bitOffset), cs, start);
      } else {
        text = septetsToText(payload, cs, start);
      }
      break;
    }
    case 'ucs2':
      text = decodeUcs2(payload, start);
      break;
    case 'latin1':
      text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1');
      break;
    case 'ia5':
      for (let i = 0; i < payload.length; i++) {
        if (payload[i]! > 0x7f) {
          throw new BadShortMessageError(
            'ia5-out-of-range',
            `IA5 octet 0x${payload[i]!.toString(16)} at offset ${start + i} is above 0x7F`,
            start + i,
          );
        }
      }
      text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1');
      break;
    case 'binary':
    case 'unsupported':
      break;
  }
  return { dataCoding, alphabet, text, payload, udh };
}

/** The GSM-7 tables a UDH announces (IE 0x24/0x25); default tables without them. */
function charsetFor(udh: UserDataHeader | null): Gsm7Charset {
  if (udh === null || (udh.lockingShift === null && udh.singleShift === null)) return DEFAULT_CHARSET;
  const locking = udh.lockingShift ?? 0;
  const single = udh.singleShift ?? 0;
  for (const [id, tables] of [
    [locking, BASIC_TABLES],
    [single, EXTENSION_TABLES],
  ] as const) {
    if (tables[id] === undefined) {
      throw new BadShortMessageError(
        'unsupported-national-language',
        `national language ${id} (3GPP TS 23.038 §6.2.1.2.4) is not supported; turkish (1), spanish (2) and portuguese (3) are`,
        1,
      );
    }
  }
  return gsm7Charset(locking, single);
}
