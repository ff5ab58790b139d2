/**
 * What the simulator needs of the text engine: MO text → deliver_sm parts, and a submitted
 * short_message → the text quoted in the receipt.
 */

export interface MoParts {
  dataCoding: number;
  /** short_message of each part, UDH included when there is more than one part. */
  parts: Buffer[];
}

/** Splits MO text into concatenated parts (UDH, 8-bit reference). */
export function encodeMo(text: string, reference: number): MoParts {
  const units = Buffer.from(text, 'utf16le').swap16();
  const per = units.length <= 140 ? 140 : 134;
  const parts: Buffer[] = [];
  const total = Math.ceil(units.length / per) || 1;
  for (let i = 0; i < total; i++) {
    const body = units.subarray(i * per, (i + 1) * per);
    parts.push(
      total === 1 ? body : Buffer.concat([Buffer.from([5, 0, 3, reference & 0xff, total, i + 1]), body]),
    );
  }
  return { dataCoding: 8, parts };
}

/** The text of a submitted short_message, for the receipt's text: field. */
export function quoteText(shortMessage: Buffer, dataCoding: number, udhi: boolean): string {
  let body = shortMessage;
  if (udhi && body.length > 0) body = body.subarray(Math.min(body.length, 1 + body[0]!));
  if (dataCoding === 8)
    return Buffer.from(body.subarray(0, body.length & ~1))
      .swap16()
      .toString('utf16le');
  return body.toString('latin1');
}
