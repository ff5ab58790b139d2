import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildUdh, decodeUcs2, encodeUcs2, parseUdh } from '../../src/codec/index.js';
import { BadShortMessageError, CodecOptionError, UnencodableTextError } from '../../src/errors.js';
import { hex } from './helpers.js';

describe('UCS-2 (UTF-16BE, 3GPP TS 23.038 §6.2.3)', () => {
  it('encodes big-endian and keeps surrogate pairs whole', () => {
    expect(hex(encodeUcs2('Aé€'))).toBe('004100e920ac');
    expect(hex(encodeUcs2('😀'))).toBe('d83dde00');
    expect(decodeUcs2(Uint8Array.from([0xd8, 0x3d, 0xde, 0x00, 0x04, 0x10]))).toBe('😀А');
  });

  it('refuses an unpaired surrogate instead of sending U+FFFD', () => {
    expect(() => encodeUcs2('a\ud83d')).toThrow(UnencodableTextError);
    expect(() => encodeUcs2('\ude00b')).toThrow(/U\+DE00/);
  });

  it('rejects an odd length with a typed error', () => {
    expect(() => decodeUcs2(Uint8Array.from([0x00, 0x41, 0x00]))).toThrow(BadShortMessageError);
  });

  it('round-trips any well-formed text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        expect(decodeUcs2(encodeUcs2(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('User Data Header (3GPP TS 23.040 §9.2.3.24)', () => {
  it('builds the 8-bit reference concatenation IE: 05 00 03 ref total seq', () => {
    expect(hex(buildUdh({ concat: { ref: 0x42, refBits: 8, total: 3, seq: 1 } }))).toBe('0500034203' + '01');
  });

  it('builds the 16-bit reference concatenation IE: 06 08 04 refHi refLo total seq', () => {
    expect(hex(buildUdh({ concat: { ref: 0x1234, refBits: 16, total: 2, seq: 2 } }))).toBe('06080412340202');
  });

  it('adds national language single (0x24) and locking (0x25) shift IEs', () => {
    expect(hex(buildUdh({ singleShift: 1 }))).toBe('03240101');
    expect(
      hex(buildUdh({ concat: { ref: 7, refBits: 8, total: 2, seq: 1 }, singleShift: 3, lockingShift: 3 })),
    ).toBe('0b00030702012401032501' + '03');
  });

  it('parses what it builds, and keeps unknown IEs', () => {
    const udh = buildUdh({
      concat: { ref: 0xbeef, refBits: 16, total: 4, seq: 3 },
      lockingShift: 1,
      elements: [{ iei: 0x05, data: Uint8Array.from([0x0b, 0x84, 0x23, 0xf0]) }],
    });
    const parsed = parseUdh(udh);
    expect(parsed.length).toBe(udh.length);
    expect(parsed.concat).toEqual({ ref: 0xbeef, refBits: 16, total: 4, seq: 3 });
    expect(parsed.lockingShift).toBe(1);
    expect(parsed.singleShift).toBeNull();
    expect(parsed.elements.map((e) => [e.iei, hex(e.data)])).toEqual([
      [0x08, 'beef0403'],
      [0x25, '01'],
      [0x05, '0b8423f0'],
    ]);
  });

  it('ignores a concatenation IE with total 0 or seq out of range (§9.2.3.24.1)', () => {
    expect(parseUdh(Uint8Array.from([0x05, 0x00, 0x03, 0x01, 0x00, 0x01])).concat).toBeNull();
    expect(parseUdh(Uint8Array.from([0x05, 0x00, 0x03, 0x01, 0x02, 0x03])).concat).toBeNull();
    expect(parseUdh(Uint8Array.from([0x05, 0x00, 0x03, 0x01, 0x02, 0x00])).concat).toBeNull();
  });

  it('rejects a header or an IE running past the end', () => {
    const reason = (bytes: number[]): string => {
      try {
        parseUdh(Uint8Array.from(bytes));
        return 'parsed';
      } catch (e) {
        return e instanceof BadShortMessageError ? e.reason : 'other';
      }
    };
    expect(reason([])).toBe('udh-missing');
    expect(reason([0x05, 0x00, 0x03, 0x01])).toBe('udh-overflow');
    expect(reason([0x03, 0x00, 0x03, 0x01])).toBe('ie-overflow');
    expect(reason([0x01, 0x00])).toBe('ie-overflow');
  });

  it('validates what it is asked to build', () => {
    expect(() => buildUdh({ concat: { ref: 256, refBits: 8, total: 1, seq: 1 } })).toThrow(CodecOptionError);
    expect(() => buildUdh({ concat: { ref: 1, refBits: 8, total: 2, seq: 3 } })).toThrow(CodecOptionError);
  });
});
