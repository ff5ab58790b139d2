/** Helpers that describe characters for errors and previews. Only used off the hot path. */
import type { UnencodableCharacter } from '../errors.js';

/**
 * The distinct code points of `text` that `accepts` rejects, in order of first occurrence. A
 * surrogate pair is judged and reported as one code point; a lone surrogate as itself.
 */
export function describeUnencodable(
  text: string,
  accepts: (codeUnit: number) => boolean,
): UnencodableCharacter[] {
  const found = new Map<number, { char: string; codePoint: number; index: number; count: number }>();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let cp = c;
    let len = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = (c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000;
        len = 2;
      }
    }
    if (len === 1 && accepts(c)) continue;
    const seen = found.get(cp);
    if (seen) seen.count++;
    else found.set(cp, { char: text.slice(i, i + len), codePoint: cp, index: i, count: 1 });
    i += len - 1;
  }
  return [...found.values()];
}

/** "U+00E7" form of a code point. */
export function formatCodePoint(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}
