/**
 * Cross-check against two independent implementations (devDependencies):
 *   - sms-segments-calculator@1.3.0 (Twilio): grapheme clusters from the grapheme-splitter package
 *     (Unicode 10-era rules), with CR LF deliberately split into two characters;
 *   - split-sms@0.1.7: code points only; it keeps surrogate pairs whole but splits any cluster.
 *
 * On a generated corpus of more than 20,000 strings around every part boundary, all three must agree
 * on the encoding. On part counts, the oracles differ from sluice by design, and the test asserts the
 * expected relation instead of skipping:
 *   - sluice keeps UAX #29 clusters whole (Intl.Segmenter, Unicode 17), CR LF included, and starts a
 *     link in the next part rather than cut it;
 *   - split-sms cuts between any two code points: sluice needs as many parts when no cluster, CR LF or
 *     link is involved, and never fewer (fewer break positions can only push cuts earlier);
 *   - Twilio's clusters are older: sluice needs as many parts when both cluster lists are equal and no
 *     CR LF or link is involved, and never fewer when its clusters are unions of Twilio's.
 * And sluice's own splitter, fed each oracle's break positions, must reproduce that oracle's count
 * exactly: the arithmetic (153/67 per part, escapes as two septets, 160/70 for one part) is the same.
 *
 * Cost: sms-segments-calculator takes about 5 µs per character here (its grapheme splitter), so all
 * 20,000+ strings against it would take over 30 s. Every string is checked against split-sms; a
 * stratified subset (TWILIO_PER_CELL strings of every mix × length cell) against Twilio's calculator.
 * SLUICE_ORACLE_FULL=1 checks every string against both (about 40 s).
 */
import smsSegmentsCalculator from 'sms-segments-calculator';
import * as splitSms from 'split-sms';
import { describe, expect, it } from 'vitest';
import {
  needsSegmenter,
  SeptetBoundaries,
  type UnitBoundaries,
  Utf16Boundaries,
} from '../../src/codec/graphemes.js';
import { DEFAULT_CHARSET, encodedSeptets, encodeToScratch } from '../../src/codec/gsm7.js';
import { gsm7Capacity, planMessage, ucs2Capacity } from '../../src/codec/index.js';
import { splitUnits } from '../../src/codec/segment.js';
import { findUrls } from '../../src/codec/urls.js';
import { POOLS, type PoolName, prng } from './helpers.js';

const { SegmentedMessage } = smsSegmentsCalculator;
const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Mixes of the pools; each yields texts of one encoding. */
const MIXES: { name: string; pools: PoolName[]; encoding: 'gsm7' | 'ucs2' }[] = [
  { name: 'ascii', pools: ['ascii'], encoding: 'gsm7' },
  { name: 'gsm basic', pools: ['ascii', 'gsmBasic'], encoding: 'gsm7' },
  { name: 'gsm extension', pools: ['ascii', 'gsmExtension'], encoding: 'gsm7' },
  { name: 'crlf', pools: ['ascii', 'crlf'], encoding: 'gsm7' },
  { name: 'all gsm', pools: ['ascii', 'gsmBasic', 'gsmExtension', 'crlf'], encoding: 'gsm7' },
  { name: 'non-gsm latin', pools: ['ascii', 'nonGsmLatin'], encoding: 'ucs2' },
  { name: 'cyrillic', pools: ['cyrillic', 'ascii'], encoding: 'ucs2' },
  { name: 'cjk', pools: ['cjk'], encoding: 'ucs2' },
  { name: 'emoji', pools: ['ascii', 'emoji'], encoding: 'ucs2' },
  { name: 'cyrillic emoji', pools: ['cyrillic', 'emoji', 'gsmExtension'], encoding: 'ucs2' },
  { name: 'combining', pools: ['ascii', 'combining', 'crlf'], encoding: 'ucs2' },
  { name: 'everything', pools: Object.keys(POOLS) as PoolName[], encoding: 'ucs2' },
];

/** Lengths in units (septets or UTF-16 code units) around every part boundary, and beyond. */
const TARGETS = [
  ...range(64, 73),
  ...range(130, 137),
  ...range(150, 163),
  ...range(198, 203),
  ...range(266, 270),
  ...range(302, 309),
  ...range(333, 337),
  ...range(455, 461),
  ...range(610, 614),
  ...range(763, 766),
  ...range(1001, 1002),
];
const SAMPLES = 23;
const TWILIO_PER_CELL = process.env.SLUICE_ORACLE_FULL === '1' ? SAMPLES : 2;

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

