import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gsm7Charset } from '../../src/codec/gsm7.js';
import {
  BASIC_TABLES,
  EXTENSION_TABLES,
  NATIONAL_LANGUAGE,
  type NationalLanguage,
} from '../../src/codec/gsm7-tables.js';
import { decodeGsm7, encodeGsm7, packSeptets, unpackSeptets } from '../../src/codec/index.js';
import { BadShortMessageError, UnencodableTextError } from '../../src/errors.js';
import { GSM_CHARS, gsmText, hex } from './helpers.js';

/** Bit-by-bit reference packer, written independently of packInto: septet n at bits 7n..7n+6, LSB first. */
function referencePack(septets: number[]): string {
  const bits: number[] = [];
  for (const s of septets) for (let b = 0; b < 7; b++) bits.push((s >> b) & 1);
  while (bits.length % 8 !== 0) bits.push(0);
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) {
    let v = 0;
    for (let b = 0; b < 8; b++) v |= bits[i + b]! << b;
    out.push(v);
  }
  return Buffer.from(out).toString('hex');
}

describe('GSM 7-bit golden vectors (3GPP TS 23.038 §6.2.1)', () => {
  it('maps the default alphabet to its septets, unpacked one per octet', () => {
    expect(hex(encodeGsm7('@£$¥èéùìòÇ\nØø\rÅå'))).toBe('000102030405060708090a0b0c0d0e0f');
    expect(hex(encodeGsm7('Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ'))).toBe('101112131415161718191a1c1d1e1f');
    expect(hex(encodeGsm7(' !"#¤%&\'()*+,-./'))).toBe('202122232425262728292a2b2c2d2e2f');
    expect(hex(encodeGsm7('¡AZÄÖÑÜ§¿azäöñüà'))).toBe('40415a5b5c5d5e5f60617a7b7c7d7e7f');
  });

  it('writes extension characters as ESC pairs (§6.2.1.1)', () => {
    expect(hex(encodeGsm7('\f^{}\\[~]|€'))).toBe('1b0a1b141b281b291b2f1b3c1b3d1b3e1b401b65');
  });

  it('packs "hellohello" as in the GSM 03.38 worked example', () => {
    expect(hex(encodeGsm7('hellohello', { packed: true }))).toBe('e8329bfd4697d9ec37');
  });

  it('pads 7 spare bits with CR (§6.1.2.3.1) and drops that CR when unpacking', () => {
    const packed = encodeGsm7('1234567', { packed: true });
    expect(hex(packed)).toBe(referencePack([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x0d]));
    expect(decodeGsm7(packed, { packed: true })).toBe('1234567');
    expect(decodeGsm7(packed, { packed: true, septets: 7 })).toBe('1234567');
  });

  it('packs like a bit-by-bit reference packer, at every bit offset', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0x7f }), { maxLength: 60 }), (septets) => {
        const packed = packSeptets(Uint8Array.from(septets));
        const expected = septets.length % 8 === 7 ? [...septets, 0x0d] : septets;
        expect(hex(packed)).toBe(referencePack(expected));
        expect([...unpackSeptets(packed, 0, septets.length)]).toEqual(septets);
        for (let fill = 1; fill < 7; fill++) {
          const shifted = packSeptets(Uint8Array.from(septets), fill);
          expect([...unpackSeptets(shifted, fill, septets.length)]).toEqual(septets);
        }
      }),
    );
  });

  it('encodes and decodes every character of every table, national ones included', () => {
    for (const [locking, basic] of Object.entries(BASIC_TABLES)) {
      for (const [single, ext] of Object.entries(EXTENSION_TABLES)) {
        const cs = gsm7Charset(Number(locking), Number(single));
        for (let s = 0; s < 128; s++) {
          if (s === 0x1b) continue;
          expect(cs.low[basic.charCodeAt(s)] ?? cs.high.get(basic.charCodeAt(s))).toBe(s);
        }
        for (const [s, ch] of Object.entries(ext)) {
          const v = ch.charCodeAt(0) < 0x400 ? cs.low[ch.charCodeAt(0)] : cs.high.get(ch.charCodeAt(0));
          // A character the basic table also has costs one septet; otherwise ESC + its position.
          expect(v === (0x100 | Number(s)) || basic.includes(ch)).toBe(true);
        }
      }
    }
  });
});

