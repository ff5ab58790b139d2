/**
 * Where a part may end, in "units": septets for GSM-7 (an ESC pair is two), UTF-16 code units for
 * UCS-2. A splitter only asks near each cut, so a question costs O(1), not a pass over the text.
 *
 * UAX #29 grapheme clusters come from Intl.Segmenter, which is slow, so it is only used when the text
 * holds a code unit that can join a cluster with a neighbour; every other text breaks between any
 * two code points except CR LF (UAX #29 GB3). Even then only `containing()` is called, once per cut:
 * ICU finds the cluster around one index without walking the whole text.
 */
import { ESC } from './gsm7-tables.js';

export interface UnitBoundaries {
  /** Start of the grapheme cluster holding unit `pos` (pos itself when a cluster starts there). */
  clusterStart(pos: number): number;
  /** Start of the code point (or ESC pair) holding unit `pos`. */
  codePointStart(pos: number): number;
}

const CR = 0x0d;
const LF = 0x0a;

/** GSM-7 septets as written by the encoder: ESC is only ever a prefix, and ESC CR is never written. */
export class SeptetBoundaries implements UnitBoundaries {
  constructor(private readonly septets: Uint8Array) {}

  codePointStart(pos: number): number {
    return pos > 0 && this.septets[pos - 1] === ESC ? pos - 1 : pos;
  }

  clusterStart(pos: number): number {
    const q = this.codePointStart(pos);
    return q > 0 && this.septets[q] === LF && this.septets[q - 1] === CR ? q - 1 : q;
  }
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** UTF-16 text in which no cluster spans more than one code point, except CR LF. */
export class Utf16Boundaries implements UnitBoundaries {
  constructor(protected readonly text: string) {}

  codePointStart(pos: number): number {
    return pos > 0 && isLow(this.text.charCodeAt(pos)) && isHigh(this.text.charCodeAt(pos - 1))
      ? pos - 1
      : pos;
  }

  clusterStart(pos: number): number {
    const q = this.codePointStart(pos);
    return q > 0 && this.text.charCodeAt(q) === LF && this.text.charCodeAt(q - 1) === CR ? q - 1 : q;
  }
}

let segmenter: Intl.Segmenter | null = null;

function graphemeSegmenter(): Intl.Segmenter {
  // Grapheme clusters do not depend on the locale.
  segmenter ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  return segmenter;
}

/** UTF-16 text with clusters of several code points: asks Intl.Segmenter. */
export class SegmenterBoundaries extends Utf16Boundaries {
  private readonly segments: Intl.Segments;

  constructor(text: string) {
    super(text);
    this.segments = graphemeSegmenter().segment(text);
  }

  override clusterStart(pos: number): number {
    return this.segments.containing(pos)?.index ?? pos;
  }
}

/** The cheapest boundary finder that is exact for this UTF-16 text. */
export function utf16Boundaries(text: string): UnitBoundaries {
  return needsSegmenter(text) ? new SegmenterBoundaries(text) : new Utf16Boundaries(text);
}

let joiners: Uint8Array | null = null;

/**
 * 1 for each BMP code unit that can be part of a multi-code-point grapheme cluster other than CR LF:
 * surrogates (emoji, regional indicators, tags, modifiers), marks (\p{M} covers UAX #29 Extend and
 * SpacingMark apart from the entries added below), ZWNJ/ZWJ, the Hangul jamo that combine (GB6-GB8),
 * and Prepend characters (GB9b). test/codec checks every other BMP code unit against Intl.Segmenter.
 */
function joinerTable(): Uint8Array {
  if (joiners) return joiners;
  const t = new Uint8Array(0x10000);
  t.fill(1, 0xd800, 0xe000);
  const all: string[] = [];
  for (let c = 0; c < 0xd800; c++) all.push(String.fromCharCode(c));
  for (let c = 0xe000; c < 0x10000; c++) all.push(String.fromCharCode(c));
  for (const m of all.join('').matchAll(/\p{M}/gu)) t[m[0].charCodeAt(0)] = 1;
  // Grapheme_Extend characters outside \p{M}: ZWNJ, halfwidth katakana voiced sound marks; and ZWJ.
  for (const c of [0x200c, 0x200d, 0xff9e, 0xff9f]) t[c] = 1;
  // SpacingMark characters outside \p{M}: THAI / LAO CHARACTER SARA AM.
  t[0x0e33] = 1;
  t[0x0eb3] = 1;
  // Hangul L, V and T jamo (a precomposed syllable only joins with a following V or T jamo).
  t.fill(1, 0x1100, 0x1200);
  t.fill(1, 0xa960, 0xa980);
  t.fill(1, 0xd7b0, 0xd800);
  // Prepend (BMP): Arabic number signs, end of ayah, Syriac abbreviation mark, Arabic pound/piastre
  // mark above, Arabic disputed end of ayah, Malayalam dot reph.
  for (const c of [
    0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06dd, 0x070f, 0x0890, 0x0891, 0x08e2, 0x0d4e,
  ]) {
    t[c] = 1;
  }
  joiners = t;
  return t;
}

/** True when grapheme clusters of `text` can span several code points (other than CR LF). */
export function needsSegmenter(text: string): boolean {
  const t = joinerTable();
  for (let i = 0; i < text.length; i++) if (t[text.charCodeAt(i)] === 1) return true;
  return false;
}

/** Grapheme clusters of a text, for previews and tests. */
export function graphemes(text: string): string[] {
  return Array.from(graphemeSegmenter().segment(text), (s) => s.segment);
}
