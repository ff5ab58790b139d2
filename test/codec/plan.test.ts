import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeShortMessage, type PlanOptions, planMessage } from '../../src/codec/index.js';
import { CodecOptionError, TooManyPartsError, UnencodableTextError } from '../../src/errors.js';
import { hex, mixedText } from './helpers.js';

const parts = (text: string, options: PlanOptions = {}): number[] =>
  planMessage(text, { reference: 0, maxParts: 255, ...options }).parts.map((p) => p.units);

describe('part boundaries per mode', () => {
  it('GSM-7: 160 alone, 153 with the 8-bit UDH, 152 with the 16-bit one and with SAR', () => {
    expect(parts('a'.repeat(160))).toEqual([160]);
    expect(parts('a'.repeat(161))).toEqual([153, 8]);
    expect(parts('a'.repeat(306))).toEqual([153, 153]);
    expect(parts('a'.repeat(307))).toEqual([153, 153, 1]);
    expect(parts('a'.repeat(161), { mode: 'udh16' })).toEqual([152, 9]);
    expect(parts('a'.repeat(305), { mode: 'udh16' })).toEqual([152, 152, 1]);
    expect(parts('a'.repeat(161), { mode: 'sar' })).toEqual([152, 9]);
  });

  it('UCS-2: 70 alone, 67 with the 8-bit UDH, 66 with the 16-bit one and with SAR', () => {
    expect(parts('я'.repeat(70))).toEqual([70]);
    expect(parts('я'.repeat(71))).toEqual([67, 4]);
    expect(parts('я'.repeat(134))).toEqual([67, 67]);
    expect(parts('я'.repeat(135))).toEqual([67, 67, 1]);
    expect(parts('я'.repeat(71), { mode: 'udh16' })).toEqual([66, 5]);
    expect(parts('я'.repeat(71), { mode: 'sar' })).toEqual([66, 5]);
  });

  it('counts an escape as two septets and never splits the pair', () => {
    expect(parts(`${'a'.repeat(158)}€`)).toEqual([160]);
    expect(parts(`${'a'.repeat(159)}€`)).toEqual([153, 8]);
    expect(parts(`${'a'.repeat(152)}€${'b'.repeat(8)}`)).toEqual([152, 10]);
    const p = planMessage(`${'a'.repeat(152)}{${'b'.repeat(10)}`, { reference: 0 });
    expect(p.parts.map((x) => x.units)).toEqual([152, 12]);
    expect(p.parts[1]!.text).toBe(`{${'b'.repeat(10)}`);
  });

  it('never splits a surrogate pair or a grapheme cluster', () => {
    const p = planMessage(`${'я'.repeat(66)}😀${'я'.repeat(10)}`, { reference: 0 });
    expect(p.parts.map((x) => x.units)).toEqual([66, 12]);
    const family = '👨‍👩‍👧‍👦'; // 11 code units
    const q = planMessage(family.repeat(7), { reference: 0 });
    expect(q.parts.map((x) => x.text)).toEqual([family.repeat(6), family]);
    const accents = 'e\u0301'.repeat(40); // 40 clusters of 2 code units
    expect(parts(accents)).toEqual([66, 14]);
  });

  it('keeps CR LF together', () => {
    const p = planMessage(`${'a'.repeat(152)}\r\n${'b'.repeat(10)}`, { reference: 0 });
    expect(p.parts.map((x) => x.text)).toEqual(['a'.repeat(152), `\r\n${'b'.repeat(10)}`]);
  });

  it('cuts a cluster longer than a part at a code point boundary, with a warning', () => {
    const zalgo = `e${'\u0301'.repeat(100)}`;
    const p = planMessage(zalgo, { reference: 0 });
    expect(p.parts.map((x) => x.units)).toEqual([67, 34]);
    expect(p.warnings.map((w) => w.code)).toEqual(['grapheme-split']);
  });

  it('payload mode: one message_payload, the SMSC split estimated', () => {
    const p = planMessage('a'.repeat(400), { mode: 'payload' });
    expect(p.parts).toHaveLength(1);
    expect(p.parts[0]!.bytes).toHaveLength(400);
    expect(p.parts[0]!.udhi).toBe(false);
    expect(p.segmentCount).toBe(3);
    expect(p.reference).toBeNull();
  });

  it('SAR mode: short_message without UDH, ref/total/seq per part', () => {
    const p = planMessage('a'.repeat(200), { mode: 'sar', reference: 0x1234 });
    expect(p.parts.map((x) => [x.udhi, x.sar, x.bytes.length])).toEqual([
      [false, { ref: 0x1234, total: 2, seq: 1 }, 152],
      [false, { ref: 0x1234, total: 2, seq: 2 }, 48],
    ]);
  });
});

