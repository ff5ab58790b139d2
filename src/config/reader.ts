/**
 * Typed reads from an untyped configuration tree that collect problems instead of throwing, so one
 * run reports every mistake in the file. A read that fails records a problem and returns a
 * placeholder: the caller throws when any problem was recorded, so placeholders never escape.
 *
 * Values may be JS numbers and booleans (a config built in code) or strings: YAML is parsed with
 * the failsafe schema plus null, where every other scalar is a string, and the reads below convert.
 * That keeps `port: ${PORT}` working, keeps `address: 0800123` from losing its leading zero, and
 * refuses YAML 1.1 spellings such as `yes` instead of silently reading them as something else.
 */

const INTEGER = /^[-+]?[0-9]+$/;
const DECIMAL = /^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/;

export function keyPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

/**
 * How a value is shown after "got": short, quoted, never a mapping's contents. Text that reads as
 * a number is shown bare, as it was written ("got 0"), since YAML hands every scalar over as text.
 */
export function describe(value: unknown, bareNumbers = true): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    if (bareNumbers && DECIMAL.test(value)) return value;
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    // Control characters are escaped so that a message stays on one line.
    return hasControl(shown) ? JSON.stringify(shown) : `'${shown}'`;
  }
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known key a mistyped one most likely meant: the same key in another spelling (snake_case,
 * other case), else the nearest within edit distance 2.
 */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const fold = (s: string) => s.replaceAll(/[-_]/g, '').toLowerCase();
  const same = known.find((k) => fold(k) === fold(key));
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Unset: the key is missing, or null (an empty value, `~` or `null` in YAML). For settings that are
 * not text, '' (written, or an empty ${VAR}) counts too; text reads '' as a value.
 */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** Collects problems across the whole tree. */
export class Checker {
  readonly problems: string[] = [];
  readonly #fromEnv: ReadonlyMap<string, readonly string[]>;
  readonly #silenced: ReadonlySet<string>;

  /**
   * `fromEnv`: key path → the variables its value came from. `silenced`: key paths already
   * reported (an unset variable); a second complaint about the same value would only be noise.
   */
  constructor(
    fromEnv: ReadonlyMap<string, readonly string[]> = new Map(),
    silenced: ReadonlySet<string> = new Set(),
  ) {
    this.#fromEnv = fromEnv;
    this.#silenced = silenced;
  }

  /** `path message`, e.g. "http.port must be an integer 0..65535, got 70000". */
  report(path: string, message: string): void {
    if (this.#silenced.has(path)) return;
    this.problems.push(path === '' ? message : `${path} ${message}`);
  }

  /** A value quoted inside a sentence: 'carrier-x', or the variable it came from. */
  shown(path: string, value: unknown): string {
    const vars = this.#fromEnv.get(path);
    if (vars !== undefined) return `(the value of ${vars.map((v) => `\${${v}}`).join(' + ')})`;
    return describe(value, false);
  }

  /**
   * "got X" for a value that failed a check. A value that came from the environment is not shown:
   * variables carry secrets, and this message ends up in logs.
   */
  got(path: string, value: unknown): string {
    const vars = this.#fromEnv.get(path);
    if (vars !== undefined) return `got the value of ${vars.map((v) => `\${${v}}`).join(' + ')} (not shown)`;
    return `got ${describe(value)}`;
  }

  /** A mark to ask later whether reads since then all succeeded. */
  mark(): number {
    return this.problems.length;
  }

  cleanSince(mark: number): boolean {
    return this.problems.length === mark;
  }

  /**
   * The mapping at `path`, reporting its unknown keys. Absent reads as empty, so every setting in it
   * takes its default; `item`: a list entry, which must be a mapping (`- ` alone is a mistake).
   */
  section(
    path: string,
    value: unknown,
    known: readonly string[],
    options: { item?: boolean; ignoreKey?: (key: string) => boolean } = {},
  ): Section {
    if (isAbsent(value) && !options.item) return new Section(this, path, {}, true);
    if (!isMapping(value)) {
      this.report(path, `must be a mapping (key: value lines), ${this.got(path, value)}`);
      return new Section(this, path, {}, false);
    }
    const record = value;
    for (const key of Object.keys(record)) {
      if (known.includes(key) || options.ignoreKey?.(key)) continue;
      const suggestion = suggestKey(key, known);
      this.report(
        keyPath(path, key),
        suggestion === undefined
          ? `is an unknown key (known: ${known.join(', ')})`
          : `is an unknown key (did you mean '${suggestion}'?)`,
      );
    }
    return new Section(this, path, record, true);
  }
}

/** One item of a list, with its key path. */
export interface Item {
  path: string;
  value: unknown;
}

/**
 * The settings of one mapping. A section that is not a mapping (already reported) is dead: its
 * reads return placeholders without reporting again, so one mistake is reported once.
 */
export class Section {
  readonly #checker: Checker;
  readonly path: string;
  readonly #record: Readonly<Record<string, unknown>>;
  readonly #live: boolean;

