/**
 * The do-not-contact list: who asked not to be messaged, in which scope, and the audit trail of
 * every opt-out and opt-in. Two implementations of the store (src/store/memory/optouts.ts and
 * src/store/redis/optouts.ts), one contract suite (test/store/optouts.contract.ts).
 *
 * A scope says which messages an opt-out silences: every message to the number ('global'), those
 * of one program (a named group of senders), or those of one sender address. Which scopes a
 * message is checked against, and in which order, is the caller's: the store only answers.
 */
import { quoteValue, SluiceError } from '../errors.js';

export const OPT_OUT_SOURCES = ['keyword', 'api', 'import'] as const;
/** How the opt-out (or opt-in) came: a keyword message (STOP), the HTTP API, or a CSV import. */
export type OptOutSource = (typeof OPT_OUT_SOURCES)[number];

/** 'global', `program:<name>` or `sender:<address>`; build with the scope functions below. */
export type OptOutScope = 'global' | `program:${string}` | `sender:${string}`;

export interface OptOutEntry {
  /** E.164 digits without '+'. */
  number: string;
  scope: OptOutScope;
  /** ms since the epoch. */
  at: number;
  source: OptOutSource;
  /** The keyword that caused it (source 'keyword'), else null. */
  keyword: string | null;
  /** Free text (source 'api' or 'import'), else null. */
  reason: string | null;
  /** The sender address the keyword message was sent to, else null. */
  sender: string | null;
}

export const OPT_OUT_ACTIONS = ['opt_out', 'opt_in'] as const;
export type OptOutAction = (typeof OPT_OUT_ACTIONS)[number];

/** One line of a number's audit trail. */
export interface OptOutEvent extends OptOutEntry {
  action: OptOutAction;
}

export interface OptOutQuery {
  number: string;
  /** In order of precedence: the first one the number is opted out in is the answer. */
  scopes: readonly OptOutScope[];
}

/**
 * Every method validates all of its arguments before it writes anything (OptOutValidationError):
 * a batch with one malformed entry writes none. Concurrent calls from many processes are safe;
 * each entry's write and its audit event are atomic together, a batch as a whole is not.
 */
export interface OptOutStore {
  /**
   * For each query, the stored entry of the first scope (in the order given) in which the number
   * is opted out, or null. One round trip per call however many queries: call it per batch of
   * messages, not per message.
   */
  check(queries: readonly OptOutQuery[]): Promise<Array<OptOutEntry | null>>;

  /**
   * Opts each number out in the entry's scope. Returns per entry true when it is new in that
   * scope, false when the number was already opted out there: the existing entry is kept as it
   * is (its first time and source are what compliance asks for). Either way an audit event
   * (action 'opt_out', the given entry's metadata) is appended: a repeated STOP is still a fact.
   * Entries are applied in order, so the same number and scope twice in one batch gives true,
   * then false.
   */
  add(entries: readonly OptOutEntry[]): Promise<boolean[]>;

  /**
   * Opts each number back in (removes the entry of that scope only). Returns per item whether an
   * entry was removed. An audit event (action 'opt_in', the item's metadata) is appended even
   * when there was nothing to remove: the request itself is on record.
   */
  remove(items: readonly OptOutEntry[]): Promise<boolean[]>;

  /** Every scope's entry for one number, ordered by scope ('global', then programs, then senders). */
  get(number: string): Promise<OptOutEntry[]>;

  /** The number's latest `limit` audit events (0 or more), oldest first. */
  history(number: string, limit: number): Promise<OptOutEvent[]>;

  /**
   * Every entry (of one scope, or of all when null), for a streamed export: pages of about
   * `pageSize` entries, never empty, in no particular order. An entry stored for the whole scan is
   * yielded; one added or removed meanwhile may be or not. Redis may yield a number twice when its
   * keyspace shrinks during the scan (SCAN's guarantee is "at least once"), so a consumer must
   * tolerate a repeat; re-importing an export is idempotent anyway.
   */
  scan(scope: OptOutScope | null, pageSize: number): AsyncIterable<OptOutEntry[]>;
}

/** An opt-out argument that is malformed; `field` names it, the message says what is accepted. */
export class OptOutValidationError extends SluiceError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('SLUICE_ERR_OPTOUT_INVALID', `${field} ${message}`);
    this.field = field;
  }
}