function unitsOf(token: string, encoding: 'gsm7' | 'ucs2'): number {
  return encoding === 'ucs2' ? token.length : encodeToScratch(DEFAULT_CHARSET, token);
}

/**
 * A text of exactly `target` units: tokens drawn from the mix (ASCII 60%, else a pool of the mix
 * chosen evenly), with ASCII filler inserted at a random place to land on the target.
 */
function makeText(
  random: () => number,
  pools: readonly PoolName[],
  encoding: 'gsm7' | 'ucs2',
  target: number,
): string {
  const others = pools.filter((p) => p !== 'ascii');
  const parts: string[] = [];
  let units = 0;
  for (;;) {
    const pool =
      POOLS[others.length === 0 || random() < 0.6 ? 'ascii' : others[Math.floor(random() * others.length)]!];
    const t = pool[Math.floor(random() * pool.length)]!;
    const u = unitsOf(t, encoding);
    if (units + u > target - Math.floor(random() * 4)) break;
    parts.push(t);
    units += u;
  }
  const fill = 'x'.repeat(target - units);
  parts.splice(Math.floor(random() * (parts.length + 1)), 0, fill);
  return parts.join('');
}

/** Break positions given as a list of clusters, in units. */
function clusterModel(clusters: readonly string[], encoding: 'gsm7' | 'ucs2'): UnitBoundaries {
  const startOf: number[] = [];
  const pointStart: number[] = [];
  let at = 0;
  for (const c of clusters) {
    const start = at;
    for (const ch of c) {
      const u = unitsOf(ch, encoding);
      for (let k = 0; k < u; k++) {
        startOf.push(start);
        pointStart.push(at);
      }
      at += u;
    }
  }
  return { clusterStart: (p) => startOf[p] ?? p, codePointStart: (p) => pointStart[p] ?? p };
}

/** Code points only: a surrogate pair or an ESC pair stays whole, nothing else does. */
function codePointModel(text: string, encoding: 'gsm7' | 'ucs2'): UnitBoundaries {
  const b =
    encoding === 'ucs2'
      ? new Utf16Boundaries(text)
      : new SeptetBoundaries(encodedSeptets(encodeToScratch(DEFAULT_CHARSET, text)).slice());
  return { clusterStart: (p) => b.codePointStart(p), codePointStart: (p) => b.codePointStart(p) };
}

/** Parts that sluice's splitter makes with the given break positions, for udh8. */
function modelCount(units: number, encoding: 'gsm7' | 'ucs2', bounds: UnitBoundaries): number {
  const single = encoding === 'gsm7' ? gsm7Capacity(0) : ucs2Capacity(0);
  if (units <= single) return 1;
  const cap = encoding === 'gsm7' ? gsm7Capacity(6) : ucs2Capacity(6);
  return splitUnits(units, cap, bounds, []).ends.length;
}

function startsOf(clusters: readonly string[]): Set<number> {
  const s = new Set<number>();
  let at = 0;
  for (const c of clusters) {
    s.add(at);
    at += c.length;
  }
  return s;
}