describe('short_message bytes', () => {
  it('udh8: 05 00 03 ref total seq, then the septets', () => {
    const p = planMessage(`${'a'.repeat(153)}bbbbbbb@`, { reference: 0xab });
    expect(p.dataCoding).toBe(0x00);
    expect(hex(p.parts[0]!.bytes).slice(0, 16)).toBe('050003ab02016161');
    expect(hex(p.parts[1]!.bytes)).toBe('050003ab020262626262626262' + '00');
    expect(p.parts.every((x) => x.udhi)).toBe(true);
  });

  it('udh16: 06 08 04 refHi refLo total seq, then UCS-2', () => {
    const p = planMessage(`${'я'.repeat(70)}Ж`, { mode: 'udh16', reference: 0xbeef });
    expect(p.dataCoding).toBe(0x08);
    expect(hex(p.parts[1]!.bytes)).toBe(`060804beef0202${'044f'.repeat(4)}0416`);
  });

  it('a single part has no UDH', () => {
    const p = planMessage('Hi @ home');
    expect(p.parts[0]!.udhi).toBe(false);
    expect(hex(p.parts[0]!.bytes)).toBe('4869200020686f6d65');
  });

  it('packed GSM: septets after the UDH start on a septet boundary; data_coding from the connector', () => {
    const p = planMessage('hellohello', { packed: true, packedDataCoding: 0xf0 });
    expect(hex(p.parts[0]!.bytes)).toBe('e8329bfd4697d9ec37');
    expect(p.dataCoding).toBe(0xf0);
    const q = planMessage('a'.repeat(161), { packed: true, reference: 1 });
    // 6-octet UDH = 48 bits + 1 fill bit = 7 septets; 153 septets after: 160 septets = 140 octets.
    expect(q.parts[0]!.bytes).toHaveLength(140);
    // The first 'a' (0x61) sits above the fill bit: 0x61 << 1 = 0xc2.
    expect(hex(q.parts[0]!.bytes).slice(0, 14)).toBe('050003010201c2');
  });

  it('calls a reference function once, and only for a multi-part message', () => {
    let calls = 0;
    const next = (): number => ++calls;
    planMessage('short', { reference: next });
    expect(calls).toBe(0);
    const p = planMessage('a'.repeat(400), { reference: next });
    expect(calls).toBe(1);
    expect(p.reference).toBe(1);
    expect(p.parts.every((x) => x.bytes[3] === 1)).toBe(true);
  });
});

