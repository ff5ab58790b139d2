import { describe, expect, it } from 'vitest';
import {
  graphemes,
  needsSegmenter,
  SegmenterBoundaries,
  SeptetBoundaries,
  Utf16Boundaries,
} from '../../src/codec/graphemes.js';
import { encodeGsm7 } from '../../src/codec/index.js';
import { findUrls } from '../../src/codec/urls.js';
import { POOLS, prng } from './helpers.js';

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

describe('when grapheme clusters must be computed', () => {
  it('every BMP code unit the table lets through forms clusters of its own (checked against Intl.Segmenter)', () => {
    // The fast path treats each code point as its own cluster unless the text holds a flagged code
    // unit. Put every unflagged code unit next to other unflagged ones, in several orders, and check
    // that the segmenter agrees. CR and LF are left out: CR LF is handled on its own.
    const free: number[] = [];
    for (let c = 0; c < 0x10000; c++) {
      if (c === 0x0d || c === 0x0a) continue;
      if (!needsSegmenter(String.fromCharCode(c))) free.push(c);
    }
    expect(free.length).toBeGreaterThan(50_000);
    const random = prng(2038);
    for (let round = 0; round < 3; round++) {
      const order = round === 0 ? free : [...free].sort(() => random() - 0.5);
      for (let start = 0; start < order.length; start += 4096) {
        const text = String.fromCharCode(...order.slice(start, start + 4096));
        let clusters = 0;
        for (const _ of segmenter.segment(text)) clusters++;
        expect(clusters).toBe(text.length);
      }
    }
  });

  it('flags the characters that do join: marks, ZWJ, jamo, prepend, surrogates', () => {
    for (const s of ['e\u0301', 'a\u200db', '\u1100\u1161', '\u0600 ', '😀', 'ก\u0e33', '\ufe0f']) {
      expect(needsSegmenter(s)).toBe(true);
    }
    expect(needsSegmenter('Plain ASCII, Ελληνικά, кириллица, 中文 and \r\n')).toBe(false);
  });
});

describe('unit boundaries', () => {
  it('agree with Intl.Segmenter at every position of texts mixing every pool', () => {
    const random = prng(7);
    const tokens = Object.values(POOLS).flat();
    for (let n = 0; n < 40; n++) {
      let text = '';
      while (text.length < 200) text += tokens[Math.floor(random() * tokens.length)];
      const starts = new Set(Array.from(segmenter.segment(text), (s) => s.index));
      const b = needsSegmenter(text) ? new SegmenterBoundaries(text) : new Utf16Boundaries(text);
      let expected = 0;
      for (let pos = 0; pos < text.length; pos++) {
        if (starts.has(pos)) expected = pos;
        expect(b.clusterStart(pos)).toBe(expected);
      }
    }
  });

  it('never cut an ESC pair or CR LF in septets', () => {
    const septets = encodeGsm7('a€\r\nb');
    const b = new SeptetBoundaries(septets); // 61 1b 65 0d 0a 62
    expect([0, 1, 2, 3, 4, 5].map((p) => b.clusterStart(p))).toEqual([0, 1, 1, 3, 3, 5]);
    expect([0, 1, 2, 3, 4, 5].map((p) => b.codePointStart(p))).toEqual([0, 1, 1, 3, 4, 5]);
  });

  it('lists clusters for previews', () => {
    expect(graphemes('a👨‍👩‍👧b\r\n')).toEqual(['a', '👨‍👩‍👧', 'b', '\r\n']);
  });
});

describe('findUrls', () => {
  const urls = (text: string): string[] => {
    const r = findUrls(text);
    const out: string[] = [];
    for (let k = 0; k < r.length; k += 2) out.push(text.slice(r[k], r[k + 1]));
    return out;
  };

  it('finds scheme, www and bare-host links, without trailing punctuation', () => {
    expect(urls('Go to https://example.com/a?b=c. Or www.example.org, or bit.ly/3xYz!')).toEqual([
      'https://example.com/a?b=c',
      'www.example.org',
      'bit.ly/3xYz',
    ]);
    expect(urls('(see http://en.wikipedia.org/wiki/Foo_(bar))')).toEqual([
      'http://en.wikipedia.org/wiki/Foo_(bar)',
    ]);
    expect(urls('HTTPS://EXAMPLE.COM/X and Example.co.uk/path')).toEqual([
      'HTTPS://EXAMPLE.COM/X',
      'Example.co.uk/path',
    ]);
  });

  it('ignores dates, fractions, e-mail addresses and paths without a host', () => {
    expect(urls('On 14/05/2024, 1/2 off. Mail me@example.com/x or use and/or /usr/bin.')).toEqual([]);
    expect(urls('no dots here / at all')).toEqual([]);
  });

  it('returns links in order when both kinds are present', () => {
    expect(findUrls('a.io/x then https://b.com/y then c.de/z')).toEqual([0, 6, 12, 27, 33, 39]);
  });
});
