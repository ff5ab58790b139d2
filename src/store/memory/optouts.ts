/**
 * The do-not-contact list in this process's memory, for the embedded default. Same semantics as
 * the Redis store (one contract suite holds for both): entries are copied in and out, so a
 * caller never shares an object with the store, and get() orders by scope like Redis's reads do.
 */
import {
  checkHistoryLimit,
  checkOptOutEntry,
  checkOptOutNumber,
  checkPageSize,
  compareScopes,
  type OptOutAction,
  type OptOutEntry,
  type OptOutEvent,
  type OptOutQuery,
  type OptOutScope,
  type OptOutStore,
  parseScope,
} from '../../policy/optouts.js';

/** What is kept per entry: the number and the scope are the maps' keys. */
interface StoredEntry {
  readonly at: number;
  readonly source: OptOutEntry['source'];
  readonly keyword: string | null;
  readonly reason: string | null;
  readonly sender: string | null;
}

function stored(e: OptOutEntry): StoredEntry {
  return { at: e.at, source: e.source, keyword: e.keyword, reason: e.reason, sender: e.sender };
}

function entryOf(number: string, scope: OptOutScope, s: StoredEntry): OptOutEntry {
  return {
    number,
    scope,
    at: s.at,
    source: s.source,
    keyword: s.keyword,
    reason: s.reason,
    sender: s.sender,
  };
}

interface StoredEvent extends StoredEntry {
  readonly action: OptOutAction;
  readonly scope: OptOutScope;
}

export class MemoryOptOutStore implements OptOutStore {
  /** number → scope → entry. A number with no scope left is deleted, as Redis deletes an empty hash. */
  readonly #entries = new Map<string, Map<OptOutScope, StoredEntry>>();
  /** number → audit events, oldest first. Kept for ever, like the Redis list. */
  readonly #history = new Map<string, StoredEvent[]>();

  async check(queries: readonly OptOutQuery[]): Promise<Array<OptOutEntry | null>> {
    for (const q of queries) {
      checkOptOutNumber(q.number);
      for (const scope of q.scopes) parseScope(scope);
    }
    return queries.map(({ number, scopes }) => {
      const scoped = this.#entries.get(number);
      if (scoped === undefined) return null;
      for (const scope of scopes) {
        const s = scoped.get(scope);
        if (s !== undefined) return entryOf(number, scope, s);
      }
      return null;
    });
  }

  async add(entries: readonly OptOutEntry[]): Promise<boolean[]> {
    for (const e of entries) checkOptOutEntry(e);
    return entries.map((e) => {
      let scoped = this.#entries.get(e.number);
      if (scoped === undefined) {
        scoped = new Map();
        this.#entries.set(e.number, scoped);
      }
      const isNew = !scoped.has(e.scope);
      if (isNew) scoped.set(e.scope, stored(e));
      this.#audit('opt_out', e);
      return isNew;
    });
  }

  async remove(items: readonly OptOutEntry[]): Promise<boolean[]> {
    for (const e of items) checkOptOutEntry(e);
    return items.map((e) => {
      const scoped = this.#entries.get(e.number);
      const removed = scoped?.delete(e.scope) ?? false;
      if (scoped?.size === 0) this.#entries.delete(e.number);
      this.#audit('opt_in', e);
      return removed;
    });
  }

  async get(number: string): Promise<OptOutEntry[]> {
    checkOptOutNumber(number);
    const scoped = this.#entries.get(number);
    if (scoped === undefined) return [];
    return [...scoped.keys()].sort(compareScopes).map((scope) => entryOf(number, scope, scoped.get(scope)!));
  }

  async history(number: string, limit: number): Promise<OptOutEvent[]> {
    checkOptOutNumber(number);
    checkHistoryLimit(limit);
    const events = this.#history.get(number);
    if (events === undefined || limit === 0) return [];
    return events.slice(-limit).map((ev) => ({ action: ev.action, ...entryOf(number, ev.scope, ev) }));
  }

  scan(scope: OptOutScope | null, pageSize: number): AsyncIterable<OptOutEntry[]> {
    // Checked now, not when the caller first pulls a page.
    if (scope !== null) parseScope(scope);
    checkPageSize(pageSize);
    return this.#pages(scope, pageSize);
  }

  async *#pages(scope: OptOutScope | null, pageSize: number): AsyncGenerator<OptOutEntry[]> {
    let page: OptOutEntry[] = [];
    // Map iteration sees entries added after it began and skips deleted ones, so a caller that
    // writes between pages gets the same "present for the whole scan" guarantee as from Redis.
    for (const [number, scoped] of this.#entries) {
      if (scope === null) {
        for (const [sc, s] of scoped) page.push(entryOf(number, sc, s));
      } else {
        const s = scoped.get(scope);
        if (s !== undefined) page.push(entryOf(number, scope, s));
      }
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  #audit(action: OptOutAction, e: OptOutEntry): void {
    let events = this.#history.get(e.number);
    if (events === undefined) {
      events = [];
      this.#history.set(e.number, events);
    }
    events.push({ action, scope: e.scope, ...stored(e) });
  }
}