describe('national language shift tables (3GPP TS 23.038 Annex A)', () => {
  it('Turkish: single shift puts ş ğ ı İ Ş Ğ ç behind ESC; locking makes them one septet', () => {
    expect(hex(encodeGsm7('şğıİŞĞç', { national: { single: 'turkish' } }))).toBe(
      '1b731b671b691b491b531b471b63',
    );
    expect(hex(encodeGsm7('şğıİŞĞç', { national: { locking: 'turkish' } }))).toBe('1d0c07401c0b60');
    expect(decodeGsm7(Uint8Array.from([0x1d, 0x0c, 0x07, 0x40]), { national: { locking: 'turkish' } })).toBe(
      'şğıİ',
    );
  });

  it('Spanish: single shift only (A.2.2)', () => {
    expect(hex(encodeGsm7('áíóúÁÍÓÚç', { national: { single: 'spanish' } }))).toBe(
      '1b611b691b6f1b751b411b491b4f1b551b09',
    );
    // A.3.2: no Spanish locking shift table, so the basic table stays the default one.
    expect(decodeGsm7(Uint8Array.from([0x7d]), { national: { locking: 'spanish' } })).toBe('ñ');
  });

  it('Portuguese: locking (A.3.3) and single shift (A.2.3)', () => {
    expect(hex(encodeGsm7('ãõçêâ', { national: { locking: 'portuguese' } }))).toBe('7b7c09041d');
    expect(hex(encodeGsm7('ãõçêâ', { national: { single: 'portuguese' } }))).toBe('1b7b1b7c1b091b051b7f');
    expect(
      decodeGsm7(Uint8Array.from([0x7b, 0x1b, 0x7b]), {
        national: { locking: 'portuguese', single: 'portuguese' },
      }),
    ).toBe('ãã');
  });

  it('uses the ids of Table 6.2.1.2.4.1', () => {
    expect(NATIONAL_LANGUAGE).toEqual({ turkish: 1, spanish: 2, portuguese: 3 });
  });
});

describe('GSM 7-bit errors and decoding rules', () => {
  it('names every character it cannot encode, with code point and position', () => {
    const err = (() => {
      try {
        encodeGsm7('ok ş and 😀 and ş');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(UnencodableTextError);
    const u = err as UnencodableTextError;
    expect(u.code).toBe('SLUICE_ERR_UNENCODABLE');
    expect(u.characters.map((c) => [c.char, c.codePoint, c.index, c.count])).toEqual([
      ['ş', 0x15f, 3, 2],
      ['😀', 0x1f600, 9, 1],
    ]);
    expect(u.message).toContain('U+015F');
    expect(u.message).toContain('U+1F600');
  });

  it('shows ESC ESC as a space, an undefined extension as the basic character, drops a final ESC', () => {
    expect(decodeGsm7(Uint8Array.from([0x41, 0x1b, 0x1b, 0x42]))).toBe('A B');
    expect(decodeGsm7(Uint8Array.from([0x1b, 0x41]))).toBe('A');
    expect(decodeGsm7(Uint8Array.from([0x41, 0x1b]))).toBe('A');
  });

  it('rejects an unpacked septet above 0x7F with a typed error', () => {
    expect(() => decodeGsm7(Uint8Array.from([0x41, 0x80]))).toThrow(BadShortMessageError);
    expect(() => decodeGsm7(Uint8Array.from([0x1b, 0xff]))).toThrow(BadShortMessageError);
  });

  it('round-trips every sendable text, unpacked and packed', () => {
    fc.assert(
      fc.property(gsmText, (text) => {
        const septets = encodeGsm7(text);
        expect(decodeGsm7(septets)).toBe(text);
        const packed = encodeGsm7(text, { packed: true });
        expect(decodeGsm7(packed, { packed: true, septets: septets.length })).toBe(text);
        if (!text.endsWith('\r')) expect(decodeGsm7(packed, { packed: true })).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips texts in every national table pair', () => {
    const pairs: { locking: NationalLanguage | null; single: NationalLanguage }[] = [
      { locking: 'turkish', single: 'turkish' },
      { locking: null, single: 'spanish' },
      { locking: 'portuguese', single: 'portuguese' },
      { locking: 'turkish', single: 'portuguese' },
    ];
    for (const national of pairs) {
      const cs = gsm7Charset(
        national.locking === null ? 0 : NATIONAL_LANGUAGE[national.locking],
        NATIONAL_LANGUAGE[national.single],
      );
      const chars = [
        ...(BASIC_TABLES[cs.locking] ?? '').replace('\u001b', ''),
        ...Object.values(EXTENSION_TABLES[cs.single] ?? {}),
      ];
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...chars), { maxLength: 200 }), (a) => {
          const text = a.join('');
          expect(decodeGsm7(encodeGsm7(text, { national }), { national })).toBe(text);
        }),
        { numRuns: 50 },
      );
    }
  });

  it('keeps the 137 characters of the default alphabet and extension table', () => {
    expect(new Set(GSM_CHARS).size).toBe(137);
  });
});
