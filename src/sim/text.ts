/**
 * What the simulator needs of the text engine: MO text → deliver_sm parts, and a submitted
 * short_message → the text quoted in its receipt.
 */
import { decodeShortMessage, planMessage } from '../codec/index.js';
import { SluiceError } from '../errors.js';

export interface MoParts {
  dataCoding: number;
  /** short_message of each part, UDH included when there is more than one part. */
  parts: Buffer[];
}

/**
 * Splits MO text as a handset would: GSM 03.38 when every character fits, else UCS-2, in
 * concatenated parts with an 8-bit reference UDH.
 */
export function encodeMo(text: string, reference: number): MoParts {
  const plan = planMessage(text, { mode: 'udh8', reference, maxParts: 255, smartEncoding: false });
  // The planned parts are views into one pooled buffer: each PDU gets its own copy.
  return { dataCoding: plan.dataCoding, parts: plan.parts.map((p) => Buffer.from(p.bytes)) };
}

/**
 * Characters written the same in ASCII and the GSM 03.38 default alphabet: the receipt text goes
 * out with data_coding 0, so anything else would change on the way ('$' and '@' among them).
 */
const NOT_RECEIPT_SAFE = /[^A-Za-z0-9 !"#%&'()*+,\-./:;<=>?]/g;

/** The start of a submitted message's text, as the receipt's text: field quotes it. */
export function quoteText(shortMessage: Buffer, dataCoding: number, udhi: boolean): string {
  let text: string;
  try {
    text = decodeShortMessage(shortMessage, dataCoding, { udhi }).text ?? '';
  } catch (err) {
    if (err instanceof SluiceError) return '';
    throw err;
  }
  return Array.from(text).slice(0, 20).join('').replace(NOT_RECEIPT_SAFE, '?');
}
