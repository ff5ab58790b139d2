/**
 * Links in message text, so that segmentation can keep each within one part: a link cut across two
 * parts is shown by many handsets as two pieces of which neither opens.
 *
 * Recognised: http:// and https:// URLs, www. hosts, and bare host names followed by a path
 * ("bit.ly/3xYz", the usual shape of a short link). A URL ends at whitespace or at a character that
 * cannot appear unescaped in one; trailing sentence punctuation is not part of it.
 *
 * One regex finds the first two forms. Bare hosts are found from each '/' by scanning back over host
 * characters, which costs far less than a regex that must try a host at every position.
 */

const SCHEME_RE = /\b(?:https?:\/\/|www\.)[^\s<>"{}|\\^`]+/gi;
const HOST_RE = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}$/i;

/** Characters that end a URL in the ASCII range: controls, space, and <>"{}|\^` (RFC 3986 §2). */
const ASCII_STOP = new Uint8Array(128);
for (let c = 0; c <= 0x20; c++) ASCII_STOP[c] = 1;
for (const ch of '<>"{}|\\^`\u007f') ASCII_STOP[ch.charCodeAt(0)] = 1;

const SPACE_RE = /\s/;

function isUrlChar(c: number): boolean {
  if (c < 0x80) return ASCII_STOP[c] === 0;
  return !SPACE_RE.test(String.fromCharCode(c));
}

function isHostChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e
  );
}

/** Characters that may not stand right before a bare host: it would be part of a word, path or address. */
function joinsHost(c: number): boolean {
  return isHostChar(c) || c === 0x5f || c === 0x40 || c === 0x2f || c === 0x3a;
}

const TRAILING = new Set([0x2e, 0x2c, 0x3b, 0x3a, 0x21, 0x3f, 0x27, 0x22, 0x29, 0x5d]);

/** Start and end (exclusive) UTF-16 indexes of each URL, in order, flattened: [s0, e0, s1, e1, ...]. */
export function findUrls(text: string): number[] {
  // Every recognised form contains '.': a text without one has no URL.
  if (text.indexOf('.') < 0) return [];
  const found: number[] = [];
  SCHEME_RE.lastIndex = 0;
  for (let m = SCHEME_RE.exec(text); m !== null; m = SCHEME_RE.exec(text)) {
    const end = trimEnd(text, m.index, m.index + m[0].length);
    if (end > m.index) found.push(m.index, end);
  }
  const schemeCount = found.length;
  for (let slash = text.indexOf('/'); slash >= 0; slash = text.indexOf('/', slash + 1)) {
    if (inside(found, schemeCount, slash)) continue;
    let s = slash;
    while (s > 0 && isHostChar(text.charCodeAt(s - 1))) s--;
    if (s === slash || (s > 0 && joinsHost(text.charCodeAt(s - 1)))) continue;
    if (!HOST_RE.test(text.slice(s, slash))) continue;
    let e = slash + 1;
    while (e < text.length && isUrlChar(text.charCodeAt(e))) e++;
    e = trimEnd(text, s, e);
    found.push(s, e);
    slash = e - 1;
  }
  return found.length > schemeCount && schemeCount > 0 ? sortPairs(found) : found;
}

function inside(pairs: readonly number[], count: number, at: number): boolean {
  for (let k = 0; k < count; k += 2) if (at >= pairs[k]! && at < pairs[k + 1]!) return true;
  return false;
}

function trimEnd(text: string, start: number, end: number): number {
  let e = end;
  while (e > start && TRAILING.has(text.charCodeAt(e - 1))) {
    const c = text.charCodeAt(e - 1);
    // A closing bracket belongs to the URL when it closes one opened inside it (Wikipedia links).
    if ((c === 0x29 || c === 0x5d) && balanced(text, start, e, c)) break;
    e--;
  }
  return e;
}

function balanced(text: string, start: number, end: number, close: number): boolean {
  const open = close === 0x29 ? 0x28 : 0x5b;
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === open) depth++;
    else if (c === close) depth--;
  }
  return depth >= 0;
}

function sortPairs(flat: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let k = 0; k < flat.length; k += 2) pairs.push([flat[k]!, flat[k + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  return pairs.flat();
}