  constructor(checker: Checker, path: string, record: Readonly<Record<string, unknown>>, live: boolean) {
    this.#checker = checker;
    this.path = path;
    this.#record = record;
    this.#live = live;
  }

  /** False when the value was not a mapping (already reported). */
  get live(): boolean {
    return this.#live;
  }

  pathOf(key: string): string {
    return keyPath(this.path, key);
  }

  raw(key: string): unknown {
    return this.#record[key];
  }

  has(key: string): boolean {
    return !isAbsent(this.#record[key]);
  }

  /** Reports `<path> <expectation>, got <value>` (without the value when `secret`). */
  fail(key: string, expectation: string, options: { secret?: boolean } = {}): void {
    if (!this.#live) return;
    const path = this.pathOf(key);
    const value = this.#record[key];
    this.#checker.report(
      path,
      options.secret ? expectation : `${expectation}, ${this.#checker.got(path, value)}`,
    );
  }

  #missing(key: string, what: string): void {
    if (this.#live) this.#checker.report(this.pathOf(key), `is required (${what})`);
  }

  /**
   * A string; without a default it is required. '' is a value, not unset: it is a meaningful
   * password or system_type.
   */
  string(key: string, what: string, fallback?: string): string {
    const value = this.#record[key];
    if (value === undefined || value === null) {
      if (fallback !== undefined) return fallback;
      this.#missing(key, what);
      return '';
    }
    if (typeof value !== 'string') {
      this.fail(key, `must be ${what}`);
      return fallback ?? '';
    }
    return value;
  }

  /** A string or null; '' reads as null too. */
  nullableString(key: string, what: string): string | null {
    const value = this.#record[key];
    if (isAbsent(value)) return null;
    if (typeof value !== 'string') {
      this.fail(key, `must be ${what} or null`);
      return null;
    }
    return value;
  }

  integer(key: string, min: number, max: number, fallback?: number): number {
    const expectation =
      max === Number.POSITIVE_INFINITY ? `must be an integer >= ${min}` : `must be an integer ${min}..${max}`;
    const value = this.#record[key];
    if (isAbsent(value)) {
      if (fallback !== undefined) return fallback;
      this.#missing(key, expectation.replace('must be ', ''));
      return min;
    }
    const n = typeof value === 'string' && INTEGER.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
      this.fail(key, expectation);
      return fallback ?? min;
    }
    return n;
  }

  /** A finite number >= min (fractions allowed). */
  number(key: string, min: number, fallback: number, max = Number.POSITIVE_INFINITY): number {
    const value = this.#record[key];
    if (isAbsent(value)) return fallback;
    const n = typeof value === 'string' && DECIMAL.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
      this.fail(
        key,
        max === Number.POSITIVE_INFINITY ? `must be a number >= ${min}` : `must be a number ${min}..${max}`,
      );
      return fallback;
    }
    return n;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.#record[key];
    if (isAbsent(value)) return fallback;
    // YAML 1.2 spellings only: `yes`/`on` are YAML 1.1 and too easy to write by accident.
    if (value === true || value === 'true' || value === 'True' || value === 'TRUE') return true;
    if (value === false || value === 'false' || value === 'False' || value === 'FALSE') return false;
    this.fail(key, 'must be true or false');
    return fallback;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const value = this.#record[key];
    const expectation = `must be one of ${allowed.join(', ')}`;
    if (isAbsent(value)) {
      if (fallback !== undefined) return fallback;
      this.#missing(key, `one of ${allowed.join(', ')}`);
      return allowed[0]!;
    }
    const found = allowed.find((a) => a === value);
    if (found === undefined) {
      this.fail(key, expectation);
      return fallback ?? allowed[0]!;
    }
    return found;
  }

  /** An integer from a fixed set, e.g. the NPI values SMPP defines. */
  integerIn(key: string, allowed: readonly number[], fallback: number): number {
    const value = this.#record[key];
    if (isAbsent(value)) return fallback;
    const n = typeof value === 'string' && INTEGER.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !allowed.includes(n)) {
      this.fail(key, `must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return n;
  }

  /**
   * A list's items. `required`: absent or empty is a problem, reported as `<path> <required>`;
   * otherwise absent reads as empty.
   */
  list(key: string, options: { required?: string } = {}): Item[] {
    const value = this.#record[key];
    const path = this.pathOf(key);
    if (isAbsent(value)) {
      if (options.required !== undefined && this.#live) this.#checker.report(path, options.required);
      return [];
    }
    if (!Array.isArray(value)) {
      this.fail(key, 'must be a list');
      return [];
    }
    if (value.length === 0 && options.required !== undefined) this.#checker.report(path, options.required);
    return value.map((item, i) => ({ path: indexPath(path, i), value: item }));
  }

  /** A nested mapping; absent reads as empty (every setting in it at its default). */
  section(key: string, known: readonly string[]): Section {
    if (!this.#live) return new Section(this.#checker, this.pathOf(key), {}, false);
    return this.#checker.section(this.pathOf(key), this.#record[key], known);
  }
}
