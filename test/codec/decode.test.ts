import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alphabetOf, buildUdh, decodeShortMessage, encodeGsm7, planMessage } from '../../src/codec/index.js';
import { BadShortMessageError } from '../../src/errors.js';
import { mixedText } from './helpers.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('decodeShortMessage', () => {
  it('decodes each data_coding the brief lists', () => {
    expect(decodeShortMessage(bytes(0x00, 0x02, 0x1b, 0x65), 0x00).text).toBe('@$€');
    expect(decodeShortMessage(bytes(0x04, 0x10), 0x08).text).toBe('А');
    expect(decodeShortMessage(bytes(0xe9, 0xa0, 0x80), 0x03).text).toBe('é\u00a0\u0080');
    expect(decodeShortMessage(bytes(0x48, 0x69, 0x40), 0x01).text).toBe('Hi@');
    for (const dc of [0x02, 0x04]) {
      const r = decodeShortMessage(bytes(0xde, 0xad), dc);
      expect(r.alphabet).toBe('binary');
      expect(r.text).toBeNull();
      expect([...r.payload]).toEqual([0xde, 0xad]);
    }
  });

  it('follows the 3GPP TS 23.038 coding groups above 0x0F', () => {
    expect(alphabetOf(0xf0)).toBe('gsm7');
    expect(alphabetOf(0xf4)).toBe('binary');
    expect(alphabetOf(0x18)).toBe('ucs2');
    expect(alphabetOf(0x14)).toBe('binary');
    expect(alphabetOf(0x10)).toBe('gsm7');
    expect(alphabetOf(0x30)).toBe('unsupported'); // compressed
    expect(alphabetOf(0xe0)).toBe('ucs2');
    expect(alphabetOf(0xc0)).toBe('gsm7');
    expect(alphabetOf(0x06)).toBe('unsupported'); // SMPP: ISO-8859-5
    expect(alphabetOf(0x90)).toBe('unsupported'); // reserved group
  });

  it('parses the UDH and decodes the rest with the national tables it announces', () => {
    const udh = buildUdh({ concat: { ref: 9, refBits: 8, total: 2, seq: 2 }, lockingShift: 1 });
    const text = encodeGsm7('şğ', { national: { locking: 'turkish' } });
    const r = decodeShortMessage(Uint8Array.from([...udh, ...text]), 0x00, { udhi: true });
    expect(r.text).toBe('şğ');
    expect(r.udh?.concat).toEqual({ ref: 9, refBits: 8, total: 2, seq: 2 });
    expect(r.udh?.lockingShift).toBe(1);
  });

  it('decodes packed GSM after a UDH, septets aligned past the fill bits', () => {
    const plan = planMessage('x'.repeat(200), { reference: 3, packed: true });
    const r = decodeShortMessage(plan.parts[1]!.bytes, 0x00, { udhi: true, packed: true });
    expect(r.text).toBe(plan.parts[1]!.text);
    expect(r.udh?.concat?.seq).toBe(2);
  });

  it('reads back every part that planMessage writes', () => {
    fc.assert(
      fc.property(
        mixedText,
        fc.constantFrom('udh8', 'udh16', 'sar', 'payload'),
        fc.boolean(),
        (text, mode, packed) => {
          const plan = planMessage(text, { mode, packed, reference: 1, maxParts: 255 });
          for (const p of plan.parts) {
            const r = decodeShortMessage(p.bytes, plan.dataCoding, { udhi: p.udhi, packed });
            expect(r.text).toBe(p.text);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('turns malformed input into a typed error naming the reason', () => {
    const reason = (b: Uint8Array, dc: number, udhi = false): string => {
      try {
        decodeShortMessage(b, dc, { udhi });
        return 'decoded';
      } catch (e) {
        return e instanceof BadShortMessageError ? e.reason : 'other';
      }
    };
    expect(reason(bytes(0x00, 0x41, 0x00), 0x08)).toBe('odd-ucs2-length');
    expect(reason(bytes(0x09, 0x00, 0x03, 0x01), 0x00, true)).toBe('udh-overflow');
    expect(reason(bytes(0x41, 0x80), 0x00)).toBe('septet-out-of-range');
    expect(reason(bytes(0x41, 0xc8), 0x01)).toBe('ia5-out-of-range');
    expect(reason(bytes(0x03, 0x24, 0x01, 0x07, 0x41), 0x00, true)).toBe('unsupported-national-language');
    expect(reason(bytes(), 0x00, true)).toBe('udh-missing');
    expect(reason(bytes(0x41), 256)).toBe('invalid-data-coding');
  });

  it('never throws anything but BadShortMessageError on random input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        fc.boolean(),
        (b, dc, udhi, packed) => {
          try {
            const r = decodeShortMessage(b, dc, { udhi, packed });
            expect(r.text === null || typeof r.text === 'string').toBe(true);
            expect(r.payload.length).toBeLessThanOrEqual(b.length);
          } catch (e) {
            expect(e).toBeInstanceOf(BadShortMessageError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never throws anything but BadShortMessageError on input shaped like a UDH', () => {
    const udhLike = fc
      .tuple(
        fc.integer({ min: 0, max: 20 }),
        fc.array(
          fc.tuple(fc.constantFrom(0x00, 0x08, 0x24, 0x25, 0x05, 0x70), fc.uint8Array({ maxLength: 6 })),
          { maxLength: 4 },
        ),
        fc.uint8Array({ maxLength: 40 }),
      )
      .map(([udhl, ies, rest]) =>
        Uint8Array.from([udhl, ...ies.flatMap(([i, d]) => [i, d.length, ...d]), ...rest]),
      );
    fc.assert(
      fc.property(
        udhLike,
        fc.constantFrom(0x00, 0x08, 0x03, 0x01, 0x04, 0xf0),
        fc.boolean(),
        (b, dc, packed) => {
          try {
            decodeShortMessage(b, dc, { udhi: true, packed });
          } catch (e) {
            expect(e).toBeInstanceOf(BadShortMessageError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
