/**
 * The opt-out list as the API manages it (OptOutApi): numbers normalised as intake does, scopes
 * parsed, each scope checked against what the API key may manage, then one store call. The store
 * is the last line of validation, not the first: what it would refuse is refused here as a 422
 * naming the field, and whatever else goes wrong in it is a 503 the client may retry.
 *
 * Who may manage what: a key allowed every sender ('*') manages every scope and may export the
 * whole list; any other key manages `sender:<S>` for each sender S it may use, and `program:<P>`
 * for each program one of those senders belongs to. Seeing follows managing: a key reads only the
 * entries and history of the scopes it manages.
 */
import type { Clock } from '../clock.js';
import type { SenderConfig } from '../config/types.js';
import { ApiError } from '../errors.js';
import { type Logger, maskNumber } from '../logger.js';
import type { Metrics } from '../metrics.js';
import {
  MAX_REASON_LENGTH,
  type OptOutEntry,
  type OptOutEvent,
  type OptOutScope,
  type OptOutStore,
  OptOutValidationError,
  parseScope,
} from '../policy/optouts.js';
import type { Account, OptOutApi, OptOutImportResult, OptOutImportRow } from './api.js';
import { unavailableOnFailure } from './gateway.js';
import { normalizeNumber } from './intake.js';

export interface OptOutServiceOptions {
  store: OptOutStore;
  /** The configured senders: which program each belongs to decides who manages `program:` scopes. */
  senders: readonly SenderConfig[];
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
}

/** Entries per page of an export: one store scan step, one chunk written to the client. */
export const EXPORT_PAGE_SIZE = 1000;
/**
 * Events read before filtering the history for a key that sees only some scopes: its `limit`
 * latest visible events are looked for among the number's latest this many (or `limit`, if more).
 */
const HISTORY_WINDOW = 1000;

/** The scopes a key manages: every one (null), or exactly these. */
type Managed = ReadonlySet<string> | null;

type CounterChild = ReturnType<Metrics['optOutChanges']['labels']>;

export class OptOutService implements OptOutApi {
  readonly #store: OptOutStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** Sender address → its program, for the senders that have one. */
  readonly #programs: ReadonlyMap<string, string>;
  /**
   * Per account, computed once: the HTTP layer hands the same frozen Account object to every
   * request of a key, and an import checks every row's scope against it.
   */
  readonly #managed = new WeakMap<Account, Managed>();
  readonly #apiOptOuts: CounterChild;
  readonly #apiOptIns: CounterChild;
  readonly #importOptOuts: CounterChild;

  constructor(options: OptOutServiceOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#logger = options.logger;
    const programs = new Map<string, string>();
    for (const s of options.senders) if (s.program !== null) programs.set(s.address, s.program);
    this.#programs = programs;
    const changes = options.metrics.optOutChanges;
    this.#apiOptOuts = changes.labels({ action: 'opt_out', source: 'api' });
    this.#apiOptIns = changes.labels({ action: 'opt_in', source: 'api' });
    this.#importOptOuts = changes.labels({ action: 'opt_out', source: 'import' });
  }