describe('encoding choice', () => {
  it('GSM-7 when every character fits, UCS-2 otherwise', () => {
    expect(planMessage('Grüße aus Köln: 5 €').encoding).toBe('gsm7');
    expect(planMessage('Привет').encoding).toBe('ucs2');
    expect(planMessage('ç').encoding).toBe('ucs2'); // only capital Ç is in the default alphabet
  });

  it('honours a per-message override', () => {
    expect(planMessage('plain', { encoding: 'ucs2' }).encoding).toBe('ucs2');
    expect(() => planMessage('a 😀 b ☃', { encoding: 'gsm7' })).toThrow(UnencodableTextError);
    try {
      planMessage('a 😀 b ☃', { encoding: 'gsm7' });
    } catch (e) {
      expect((e as UnencodableTextError).characters.map((c) => c.codePoint)).toEqual([0x1f600, 0x2603]);
      expect((e as Error).message).toMatch(/U\+1F600.*U\+2603/);
    }
  });

  it('refuses unpaired surrogates rather than replace them', () => {
    expect(() => planMessage('bad \ud800 text')).toThrow(UnencodableTextError);
  });

  it('fails when the text needs more parts than allowed', () => {
    expect(() => planMessage('a'.repeat(161), { maxParts: 1, reference: 0 })).toThrow(TooManyPartsError);
    const err = (() => {
      try {
        planMessage('я'.repeat(1000), { reference: 0 });
      } catch (e) {
        return e as TooManyPartsError;
      }
      return null;
    })();
    expect(err?.code).toBe('SLUICE_ERR_TOO_MANY_PARTS');
    expect(err?.parts).toBe(15);
    expect(err?.maxParts).toBe(10);
  });

  it('validates its options', () => {
    expect(() => planMessage('a'.repeat(200), {})).toThrow(CodecOptionError);
    expect(() => planMessage('a', { reference: 256 })).toThrow(/0\.\.255/);
    expect(() => planMessage('a', { mode: 'udh16', reference: 65536 })).toThrow(CodecOptionError);
    expect(() => planMessage('a', { maxParts: 0 })).toThrow(CodecOptionError);
    expect(() => planMessage('a', { maxParts: 256 })).toThrow(CodecOptionError);
  });
});

describe('smart encoding', () => {
  it('replaces look-alikes when that makes the text GSM-7, and reports each', () => {
    const p = planMessage('It’s “done” — see you…\u00a0bye');
    expect(p.encoding).toBe('gsm7');
    expect(p.text).toBe('It\'s "done" - see you... bye');
    expect(p.replacements.map((r) => [r.index, r.from, r.to])).toEqual([
      [2, '’', "'"],
      [5, '“', '"'],
      [10, '”', '"'],
      [12, '—', '-'],
      [21, '…', '...'],
      [22, '\u00a0', ' '],
    ]);
  });

  it('leaves the text alone when it stays UCS-2 anyway', () => {
    const p = planMessage('It’s 😀');
    expect(p.encoding).toBe('ucs2');
    expect(p.text).toBe('It’s 😀');
    expect(p.replacements).toEqual([]);
  });

  it('is not applied when it would cost more parts than UCS-2', () => {
    const dots = '…'.repeat(70); // UCS-2: 70 units, one part; GSM-7: 210 septets, two parts
    expect(planMessage(dots, { reference: 0 }).encoding).toBe('ucs2');
    // Two parts either way: the tie goes to GSM-7.
    expect(planMessage(`${dots}a`, { reference: 0 }).encoding).toBe('gsm7');
    expect(planMessage('Wait…', { reference: 0 }).encoding).toBe('gsm7');
  });

  it('is not applied when it would need more parts than allowed and UCS-2 fits', () => {
    // Smart GSM-7: 1,800 septets, 12 parts; UCS-2: 600 units, 9 parts.
    const p = planMessage('…'.repeat(600), { reference: 0 });
    expect([p.encoding, p.segmentCount]).toEqual(['ucs2', 9]);
    // Too long either way (GSM-7 14 parts, UCS-2 11): the smaller count is the one reported.
    expect(() => planMessage('…'.repeat(700), { reference: 0, maxParts: 5 })).toThrow(
      /needs 11 parts as UCS-2/,
    );
  });

  it('is off per message', () => {
    const p = planMessage('It’s', { smartEncoding: false });
    expect(p.encoding).toBe('ucs2');
    expect(p.replacements).toEqual([]);
  });

  it('applies under a gsm7 override too', () => {
    expect(planMessage('“x”', { encoding: 'gsm7' }).text).toBe('"x"');
  });
});

