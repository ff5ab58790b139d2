/**
 * The do-not-contact list in Redis. Key layout, per number (E.164 digits), both keys in the
 * number's hash tag so that one script writes them together, also under Redis Cluster:
 *
 *   <prefix>:o:{<number>}   hash: scope → entry, JSON [at, source, keyword, reason, sender]
 *   <prefix>:oh:{<number>}  list: audit events, oldest first, JSON [action, scope, at, source, …]
 *
 * Arrays, with trailing nulls left out, and no number or scope inside the entry (the key and the
 * field hold them): '[1767225600000,"keyword","STOP",null,"12345"]' is 45 bytes. A hash whose
 * values stay under 64 bytes (hash-max-listpack-value) keeps Redis's compact listpack encoding:
 * 171 bytes per number against 314 for the same entry as a 73-byte JSON object (Redis 7.0).
 * Audit lists are never trimmed: they are the compliance record.
 *
 * A batch of check() or add() is one script per 500 numbers (optouts-lua.ts), every call issued in
 * one tick (auto-pipelining sends them as one write): one round trip, and one command instead of
 * one per number. Those scripts span slots, so they need one primary, like the store's enqueue;
 * single-number calls, remove() and history() name one slot each, and scan() would have to run on
 * every primary under Redis Cluster (SCAN walks one node).
 */
import type { Redis } from 'ioredis';
import {
  checkHistoryLimit,
  checkOptOutEntry,
  checkOptOutNumber,
  checkPageSize,
  compareScopes,
  isOptOutNumber,
  type OptOutAction,
  type OptOutEntry,
  type OptOutEvent,
  type OptOutQuery,
  type OptOutScope,
  type OptOutSource,
  type OptOutStore,
  parseScope,
} from '../../policy/optouts.js';
import { RedisKeys } from './keys.js';
import { runScript } from './lua.js';
import { OPT_OUT_ADD, OPT_OUT_ADD_MANY, OPT_OUT_CHECK_MANY, OPT_OUT_REMOVE } from './optouts-lua.js';

/**
 * An entry as stored: a JSON array [at, source, keyword, reason, sender] with trailing nulls left
 * out; the key holds the number and the field the scope.
 */
type EntryTuple = [
  at: number,
  source: OptOutSource,
  keyword?: string | null,
  reason?: string | null,
  sender?: string | null,
];

/** An audit event as stored: [action, scope, …the entry's tuple]. */
type EventTuple = [action: OptOutAction, scope: OptOutScope, ...entry: EntryTuple];

function entryTuple(e: OptOutEntry): EntryTuple {
  if (e.sender !== null) return [e.at, e.source, e.keyword, e.reason, e.sender];
  if (e.reason !== null) return [e.at, e.source, e.keyword, e.reason];
  if (e.keyword !== null) return [e.at, e.source, e.keyword];
  return [e.at, e.source];
}

export function encodeOptOutEntry(e: OptOutEntry): string {
  return JSON.stringify(entryTuple(e));
}

/** The event of an entry already encoded: the entry's array with action and scope put first. */
export function encodeOptOutEvent(action: OptOutAction, scope: OptOutScope, entryJson: string): string {
  // The entry's JSON is an array, never empty: '[' + its elements. Spliced rather than encoded
  // again, because at a million-number import the client's CPU is what limits the rate.
  return `["${action}",${JSON.stringify(scope)},${entryJson.slice(1)}`;
}

function entryOf(number: string, scope: OptOutScope, t: EntryTuple): OptOutEntry {
  return {
    number,
    scope,
    at: t[0],
    source: t[1],
    keyword: t[2] ?? null,
    reason: t[3] ?? null,
    sender: t[4] ?? null,
  };
}

function decodeEntry(number: string, scope: OptOutScope, json: string): OptOutEntry {
  return entryOf(number, scope, JSON.parse(json) as EntryTuple);
}

function decodeEvent(number: string, json: string): OptOutEvent {
  const [action, scope, ...entry] = JSON.parse(json) as EventTuple;
  return { action, ...entryOf(number, scope, entry) };
}

/**
 * Numbers per batch script call: bounds how long one script holds the server (about a
 * millisecond) and the size of its reply.
 */
const BATCH = 500;

/** Most keyspace buckets one SCAN step visits. */
const MAX_SCAN_COUNT = 1000;