  async get(account: Account, number: string, scope: string | null): Promise<OptOutEntry[]> {
    const n = normalizeOptOutNumber(number);
    const only = scope === null ? null : this.#authorized(account, scope);
    const entries = await storeCall(() => this.#store.get(n));
    if (only !== null) return entries.filter((e) => e.scope === only);
    const managed = this.#managedBy(account);
    return managed === null ? entries : entries.filter((e) => managed.has(e.scope));
  }

  async put(
    account: Account,
    number: string,
    scope: string,
    reason: string | null,
  ): Promise<{ entry: OptOutEntry; created: boolean }> {
    const n = normalizeOptOutNumber(number);
    const s = this.#authorized(account, scope);
    checkReason(reason);
    const entry = apiEntry(n, s, this.#clock.now(), 'api', reason);
    const [created] = await storeCall(() => this.#store.add([entry]));
    if (created) {
      this.#apiOptOuts.inc();
      this.#logger.info({ account: account.name, number: maskNumber(n), scope: s }, 'opted out by the API');
      return { entry, created: true };
    }
    // The store kept the first entry (its time and source are what compliance asks for): answer
    // that one. Removed in between by someone else: ours is the best answer left.
    const existing = await storeCall(() => this.#store.get(n));
    return { entry: existing.find((e) => e.scope === s) ?? entry, created: false };
  }

  async remove(account: Account, number: string, scope: string, reason: string | null): Promise<boolean> {
    const n = normalizeOptOutNumber(number);
    const s = this.#authorized(account, scope);
    checkReason(reason);
    const [removed] = await storeCall(() =>
      this.#store.remove([apiEntry(n, s, this.#clock.now(), 'api', reason)]),
    );
    if (removed) {
      this.#apiOptIns.inc();
      this.#logger.info({ account: account.name, number: maskNumber(n), scope: s }, 'opted in by the API');
    }
    return removed === true;
  }

  async history(account: Account, number: string, limit: number): Promise<OptOutEvent[]> {
    const n = normalizeOptOutNumber(number);
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new ApiError(422, 'unprocessable', `limit must be a whole number of 0 or more, got ${limit}`, [
        { field: 'limit', message: 'must be a whole number of 0 or more' },
      ]);
    }
    if (limit === 0) return [];
    const managed = this.#managedBy(account);
    if (managed === null) return storeCall(() => this.#store.history(n, limit));
    const events = await storeCall(() => this.#store.history(n, Math.max(limit, HISTORY_WINDOW)));
    return events.filter((e) => managed.has(e.scope)).slice(-limit);
  }

  /**
   * Throws (422, 403) for a default scope that is malformed or not the key's, before looking at
   * any row: so a batch of no rows checks the default alone, without touching the store. A row
   * that is wrong is that row's result; the valid ones are written in one store call.
   */
  async importRows(
    account: Account,
    rows: readonly OptOutImportRow[],
    defaultScope: string,
  ): Promise<OptOutImportResult[]> {
    const fallback = this.#authorized(account, defaultScope);
    if (rows.length === 0) return [];
    const at = this.#clock.now();
    const results: OptOutImportResult[] = new Array(rows.length);
    const entries: OptOutEntry[] = [];
    const indexes: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      try {
        const n = normalizeOptOutNumber(row.number);
        const s = row.scope === null ? fallback : this.#authorized(account, row.scope);
        checkReason(row.reason);
        entries.push(apiEntry(n, s, at, 'import', row.reason));
        indexes.push(i);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        results[i] = { line: row.line, result: 'invalid', error: err.message };
      }
    }
    if (entries.length > 0) {
      const added = await storeCall(() => this.#store.add(entries));
      let count = 0;
      for (let k = 0; k < indexes.length; k++) {
        const i = indexes[k]!;
        const isNew = added[k] === true;
        if (isNew) count++;
        results[i] = {
          line: rows[i]!.line,
          result: isNew ? 'added' : 'already_opted_out',
          number: entries[k]!.number,
        };
      }
      if (count > 0) this.#importOptOuts.inc(count);
    }
    if (this.#logger.isLevelEnabled('debug')) {
      this.#logger.debug(
        { account: account.name, rows: rows.length, valid: entries.length },
        'opt-out import batch written',
      );
    }
    return results;
  }

  export(account: Account, scope: string | null): AsyncIterable<OptOutEntry[]> {
    // Checked now, so that the caller can answer 403/422 before it starts a response.
    let s: OptOutScope | null = null;
    if (scope !== null) s = this.#authorized(account, scope);
    else if (this.#managedBy(account) !== null) {
      throw new ApiError(
        403,
        'forbidden',
        `API key '${account.name}' may export one scope at a time; the whole list needs a key allowed every sender`,
        [{ field: 'scope', message: 'is required for this API key' }],
      );
    }
    const store = this.#store;
    return {
      [Symbol.asyncIterator]: () => pagesOf(() => store.scan(s, EXPORT_PAGE_SIZE)),
    };
  }

  /** The scope, parsed, if the key may manage it; else ApiError 422 or 403. */
  #authorized(account: Account, text: string): OptOutScope {
    const scope = scopeOf(text);
    const managed = this.#managedBy(account);
    if (managed !== null && !managed.has(scope)) {
      throw new ApiError(
        403,
        'forbidden',
        `API key '${account.name}' may not manage opt-outs in scope '${scope}'`,
        [{ field: 'scope', message: 'not allowed for this API key' }],
      );
    }
    return scope;
  }

  #managedBy(account: Account): Managed {
    let managed = this.#managed.get(account);
    if (managed === undefined) {
      if (account.senders.includes('*')) managed = null;
      else {
        const scopes = new Set<string>();
        for (const address of account.senders) {
          scopes.add(`sender:${address}`);
          const program = this.#programs.get(address);
          if (program !== undefined) scopes.add(`program:${program}`);
        }
        managed = scopes;
      }
      this.#managed.set(account, managed);
    }
    return managed;
  }
}

function apiEntry(
  number: string,
  scope: OptOutScope,
  at: number,
  source: 'api' | 'import',
  reason: string | null,
): OptOutEntry {
  return { number, scope, at, source, keyword: null, reason, sender: null };
}

/**
 * E.164 digits without '+', as intake normalises a recipient (and as the list stores numbers);
 * else a 422 naming `number`.
 */
export function normalizeOptOutNumber(input: string): string {
  try {
    return normalizeNumber(input);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    throw new ApiError(422, 'unprocessable', 'number is not a possible E.164 phone number', [
      { field: 'number', message: 'expected an E.164 number such as +447700900123' },
    ]);
  }
}

function scopeOf(text: string): OptOutScope {
  try {
    return parseScope(text);
  } catch (err) {
    throw err instanceof OptOutValidationError ? unprocessable(err) : err;
  }
}

function checkReason(reason: string | null): void {
  if (reason !== null && (reason.length === 0 || reason.length > MAX_REASON_LENGTH)) {
    throw new ApiError(422, 'unprocessable', `reason must be 1 to ${MAX_REASON_LENGTH} characters`, [
      { field: 'reason', message: `must be 1 to ${MAX_REASON_LENGTH} characters` },
    ]);
  }
}

function unprocessable(err: OptOutValidationError): ApiError {
  // The message is `${field} ${what is accepted}`: the field's entry repeats only the second part.
  return new ApiError(
    422,
    'unprocessable',
    err.message,
    [{ field: err.field, message: err.message.slice(err.field.length + 1) }],
    { cause: err },
  );
}

/**
 * A store call: what the store refuses as malformed is a 422 (the checks above should have caught
 * it first), any other failure a 503 with Retry-After.
 */
function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  return unavailableOnFailure(async () => {
    try {
      return await fn();
    } catch (err) {
      throw err instanceof OptOutValidationError ? unprocessable(err) : err;
    }
  });
}

/**
 * The store's pages, each step through storeCall: a store that fails in the middle of an export
 * throws the same 503 as anywhere else. Stopping early (the client went away) ends the scan.
 */
async function* pagesOf(scan: () => AsyncIterable<OptOutEntry[]>): AsyncGenerator<OptOutEntry[]> {
  const pages = (await storeCall(async () => scan()))[Symbol.asyncIterator]();
  let finished = false;
  try {
    while (true) {
      const step = await storeCall(() => pages.next());
      if (step.done === true) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    if (!finished) await pages.return?.().catch(() => undefined);
  }
}