describe('cross-check against sms-segments-calculator and split-sms', () => {
  it('agrees on encoding and part count, or on the documented relation, for 20,000+ strings', {
    timeout: TWILIO_PER_CELL === SAMPLES ? 300_000 : 30_000,
  }, () => {
    const random = prng(20_240_514);
    const mismatches: string[] = [];
    const seen = {
      strings: 0,
      ucs2: 0,
      twilio: 0,
      equalToSplitSms: 0,
      moreThanSplitSmsByDesign: 0,
      equalToTwilio: 0,
      moreThanTwilioByDesign: 0,
      clustersCross: 0,
    };
    for (const mix of MIXES) {
      for (const target of TARGETS) {
        for (let n = 0; n < SAMPLES; n++) {
          const text = makeText(random, mix.pools, mix.encoding, target);
          seen.strings++;
          const ours = planMessage(text, { mode: 'udh8', reference: 0, maxParts: 255, smartEncoding: false });
          const ss = splitSms.split(text);
          const label = `${mix.name}/${target}: ${JSON.stringify(text)}`;
          const ssEncoding = ss.characterSet === 'GSM' ? 'gsm7' : 'ucs2';
          if (ssEncoding !== ours.encoding) {
            mismatches.push(`encoding ${ours.encoding}/split-sms ${ssEncoding} ${label}`);
            continue;
          }
          const enc = ours.encoding;
          const count = ours.segmentCount;
          if (enc === 'ucs2') seen.ucs2++;

          // The same arithmetic: sluice's splitter with split-sms's break positions gives its count.
          const asSplitSms = modelCount(ours.units, enc, codePointModel(text, enc));
          if (asSplitSms !== ss.parts.length)
            mismatches.push(`split-sms model ${asSplitSms}/${ss.parts.length} ${label}`);

          // The design differences: clusters, CR LF and links.
          const ourClusters = clustersOf(text);
          const hasCrLf = text.includes('\r\n');
          const hasUrl = findUrls(text).length > 0;
          const onlyCodePoints = ourClusters.every(
            (c) => c.length === 1 || (c.length === 2 && c !== '\r\n' && c.codePointAt(0)! > 0xffff),
          );
          if (count < ss.parts.length)
            mismatches.push(`fewer parts than split-sms ${count}/${ss.parts.length} ${label}`);
          if (onlyCodePoints && !hasUrl) {
            if (count === ss.parts.length) seen.equalToSplitSms++;
            else mismatches.push(`split-sms ${count}/${ss.parts.length} ${label}`);
          } else if (count > ss.parts.length) {
            seen.moreThanSplitSmsByDesign++;
          }

          if (n >= TWILIO_PER_CELL) continue;
          seen.twilio++;
          const tw = new SegmentedMessage(text);
          const twEncoding = tw.encodingName === 'GSM-7' ? 'gsm7' : 'ucs2';
          if (twEncoding !== enc) {
            mismatches.push(`encoding ${enc}/twilio ${twEncoding} ${label}`);
            continue;
          }
          const asTwilio = modelCount(ours.units, enc, clusterModel(tw.graphemes, enc));
          if (asTwilio !== tw.segmentsCount)
            mismatches.push(`twilio model ${asTwilio}/${tw.segmentsCount} ${label}`);
          const twStarts = startsOf(tw.graphemes);
          const ourStarts = startsOf(ourClusters);
          // Twilio splits CR LF into two characters on purpose; sluice keeps the cluster.
          const coarser = [...ourStarts].every((s) => twStarts.has(s));
          const sameClusters = coarser && twStarts.size === ourStarts.size + countOf(text, '\r\n');
          if (sameClusters && !hasUrl && !hasCrLf) {
            if (count === tw.segmentsCount) seen.equalToTwilio++;
            else mismatches.push(`twilio ${count}/${tw.segmentsCount} ${label}`);
          } else if (coarser) {
            if (count < tw.segmentsCount)
              mismatches.push(`fewer parts than twilio ${count}/${tw.segmentsCount} ${label}`);
            else if (count > tw.segmentsCount) seen.moreThanTwilioByDesign++;
            else seen.equalToTwilio++;
          } else {
            seen.clustersCross++;
          }
        }
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(seen.strings).toBeGreaterThanOrEqual(20_000);
    // The corpus reaches every case, the by-design differences included.
    expect(seen.ucs2).toBeGreaterThan(8_000);
    expect(seen.equalToSplitSms).toBeGreaterThan(9_000);
    expect(seen.moreThanSplitSmsByDesign).toBeGreaterThan(100);
    expect(seen.twilio).toBeGreaterThanOrEqual(TWILIO_PER_CELL * MIXES.length * TARGETS.length);
    expect(seen.equalToTwilio).toBeGreaterThan(seen.twilio / 2);
    expect(seen.moreThanTwilioByDesign).toBeGreaterThan(10);
  });
});

/** UAX #29 clusters; Intl.Segmenter only when a code unit can join (as in the codec). */
function clustersOf(text: string): string[] {
  if (needsSegmenter(text)) return Array.from(segmenter.segment(text), (s) => s.segment);
  const out: string[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\r' && text[i + 1] === '\n') {
      out.push('\r\n');
      i++;
    } else out.push(text[i]!);
  }
  return out;
}

function countOf(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}