describe('national language shift tables', () => {
  const turkish = 'Çok güzel bir gün! Şimdi İstanbul’dayız, yarın Ankara’ya gidiyoruz. Ağaçlar çiçek açtı. ';

  it('uses one only when allowed and it needs fewer parts than UCS-2', () => {
    const text = turkish.repeat(2);
    expect(planMessage(text, { reference: 0 }).encoding).toBe('ucs2');
    const p = planMessage(text, { reference: 0, nationalLanguages: ['turkish'] });
    expect(p.encoding).toBe('gsm7');
    expect(p.national).toEqual({ locking: 'turkish', single: null });
    expect(p.parts.length).toBeLessThan(planMessage(text, { reference: 0 }).parts.length);
    // Concatenation IE then the locking shift IE (0x25, language 1).
    expect(hex(p.parts[0]!.bytes).slice(0, 18)).toBe('080003000201250101');
    expect(p.replacements.map((r) => r.from)).toEqual(['’', '’', '’', '’']);
    const back = p.parts.map((x) => decodeShortMessage(x.bytes, p.dataCoding, { udhi: true }).text).join('');
    expect(back).toBe(p.text);
  });

  it('prefers UCS-2 on a tie: every handset has it', () => {
    expect(planMessage('Ağaç', { nationalLanguages: ['turkish'] }).encoding).toBe('ucs2');
  });

  it('sends a single part with only the shift IE when that saves a part', () => {
    const text = 'á'.repeat(75); // UCS-2: 2 parts; Spanish single shift: 150 septets + 4-octet UDH, 1 part
    const p = planMessage(text, { reference: 0, nationalLanguages: ['spanish'] });
    expect(p.national).toEqual({ locking: null, single: 'spanish' });
    expect(p.parts).toHaveLength(1);
    expect(hex(p.parts[0]!.bytes).slice(0, 12)).toBe('0324010' + '21b61');
    expect(p.parts[0]!.udhi).toBe(true);
  });

  it('Portuguese text picks the Portuguese tables', () => {
    const text =
      'Não há condições para a reunião; você já ouviu a informação? Ação imediata, atenção! '.repeat(2);
    const p = planMessage(text, { reference: 0, nationalLanguages: ['portuguese', 'spanish'] });
    expect(p.encoding).toBe('gsm7');
    expect(p.national?.locking).toBe('portuguese');
  });

  it('is not used in sar or payload mode, which cannot carry the IE', () => {
    const text = turkish.repeat(2);
    expect(planMessage(text, { mode: 'sar', reference: 0, nationalLanguages: ['turkish'] }).encoding).toBe(
      'ucs2',
    );
    expect(planMessage(text, { mode: 'payload', nationalLanguages: ['turkish'] }).encoding).toBe('ucs2');
  });

  it('is used under a gsm7 override when the default alphabet cannot carry the text', () => {
    expect(planMessage('Ağaç', { encoding: 'gsm7', nationalLanguages: ['turkish'] }).national).not.toBeNull();
    expect(() => planMessage('Ağaç', { encoding: 'gsm7' })).toThrow(/U\+011F/);
  });
});

describe('links', () => {
  it('start the next part when they would be cut and fit in one part', () => {
    const text = `${'x'.repeat(140)} see https://example.com/a/b?c=d for details`;
    const p = planMessage(text, { reference: 0 });
    expect(p.parts[1]!.text.startsWith('https://example.com/a/b?c=d')).toBe(true);
    expect(p.warnings).toEqual([]);
  });

  it('keep short links whole too, ESC pairs included', () => {
    const text = `${'{'.repeat(75)} bit.ly/ab{c} end`;
    const p = planMessage(text, { reference: 0 });
    expect(p.parts[1]!.text.startsWith('bit.ly/ab{c}')).toBe(true);
  });

  it('warn when a link is longer than a part', () => {
    const text = `see https://example.com/${'a'.repeat(200)}`;
    const p = planMessage(text, { reference: 0 });
    expect(p.warnings.map((w) => [w.code, w.index])).toEqual([['url-split', 4]]);
  });

  it('are split, with a warning, when keeping them whole would exceed maxParts', () => {
    // 302 septets: two parts if the link is cut at 153; three if it starts the second part at 141.
    const text = `${'x'.repeat(140)} https://example.com/${'a'.repeat(30)} ${'y'.repeat(110)}`;
    expect(planMessage(text, { reference: 0 }).parts).toHaveLength(3);
    const p = planMessage(text, { reference: 0, maxParts: 2 });
    expect(p.parts).toHaveLength(2);
    expect(p.warnings.map((w) => w.code)).toEqual(['url-split']);
  });
});

