/**
 * Smart encoding: typographic look-alikes that word processors and phones insert (curly quotes,
 * dashes, ellipsis, exotic spaces, invisible marks, full-width forms) mapped to plain GSM characters.
 * It is applied only when it lets the whole text travel as GSM-7 (one non-GSM character makes a
 * message UCS-2, 2-3 times the parts), and every replacement is reported.
 */
import { type Gsm7Charset, gsm7Lookup } from './gsm7.js';

export interface Replacement {
  /** UTF-16 index of the replaced character in the original text. */
  readonly index: number;
  readonly from: string;
  /** What it became; empty for invisible characters that are dropped. */
  readonly to: string;
}

const MAP = new Map<number, string>();

function add(to: string, ...codes: number[]): void {
  for (const c of codes) MAP.set(c, to);
}

// Double quotation marks and primes: “ ” „ ‟ « » ″ 〝 〞 ＂
add('"', 0x201c, 0x201d, 0x201e, 0x201f, 0x00ab, 0x00bb, 0x2033, 0x301d, 0x301e, 0xff02);
// Single quotation marks, apostrophes, primes and accents used as apostrophes: ‘ ’ ‚ ‛ ‹ › ′ ‵ ʹ ʻ ʼ ʽ ´ `
add("'", 0x2018, 0x2019, 0x201a, 0x201b, 0x2039, 0x203a, 0x2032, 0x2035, 0x02b9, 0x02bb, 0x02bc, 0x02bd);
add("'", 0x00b4, 0x0060, 0xff07);
// Hyphens, dashes and minus: ‐ ‑ ‒ – — ― ⁃ − ﹘ ﹣ －
add('-', 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2043, 0x2212, 0xfe58, 0xfe63, 0xff0d);
// Ellipsis and leaders: … ‥ ․
add('...', 0x2026);
add('..', 0x2025);
add('.', 0x2024);
// Spaces: tab, no-break, ogham, en/em and the other fixed-width spaces, narrow no-break,
// medium mathematical, ideographic.
add(' ', 0x0009, 0x00a0, 0x1680, 0x202f, 0x205f, 0x3000);
for (let c = 0x2000; c <= 0x200a; c++) add(' ', c);
// Line and paragraph separators are line breaks.
add('\n', 0x2028, 0x2029);
// Invisible format characters: soft hyphen, zero-width space / non-joiner / joiner, word joiner,
// byte order mark. Only dropped when the rest is GSM, where they change nothing that is shown.
add('', 0x00ad, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff);
// Spacing modifier letters and operators that stand in for ASCII: ˆ ˜ ⁄ ∕ ∗ ∣
add('^', 0x02c6);
add('~', 0x02dc);
add('/', 0x2044, 0x2215);
add('*', 0x2217);
add('|', 0x2223);
// Full-width ASCII forms (U+FF01..U+FF5E are ASCII 0x21..0x7E shifted by 0xFEE0).
for (let c = 0xff01; c <= 0xff5e; c++) if (!MAP.has(c)) MAP.set(c, String.fromCharCode(c - 0xfee0));

/** The smart-encoding replacement for a UTF-16 code unit, if there is one. */
export function smartReplacement(code: number): string | undefined {
  return MAP.get(code);
}

/**
 * Replaces the code units that `cs` cannot encode with their look-alikes. Returns null (and the text
 * stays as it is) unless every such code unit has a replacement that `cs` can encode.
 */
export function smartEncode(
  text: string,
  cs: Gsm7Charset,
  from = 0,
): { text: string; replacements: Replacement[] } | null {
  const replacements: Replacement[] = [];
  let out = '';
  let copied = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (gsm7Lookup(cs, c) >= 0) continue;
    const to = MAP.get(c);
    if (to === undefined || !encodable(cs, to)) return null;
    out += text.slice(copied, i) + to;
    copied = i + 1;
    replacements.push({ index: i, from: text[i]!, to });
  }
  if (replacements.length === 0) return { text, replacements };
  return { text: out + text.slice(copied), replacements };
}

function encodable(cs: Gsm7Charset, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (gsm7Lookup(cs, s.charCodeAt(i)) < 0) return false;
  return true;
}