/**
 * E.164: at most 15 digits, and no country code starts with 0. The number becomes part of a Redis
 * key (and its hash tag), so nothing but digits may reach the store. How short a real number can
 * be is the normalising layer's business (libphonenumber at intake), not the store's.
 */
const NUMBER = /^[1-9][0-9]{0,14}$/;
/** The configuration's rule for names (src/config/load.ts), which programs follow. */
const PROGRAM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/**
 * Printable ASCII, at most 20 characters: the most an SMPP source_addr carries (21 octets with its
 * NUL, v3.4 §5.2.8). Looser than the configuration's sender rules on purpose: a scope written
 * under today's rules must still read back if they change.
 */
const SENDER = /^[\x20-\x7e]{1,20}$/;
/** Bounds what one entry costs in Redis: short values keep a hash in its compact encoding. */
export const MAX_KEYWORD_LENGTH = 64;
export const MAX_REASON_LENGTH = 500;

export function isOptOutNumber(value: string): boolean {
  return NUMBER.test(value);
}

export function checkOptOutNumber(value: string, field = 'number'): string {
  if (!NUMBER.test(value)) {
    throw new OptOutValidationError(
      field,
      `must be E.164 digits without '+' (1..15 digits, not starting with 0), got ${quoteValue(value)}`,
    );
  }
  return value;
}

export function scopeGlobal(): OptOutScope {
  return 'global';
}

export function scopeProgram(name: string): OptOutScope {
  if (!PROGRAM.test(name)) {
    throw new OptOutValidationError(
      'scope',
      `program must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit, got ${quoteValue(name)}`,
    );
  }
  return `program:${name}`;
}

export function scopeSender(address: string): OptOutScope {
  if (!SENDER.test(address)) {
    throw new OptOutValidationError(
      'scope',
      `sender must be 1..20 printable ASCII characters, got ${quoteValue(address)}`,
    );
  }
  return `sender:${address}`;
}

/** A scope as text ('global', 'program:<name>', 'sender:<address>'), validated. */
export function parseScope(text: string): OptOutScope {
  if (text === 'global') return 'global';
  if (text.startsWith('program:')) return scopeProgram(text.slice('program:'.length));
  if (text.startsWith('sender:')) return scopeSender(text.slice('sender:'.length));
  throw new OptOutValidationError(
    'scope',
    `must be 'global', 'program:<name>' or 'sender:<address>', got ${quoteValue(text)}`,
  );
}

/** Null, or a string of 1..max characters. */
function checkOptionalText(field: string, value: string | null, max: number): void {
  if (value === null) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new OptOutValidationError(field, `must be null or 1..${max} characters`);
  }
}

/**
 * Throws OptOutValidationError unless every field is well formed. The stores call it on every
 * entry of a batch before writing any: they are the last line, not the first (the HTTP layer
 * answers 400/422 with the same rules earlier).
 */
export function checkOptOutEntry(entry: OptOutEntry): void {
  checkOptOutNumber(entry.number);
  parseScope(entry.scope);
  if (!Number.isSafeInteger(entry.at) || entry.at < 0) {
    throw new OptOutValidationError('at', `must be whole ms since the epoch, got ${entry.at}`);
  }
  if (!OPT_OUT_SOURCES.includes(entry.source)) {
    throw new OptOutValidationError(
      'source',
      `must be one of ${OPT_OUT_SOURCES.join(', ')}, got '${entry.source}'`,
    );
  }
  checkOptionalText('keyword', entry.keyword, MAX_KEYWORD_LENGTH);
  checkOptionalText('reason', entry.reason, MAX_REASON_LENGTH);
  if (entry.sender !== null && !SENDER.test(entry.sender)) {
    throw new OptOutValidationError('sender', 'must be null or 1..20 printable ASCII characters');
  }
}

/** history()'s limit: a whole number, 0 or more. */
export function checkHistoryLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new OptOutValidationError('limit', `must be a whole number of 0 or more, got ${limit}`);
  }
}

/** scan()'s page size: a whole number of at least 1. */
export function checkPageSize(pageSize: number): void {
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
    throw new OptOutValidationError('pageSize', `must be a whole number of at least 1, got ${pageSize}`);
  }
}

/** Orders entries as get() returns them: 'global' < 'program:…' < 'sender:…' happens to be byte order. */
export function compareScopes(a: OptOutScope, b: OptOutScope): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