describe('fast path', () => {
  it('gives the same plan as the general path', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'abc XYZ 09@$_!?.,£¥ÄÖÑÜäöñüàΔΦ\r\n'), maxLength: 160 }),
        (text) => {
          const fast = planMessage(text);
          // A trailing ESC pair sends the same text down the general path; drop it from the result.
          const general = planMessage(`${text}€`, { maxParts: 2, reference: 0 });
          expect(fast.parts).toHaveLength(1);
          expect(fast.encoding).toBe('gsm7');
          expect(fast.dataCoding).toBe(0);
          expect(fast.parts[0]!.udhi).toBe(false);
          expect(fast.parts[0]!.units).toBe(text.length);
          if (general.parts.length === 1) {
            expect(hex(fast.parts[0]!.bytes)).toBe(hex(general.parts[0]!.bytes).slice(0, -4));
            expect(Object.keys(fast)).toEqual(Object.keys(general));
            expect(Object.keys(fast.parts[0]!)).toEqual(Object.keys(general.parts[0]!));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('properties', () => {
  it('parts concatenate to the text, fit their limit, and never cut a code point', () => {
    fc.assert(
      fc.property(mixedText, fc.constantFrom('udh8', 'udh16', 'sar'), fc.boolean(), (text, mode, smart) => {
        const p = planMessage(text, { mode, reference: 7, maxParts: 255, smartEncoding: smart });
        expect(p.parts.map((x) => x.text).join('')).toBe(p.text);
        let units = 0;
        for (const part of p.parts) {
          expect(part.units).toBeLessThanOrEqual(p.unitsPerPart);
          units += part.units;
          const first = part.text.charCodeAt(0);
          if (part.seq > 1) expect(first >= 0xdc00 && first <= 0xdfff).toBe(false);
          const udh = part.udhi ? part.bytes[0]! + 1 : 0;
          // Unpacked septets and UCS-2 code units: the octets say how many units the part holds.
          expect(part.bytes.length - udh).toBe(p.encoding === 'gsm7' ? part.units : part.units * 2);
        }
        expect(units).toBe(p.units);
        if (!smart) expect(p.text).toBe(text);
      }),
      { numRuns: 400 },
    );
  });

  it('smart encoding changes exactly the reported characters', () => {
    const quoteish = fc.constantFrom(
      '’',
      '“',
      '”',
      '—',
      '–',
      '…',
      '\u00a0',
      '\u200b',
      '\t',
      'a',
      'b',
      ' ',
      '.',
    );
    fc.assert(
      fc.property(fc.array(quoteish, { maxLength: 200 }), (a) => {
        const text = a.join('');
        const p = planMessage(text, { reference: 0, maxParts: 255 });
        let rebuilt = '';
        let at = 0;
        for (const r of p.replacements) {
          rebuilt += text.slice(at, r.index) + r.to;
          at = r.index + r.from.length;
        }
        expect(rebuilt + text.slice(at)).toBe(p.text);
        // UCS-2 only when the replacements would have cost parts, and then nothing is replaced.
        if (p.encoding === 'ucs2') expect(p.replacements).toEqual([]);
        else
          expect(p.parts.length).toBeLessThanOrEqual(
            planMessage(text, { smartEncoding: false, reference: 0, maxParts: 255 }).parts.length,
          );
      }),
      { numRuns: 200 },
    );
  });
});