/** Redis glob metacharacters, escaped so that a prefix is matched literally by SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export class RedisOptOutStore implements OptOutStore {
  readonly #redis: Redis;
  /** `<prefix>:o:{`: what an entries key starts with. */
  readonly #entriesHead: string;
  /** `<prefix>:oh:{`: the audit list's. */
  readonly #historyHead: string;
  /** SCAN MATCH pattern of the entries keys: ':o:{' cannot match an audit key's ':oh:{'. */
  readonly #scanPattern: string;

  /**
   * `redis`: a connection with auto-pipelining on and RESP2 (as RedisStore makes), shared, not
   * closed by this store. `prefix`: as RedisStore's keyPrefix ('sluice'; a trailing ':' is
   * dropped, braces are refused).
   */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    const p = new RedisKeys(prefix).prefix;
    this.#entriesHead = `${p}:o:{`;
    this.#historyHead = `${p}:oh:{`;
    this.#scanPattern = `${escapeGlob(p)}:o:{[1-9]*}`;
  }

  /** Hash of the number's entries, scope → entry JSON. */
  entriesKey(number: string): string {
    return `${this.#entriesHead}${number}}`;
  }

  /** List of the number's audit events. */
  historyKey(number: string): string {
    return `${this.#historyHead}${number}}`;
  }

  async check(queries: readonly OptOutQuery[]): Promise<Array<OptOutEntry | null>> {
    for (const q of queries) {
      checkOptOutNumber(q.number);
      for (const scope of q.scopes) parseScope(scope);
    }
    if (queries.length > 1) return this.#checkMany(queries);
    // One query: one HMGET, which stays valid under Redis Cluster.
    return Promise.all(
      queries.map(async ({ number, scopes }) => {
        if (scopes.length === 0) return null;
        const values = await this.#redis.hmget(this.entriesKey(number), ...scopes);
        for (let i = 0; i < values.length; i++) {
          const json = values[i];
          if (json !== null && json !== undefined) return decodeEntry(number, scopes[i]!, json);
        }
        return null;
      }),
    );
  }

  /** Many queries, BATCH at a time per script call, all calls issued in this tick. */
  async #checkMany(queries: readonly OptOutQuery[]): Promise<Array<OptOutEntry | null>> {
    const calls: Array<Promise<unknown>> = [];
    for (let from = 0; from < queries.length; from += BATCH) {
      const slice = queries.slice(from, from + BATCH);
      const args: Array<string | number> = [];
      for (const q of slice) args.push(q.scopes.length, ...q.scopes);
      calls.push(
        runScript(
          this.#redis,
          OPT_OUT_CHECK_MANY,
          slice.map((q) => this.entriesKey(q.number)),
          args,
        ),
      );
    }
    const replies = await Promise.all(calls);
    const out: Array<OptOutEntry | null> = new Array(queries.length);
    for (let c = 0; c < replies.length; c++) {
      const reply = replies[c] as Array<number | string>;
      for (let k = 0; k * 2 < reply.length; k++) {
        const q = queries[c * BATCH + k]!;
        const found = Number(reply[2 * k]);
        out[c * BATCH + k] =
          found === 0 ? null : decodeEntry(q.number, q.scopes[found - 1]!, String(reply[2 * k + 1]));
      }
    }
    return out;
  }

  async add(entries: readonly OptOutEntry[]): Promise<boolean[]> {
    for (const e of entries) checkOptOutEntry(e);
    if (entries.length > 1) return this.#addMany(entries);
    // One script per entry (each touches its own number's slot), all issued in this tick; the
    // connection runs them in order, so a repeated entry in the batch answers true, then false.
    const replies = await Promise.all(
      entries.map((e) => {
        const json = encodeOptOutEntry(e);
        return runScript(
          this.#redis,
          OPT_OUT_ADD,
          [this.entriesKey(e.number), this.historyKey(e.number)],
          [e.scope, json, encodeOptOutEvent('opt_out', e.scope, json)],
        );
      }),
    );
    return replies.map((r) => r === 1);
  }

  /** Many entries, BATCH at a time per script call, in order, all calls issued in this tick. */
  async #addMany(entries: readonly OptOutEntry[]): Promise<boolean[]> {
    const calls: Array<Promise<unknown>> = [];
    for (let from = 0; from < entries.length; from += BATCH) {
      const keys: string[] = [];
      const args: string[] = [];
      for (let i = from; i < Math.min(entries.length, from + BATCH); i++) {
        const e = entries[i]!;
        const json = encodeOptOutEntry(e);
        keys.push(this.entriesKey(e.number), this.historyKey(e.number));
        args.push(e.scope, json, encodeOptOutEvent('opt_out', e.scope, json));
      }
      calls.push(runScript(this.#redis, OPT_OUT_ADD_MANY, keys, args));
    }
    const replies = await Promise.all(calls);
    return replies.flatMap((r) => (r as number[]).map((added) => added === 1));
  }

  async remove(items: readonly OptOutEntry[]): Promise<boolean[]> {
    for (const e of items) checkOptOutEntry(e);
    const replies = await Promise.all(
      items.map((e) =>
        runScript(
          this.#redis,
          OPT_OUT_REMOVE,
          [this.entriesKey(e.number), this.historyKey(e.number)],
          [e.scope, encodeOptOutEvent('opt_in', e.scope, encodeOptOutEntry(e))],
        ),
      ),
    );
    return replies.map((r) => r === 1);
  }

  async get(number: string): Promise<OptOutEntry[]> {
    checkOptOutNumber(number);
    const fields = await this.#redis.hgetall(this.entriesKey(number));
    return this.#entriesOf(number, fields);
  }

  async history(number: string, limit: number): Promise<OptOutEvent[]> {
    checkOptOutNumber(number);
    checkHistoryLimit(limit);
    // LRANGE -0 would be the whole list.
    if (limit === 0) return [];
    const events = await this.#redis.lrange(this.historyKey(number), -limit, -1);
    return events.map((json) => decodeEvent(number, json));
  }

  scan(scope: OptOutScope | null, pageSize: number): AsyncIterable<OptOutEntry[]> {
    // Checked now, not when the caller first pulls a page.
    if (scope !== null) parseScope(scope);
    checkPageSize(pageSize);
    return this.#pages(scope, pageSize);
  }

  async *#pages(scope: OptOutScope | null, pageSize: number): AsyncGenerator<OptOutEntry[]> {
    const redis = this.#redis;
    // COUNT is how many buckets of the whole keyspace one SCAN step visits, matching or not: a
    // step blocks the server while it runs, so it stays small whatever page size is asked for
    // (pages are filled over several steps).
    const count = Math.min(pageSize, MAX_SCAN_COUNT);
    const nextScan = (cursor: string): Promise<[string, string[]]> =>
      redis.scan(cursor, 'MATCH', this.#scanPattern, 'COUNT', count);
    let pending: Promise<[string, string[]]> | null = nextScan('0');
    let page: OptOutEntry[] = [];
    try {
      while (pending !== null) {
        const [cursor, keys]: [string, string[]] = await pending;
        // The next SCAN leaves with this step's reads: one round trip per step, not two.
        pending = cursor === '0' ? null : nextScan(cursor);
        const numbers = keys.map((k) => this.#numberOf(k)).filter((n): n is string => n !== null);
        if (scope === null) {
          const all = await Promise.all(numbers.map((n) => redis.hgetall(this.entriesKey(n))));
          for (let i = 0; i < numbers.length; i++) page.push(...this.#entriesOf(numbers[i]!, all[i]!));
        } else {
          const values = await Promise.all(numbers.map((n) => redis.hget(this.entriesKey(n), scope)));
          for (let i = 0; i < numbers.length; i++) {
            const json = values[i];
            if (json !== null && json !== undefined) page.push(decodeEntry(numbers[i]!, scope, json));
          }
        }
        if (page.length >= pageSize) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    } finally {
      // A caller that stops early leaves a SCAN in flight: its failure is nobody's to handle.
      pending?.catch(() => undefined);
    }
  }

  /** The number of an entries key, or null for a key under the pattern that is not one of ours. */
  #numberOf(key: string): string | null {
    if (!key.startsWith(this.#entriesHead) || !key.endsWith('}')) return null;
    const number = key.slice(this.#entriesHead.length, -1);
    return isOptOutNumber(number) ? number : null;
  }

  #entriesOf(number: string, fields: Record<string, string>): OptOutEntry[] {
    // Scopes were validated when written; the field names are trusted as such.
    return (Object.keys(fields) as OptOutScope[])
      .sort(compareScopes)
      .map((scope) => decodeEntry(number, scope, fields[scope]!));
  }
}
