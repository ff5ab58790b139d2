/**
 * The opt-out routes (/v1/optouts/…), on the server's machinery (RouteKit: exchanges, problems,
 * authentication, metrics per route). Two of them stream, and so do not fit the server's
 * read-whole-body-then-answer shape:
 *
 * - the import (POST /v1/optouts/import) reads CSV chunk by chunk as uWS delivers it, through the
 *   push parser, into batches of IMPORT_BATCH_ROWS rows written one after another. Once
 *   PAUSE_AT_BATCHES batches wait for the store, the request body is paused (res.pause), and it
 *   is resumed only once every waiting batch has gone to the store: each resume lets in what uWS
 *   reads at once (up to a receive buffer of 512 KiB, about 17 batches of short rows), so resuming
 *   while batches still waited would let the queue grow by a read per batch written (a 1,000,000
 *   row import held the whole file: 640 MB). Memory stays bounded by a few batches plus one read,
 *   however large the file and however slow the store.
 * - the export (GET /v1/optouts/export) writes the store's scan page by page. A write that uWS
 *   had to buffer (res.write returned false) waits for onWritable before the next page is even
 *   read, so a slow reader holds at most about two pages in memory; a client that goes away stops
 *   the scan.
 *
 * Without an OptOutApi (the option is absent) every opt-out route answers 404.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Account, OptOutApi, OptOutImportResult, OptOutImportRow } from '../core/api.js';
import { normalizeOptOutNumber } from '../core/optout-api.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import { CsvParser, type CsvRow, csvLine } from '../policy/csv.js';
import type { OptOutEntry, OptOutEvent } from '../policy/optouts.js';
import { type FieldError, PROBLEM, type Problem, problem, statusLine } from './problems.js';
import { on, ROUTE, ROUTES } from './routes.js';
import type { BodyHandler, Exchange, IdempotencyUse, RouteStats } from './server.js';
import {
  checkScopeParam,
  optionalReasonParam,
  parseHistoryLimit,
  parseOptOutPut,
  parseQuery,
} from './validate.js';

/** What the server lends these routes: the same functions its own routes use. */
export interface RouteKit {
  readonly logger: Logger;
  statsFor(route: string): RouteStats;
  /** Starts an exchange; it counts as in flight until answered, aborted or settled. */
  begin(res: HttpResponse, stats: RouteStats): Exchange;
  /** Counts an exchange once (status, duration) and ends its time in flight. */
  settle(ex: Exchange, status: number): void;
  send(
    ex: Exchange,
    status: number,
    contentType: string,
    body: string,
    headerName?: string,
    headerValue?: string,
    closeConnection?: boolean,
  ): void;
  sendProblem(ex: Exchange, p: Problem, headerName?: string, headerValue?: string, close?: boolean): void;
  /** An exception as its problem (ApiError) or a logged 500; `close` when the body is not all read. */
  fail(ex: Exchange, err: unknown, close?: boolean): void;
  /** The client went away: marks the exchange done and counts it. */
  abort(ex: Exchange): void;
  authorize(ex: Exchange, authorization: string, close: boolean): Account | null;
  beginJson(
    res: HttpResponse,
    req: HttpRequest,
    stats: RouteStats,
    onBody: BodyHandler,
    idempotency: IdempotencyUse,
  ): void;
  isClosing(): boolean;
}

/** 256 MiB: a million rows with reasons fit several times over. */
export const DEFAULT_IMPORT_MAX_BYTES = 256 * 1024 * 1024;
/** Rows per OptOutApi.importRows call (its contract asks for about 1,000). */
export const IMPORT_BATCH_ROWS = 1000;
/** Batches waiting for the store at which the request body is paused. */
const PAUSE_AT_BATCHES = 2;
/** Invalid rows listed in an import's `errors` (all are counted in `invalid`). */
export const MAX_REPORTED_ERRORS = 1000;
/**
 * A field's bytes: a reason of 500 UTF-16 code units is at most 1,500 bytes of UTF-8; longer is
 * refused by the parser before it is buffered.
 */
const MAX_FIELD_BYTES = 2048;
/** Fields of a record: a header may name the export's seven columns and a few of the client's. */
const MAX_FIELDS = 16;
/**
 * An answer before the body is read keeps the connection only for a body this small, which uWS
 * then reads and skips; a larger one is not worth reading to throw away, so the connection closes.
 */
const SKIP_BODY_BYTES = 64 * 1024;

const JSON_TYPE = 'application/json';
const PROBLEM_TYPE = 'application/problem+json';
const CSV_TYPE = 'text/csv; charset=utf-8';
export const EXPORT_COLUMNS = ['number', 'scope', 'at', 'source', 'keyword', 'reason', 'sender'] as const;
const EXPORT_HEADER = csvLine(EXPORT_COLUMNS);

const NO_PARAMS: ReadonlySet<string> = new Set();
const SCOPE_PARAM: ReadonlySet<string> = new Set(['scope']);
const DELETE_PARAMS: ReadonlySet<string> = new Set(['scope', 'reason']);
const HISTORY_PARAMS: ReadonlySet<string> = new Set(['limit']);
const IMPORT_PARAMS: ReadonlySet<string> = new Set(['scope', 'report']);

// --- rendering -------------------------------------------------------------------------------------

export interface RenderedOptOut {
  number: string;
  scope: string;
  at: string;
  source: string;
  keyword: string | null;
  reason: string | null;
  sender: string | null;
}

export interface RenderedOptOutEvent extends RenderedOptOut {
  action: string;
}

export function renderOptOut(e: OptOutEntry): RenderedOptOut {
  return {
    number: e.number,
    scope: e.scope,
    at: new Date(e.at).toISOString(),
    source: e.source,
    keyword: e.keyword,
    reason: e.reason,
    sender: e.sender,
  };
}

export function renderOptOutEvent(e: OptOutEvent): RenderedOptOutEvent {
  return { action: e.action, ...renderOptOut(e) };
}

/** A page of entries as CSV lines, in EXPORT_COLUMNS order; null as an empty field. */
export function exportLines(page: readonly OptOutEntry[]): string {
  let text = '';
  for (const e of page) {
    text += csvLine([
      e.number,
      e.scope,
      new Date(e.at).toISOString(),
      e.source,
      e.keyword ?? '',
      e.reason ?? '',
      e.sender ?? '',
    ]);
  }
  return text;
}

// --- the routes ------------------------------------------------------------------------------------

function badRequest(errors: readonly FieldError[]): Problem {
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  return problem(400, PROBLEM.invalidRequest, `request does not match the schema: ${detail}`, errors);
}

/** The {number} segment, percent-decoded ('%2B44…' is '+44…'); left as sent when it cannot be. */
function numberParam(req: HttpRequest): string {
  const raw = req.getParameter(0) ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** text/csv, with no charset or UTF-8's. */
function isCsvMediaType(contentType: string): boolean {
  const [type, ...params] = contentType.split(';');
  if (type!.trim().toLowerCase() !== 'text/csv') return false;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq === -1 || p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = p
      .slice(eq + 1)
      .trim()
      .replaceAll('"', '')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return false;
  }
  return true;
}

/**
 * Registers the opt-out routes on `app`; without an OptOutApi, each answers 404 (the paths stay
 * known, so the other methods on them are still 405s).
 */
export function registerOptOutRoutes(
  app: TemplatedApp,
  kit: RouteKit,
  api: OptOutApi | undefined,
  importMaxBytes: number,
): void {
  if (api !== undefined) {
    new OptOutRoutes(kit, api, importMaxBytes).register(app);
    return;
  }
  const body = JSON.stringify(
    problem(404, PROBLEM.notFound, 'the opt-out API is not enabled on this server'),
  );
  for (const r of ROUTES) {
    if (!r.template.startsWith('/v1/optouts/')) continue;
    const s = kit.statsFor(r.template);
    on(app, r.method, r.template, (res) => kit.send(kit.begin(res, s), 404, PROBLEM_TYPE, body));
  }
}

/** What a route without a body has read once authenticated: the account and the query's parameters. */
interface Started {
  account: Account;
  params: Map<string, string>;
  errors: FieldError[];
}

/**
 * The handlers. Each route handler reads what it needs from the request (uWS frees it when the
 * handler returns), answers what it can at once, and leaves the waiting to an async method.
 */
class OptOutRoutes {
  readonly #kit: RouteKit;
  readonly #api: OptOutApi;
  readonly #importMaxBytes: number;
  readonly #optoutStats: RouteStats;
  readonly #historyStats: RouteStats;
  readonly #importStats: RouteStats;
  readonly #exportStats: RouteStats;

  constructor(kit: RouteKit, api: OptOutApi, importMaxBytes: number) {
    this.#kit = kit;
    this.#api = api;
    this.#importMaxBytes = importMaxBytes;
    this.#optoutStats = kit.statsFor(ROUTE.optout);
    this.#historyStats = kit.statsFor(ROUTE.optoutHistory);
    this.#importStats = kit.statsFor(ROUTE.optoutImport);
    this.#exportStats = kit.statsFor(ROUTE.optoutExport);
  }

  register(app: TemplatedApp): void {
    on(app, 'get', ROUTE.optout, (res, req) => this.#get(res, req));
    on(app, 'put', ROUTE.optout, (res, req) => this.#put(res, req));
    on(app, 'delete', ROUTE.optout, (res, req) => this.#delete(res, req));
    on(app, 'get', ROUTE.optoutHistory, (res, req) => this.#history(res, req));
    on(app, 'post', ROUTE.optoutImport, (res, req) => this.#import(res, req));
    on(app, 'get', ROUTE.optoutExport, (res, req) => this.#export(res, req));
  }

  /** Authenticates and reads the query; null once answered (401, 503 while closing). */
  #start(ex: Exchange, req: HttpRequest, allowed: ReadonlySet<string>): Started | null {
    const authorization = req.getHeader('authorization');
    const query = req.getQuery() ?? '';
    const account = this.#kit.authorize(ex, authorization, false);
    if (account === null) return null;
    const errors: FieldError[] = [];
    const params = parseQuery(query, allowed, errors);
    return { account, params, errors };
  }

  /** Answers 400 when the parameters are wrong; else the response will wait, so it takes onAborted. */
  #ready(ex: Exchange, errors: readonly FieldError[]): boolean {
    if (errors.length > 0) {
      this.#kit.sendProblem(ex, badRequest(errors));
      return false;
    }
    ex.res.onAborted(() => this.#kit.abort(ex));
    return true;
  }

  // --- GET /v1/optouts/{number} ------------------------------------------------------------------

  #get(res: HttpResponse, req: HttpRequest): void {
    const ex = this.#kit.begin(res, this.#optoutStats);
    const number = numberParam(req);
    const started = this.#start(ex, req, SCOPE_PARAM);
    if (started === null) return;
    const scope = started.params.get('scope');
    if (scope !== undefined) checkScopeParam(scope, 'scope', started.errors);
    if (this.#ready(ex, started.errors)) void this.#answerGet(ex, started.account, number, scope ?? null);
  }

  async #answerGet(ex: Exchange, account: Account, number: string, scope: string | null): Promise<void> {
    try {
      const entries = await this.#api.get(account, number, scope);
      const body = {
        number: normalizeOptOutNumber(number),
        optedOut: entries.length > 0,
        entries: entries.map(renderOptOut),
      };
      this.#kit.send(ex, 200, JSON_TYPE, JSON.stringify(body));
    } catch (err) {
      this.#kit.fail(ex, err);
    }
  }

  // --- PUT /v1/optouts/{number} ------------------------------------------------------------------

  #put(res: HttpResponse, req: HttpRequest): void {
    const number = numberParam(req);
    const query = req.getQuery() ?? '';
    const onBody: BodyHandler = (ex, value) => {
      const errors: FieldError[] = [];
      parseQuery(query, NO_PARAMS, errors);
      const request = parseOptOutPut(value, errors);
      if (request === null || errors.length > 0) this.#kit.sendProblem(ex, badRequest(errors));
      else void this.#answerPut(ex, number, request.scope, request.reason);
    };
    this.#kit.beginJson(res, req, this.#optoutStats, onBody, 'ignore');
  }

  async #answerPut(ex: Exchange, number: string, scope: string, reason: string | null): Promise<void> {
    try {
      const { entry, created } = await this.#api.put(ex.account!, number, scope, reason);
      this.#kit.send(ex, created ? 201 : 200, JSON_TYPE, JSON.stringify(renderOptOut(entry)));
    } catch (err) {
      this.#kit.fail(ex, err);
    }
  }

  // --- DELETE /v1/optouts/{number} ---------------------------------------------------------------

  #delete(res: HttpResponse, req: HttpRequest): void {
    const ex = this.#kit.begin(res, this.#optoutStats);
    const number = numberParam(req);
    const started = this.#start(ex, req, DELETE_PARAMS);
    if (started === null) return;
    const { params, errors } = started;
    const scope = params.get('scope');
    // Required here, unlike on PUT: lifting a global opt-out by default would be too easy a mistake.
    if (scope === undefined) errors.push({ field: 'scope', message: 'is required' });
    else checkScopeParam(scope, 'scope', errors);
    const reason = optionalReasonParam(params.get('reason'), errors);
    if (this.#ready(ex, errors)) void this.#answerDelete(ex, started.account, number, scope!, reason);
  }

  async #answerDelete(
    ex: Exchange,
    account: Account,
    number: string,
    scope: string,
    reason: string | null,
  ): Promise<void> {
    try {
      if (await this.#api.remove(account, number, scope, reason)) this.#kit.send(ex, 204, JSON_TYPE, '');
      else {
        const p = problem(404, PROBLEM.notFound, `the number is not opted out in scope '${scope}'`);
        this.#kit.sendProblem(ex, p);
      }
    } catch (err) {
      this.#kit.fail(ex, err);
    }
  }

  // --- GET /v1/optouts/{number}/history ----------------------------------------------------------

  #history(res: HttpResponse, req: HttpRequest): void {
    const ex = this.#kit.begin(res, this.#historyStats);
    const number = numberParam(req);
    const started = this.#start(ex, req, HISTORY_PARAMS);
    if (started === null) return;
    const limit = parseHistoryLimit(started.params.get('limit'), started.errors);
    if (this.#ready(ex, started.errors)) void this.#answerHistory(ex, started.account, number, limit);
  }

  async #answerHistory(ex: Exchange, account: Account, number: string, limit: number): Promise<void> {
    try {
      const events = await this.#api.history(account, number, limit);
      const body = { number: normalizeOptOutNumber(number), events: events.map(renderOptOutEvent) };
      this.#kit.send(ex, 200, JSON_TYPE, JSON.stringify(body));
    } catch (err) {
      this.#kit.fail(ex, err);
    }
  }

  // --- POST /v1/optouts/import -------------------------------------------------------------------

  #import(res: HttpResponse, req: HttpRequest): void {
    const kit = this.#kit;
    const ex = kit.begin(res, this.#importStats);
    const authorization = req.getHeader('authorization');
    const contentType = req.getHeader('content-type');
    const contentLength = req.getHeader('content-length');
    const query = req.getQuery() ?? '';
    const declared = contentLength === '' ? -1 : Number(contentLength);
    const closeEarly = !(declared >= 0 && declared <= SKIP_BODY_BYTES);

    const account = kit.authorize(ex, authorization, closeEarly);
    if (account === null) return;
    if (!isCsvMediaType(contentType)) {
      const p = problem(
        415,
        PROBLEM.unsupportedMediaType,
        'send the rows as Content-Type: text/csv (UTF-8): number[,scope[,reason]] per line',
      );
      kit.sendProblem(ex, p, '', '', closeEarly);
      return;
    }
    if (declared > this.#importMaxBytes) {
      kit.sendProblem(ex, tooLarge(this.#importMaxBytes), '', '', true);
      return;
    }
    const errors: FieldError[] = [];
    const params = parseQuery(query, IMPORT_PARAMS, errors);
    const scope = params.get('scope') ?? 'global';
    checkScopeParam(scope, 'scope', errors);
    const report = params.get('report') ?? 'errors';
    if (report !== 'errors' && report !== 'rows') {
      errors.push({ field: 'report', message: 'must be errors or rows' });
    }
    if (errors.length > 0) {
      kit.sendProblem(ex, badRequest(errors), '', '', closeEarly);
      return;
    }
    const job = new ImportJob(kit, this.#api, ex, account, scope, report === 'rows', this.#importMaxBytes);
    res.onAborted(() => kit.abort(ex));
    res.onData((chunk, isLast) => job.receive(chunk, isLast));
    job.pump();
  }

  // --- GET /v1/optouts/export --------------------------------------------------------------------

  #export(res: HttpResponse, req: HttpRequest): void {
    const ex = this.#kit.begin(res, this.#exportStats);
    const started = this.#start(ex, req, SCOPE_PARAM);
    if (started === null) return;
    const scope = started.params.get('scope');
    if (scope !== undefined) checkScopeParam(scope, 'scope', started.errors);
    if (started.errors.length > 0) {
      this.#kit.sendProblem(ex, badRequest(started.errors));
      return;
    }
    let pages: AsyncIterator<OptOutEntry[]>;
    try {
      // export() checks the scope and the key's right to it before it returns.
      pages = this.#api.export(started.account, scope ?? null)[Symbol.asyncIterator]();
    } catch (err) {
      this.#kit.fail(ex, err);
      return;
    }
    const job = new ExportJob(this.#kit, ex, pages);
    res.onAborted(() => job.abort());
    res.onWritable(() => job.writable());
    void job.run();
  }
}

function tooLarge(max: number): Problem {
  return problem(
    413,
    PROBLEM.payloadTooLarge,
    `an import is at most ${max} bytes; split the file (importing a row again is harmless)`,
  );
}

// --- the import ------------------------------------------------------------------------------------

/** A row that is invalid before the core sees it: unreadable CSV, or more fields than there are columns. */
interface RowProblem {
  line: number;
  error: string;
}

type ImportItem = OptOutImportRow | RowProblem;

/** Where the columns are: positional (number, scope, reason) unless a header row names them. */
interface Columns {
  count: number;
  scope: number;
  reason: number;
  what: string;
}

const POSITIONAL: Columns = { count: 3, scope: 1, reason: 2, what: 'number,scope,reason' };
/** Header names the import reads; the export's other columns are accepted and ignored. */
const READ_COLUMNS = ['number', 'scope', 'reason'];
const IGNORED_COLUMNS = EXPORT_COLUMNS.filter((c) => !READ_COLUMNS.includes(c));
const KNOWN_COLUMNS: ReadonlySet<string> = new Set(EXPORT_COLUMNS);

/** A header row's columns, or the problem with it (a misspelt 'scope' would import every row globally). */
function headerColumns(fields: readonly string[]): Columns | Problem {
  const names = fields.map((f) => f.trim().toLowerCase());
  const errors: FieldError[] = [];
  names.forEach((name, i) => {
    if (!KNOWN_COLUMNS.has(name)) {
      errors.push({
        field: `header column ${i + 1}`,
        message: `'${fields[i]}' is not a column: use ${READ_COLUMNS.join(', ')} (${IGNORED_COLUMNS.join(', ')} are read and ignored)`,
      });
    } else if (names.indexOf(name) !== i) {
      errors.push({ field: `header column ${i + 1}`, message: `'${name}' is named twice` });
    }
  });
  if (errors.length > 0) return badRequest(errors);
  return {
    count: names.length,
    scope: names.indexOf('scope'),
    reason: names.indexOf('reason'),
    what: names.join(','),
  };
}

/**
 * One import from its first chunk to its answer. Batches are written one at a time, in order (a
 * number twice in the file is added, then already opted out); the first "batch" is empty, so that
 * the default scope is checked (422, 403) before any row is written.
 */
class ImportJob {
  readonly #kit: RouteKit;
  readonly #api: OptOutApi;
  readonly #ex: Exchange;
  readonly #account: Account;
  readonly #defaultScope: string;
  readonly #reportRows: boolean;
  readonly #maxBytes: number;
  readonly #parser = new CsvParser({ maxFieldBytes: MAX_FIELD_BYTES, maxFields: MAX_FIELDS });
  /** Named by the header row; null: positional (no header, or not read yet). */
  #columns: Columns | null = null;
  #firstRow = true;
  #current: ImportItem[] = [];
  readonly #queue: ImportItem[][] = [[]];
  #received = 0;
  /** The whole body was read (and parsed). */
  #ended = false;
  #running = false;
  #paused = false;
  /**
   * Body chunks (copies) that arrived while PAUSE_AT_BATCHES batches already waited, parsed only
   * as the store takes the batches: kept as bytes, a waiting row costs its CSV (~30 bytes), not a
   * parsed row object (~600 bytes).
   */
  readonly #raw: Buffer[] = [];
  /** The body's last chunk is among #raw. */
  #lastInRaw = false;
  #rows = 0;
  #added = 0;
  #already = 0;
  #invalid = 0;
  readonly #errors: RowProblem[] = [];
  /** report=rows: each batch's results as JSON array items (no brackets), joined once at the end. */
  readonly #results: string[] = [];

  constructor(
    kit: RouteKit,
    api: OptOutApi,
    ex: Exchange,
    account: Account,
    defaultScope: string,
    reportRows: boolean,
    maxBytes: number,
  ) {
    this.#kit = kit;
    this.#api = api;
    this.#ex = ex;
    this.#account = account;
    this.#defaultScope = defaultScope;
    this.#reportRows = reportRows;
    this.#maxBytes = maxBytes;
  }

  receive(chunk: ArrayBuffer, isLast: boolean): void {
    const ex = this.#ex;
    // uWS goes on delivering a body after an early answer until the client stops sending.
    if (ex.done) return;
    this.#received += chunk.byteLength;
    if (this.#received > this.#maxBytes) {
      this.#kit.sendProblem(ex, tooLarge(this.#maxBytes), '', '', true);
      return;
    }
    if (this.#raw.length > 0 || this.#queue.length >= PAUSE_AT_BATCHES) {
      // The store is behind. uWS is asked to stop reading (below), but this uWS build goes on
      // delivering a busy process's body regardless (measured: a whole 30 MB import arrived while
      // paused), so what comes meanwhile waits as bytes. A copy: uWS reuses the chunk's memory.
      this.#raw.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) this.#lastInRaw = true;
    } else {
      this.#parse(new Uint8Array(chunk), isLast);
    }
    if (ex.done) return;
    // uWS may deliver what it had already read after pause(), and each chunk re-arms its idle
    // timeout (10 s), which pause() had disabled: pausing again disables it again, so a store
    // slower than that does not cut the connection of a client that is only waiting.
    if (!isLast && (this.#paused || this.#queue.length >= PAUSE_AT_BATCHES)) {
      this.#paused = true;
      ex.res.pause();
    }
    this.pump();
  }

  /** Rows of one chunk into batches; the parser copies what it keeps. */
  #parse(chunk: Uint8Array, isLast: boolean): void {
    for (const row of this.#parser.push(chunk)) this.#take(row);
    if (isLast) {
      for (const row of this.#parser.end()) this.#take(row);
      this.#ended = true;
      if (this.#current.length > 0) this.#queue.push(this.#current);
      this.#current = [];
    }
  }

  /** Parses waiting bytes until a batch is ready for the store (or none are left). */
  #refill(): void {
    while (this.#queue.length === 0 && this.#raw.length > 0 && !this.#ex.done) {
      const chunk = this.#raw.shift()!;
      this.#parse(chunk, this.#raw.length === 0 && this.#lastInRaw);
    }
  }

  pump(): void {
    if (!this.#running) void this.#run();
  }

  #take(row: CsvRow): void {
    if (this.#ex.done) return;
    const first = this.#firstRow;
    this.#firstRow = false;
    if (row.error !== undefined) {
      this.#push({ line: row.line, error: row.error });
      return;
    }
    const fields = row.fields;
    if (first && fields[0]!.trim().toLowerCase() === 'number') {
      const columns = headerColumns(fields);
      if ('status' in columns) this.#kit.sendProblem(this.#ex, columns, '', '', !this.#ended);
      else this.#columns = columns;
      return;
    }
    const columns = this.#columns ?? POSITIONAL;
    if (fields.length > columns.count) {
      this.#push({
        line: row.line,
        error: `${fields.length} fields, but the columns are ${columns.what}: quote a field that holds a comma`,
      });
      return;
    }
    const scope = columns.scope >= 0 ? (fields[columns.scope]?.trim() ?? '') : '';
    const reason = columns.reason >= 0 ? (fields[columns.reason] ?? '') : '';
    this.#push({
      line: row.line,
      number: fields[0]!.trim(),
      scope: scope === '' ? null : scope,
      reason: reason === '' ? null : reason,
    });
  }

  #push(item: ImportItem): void {
    this.#current.push(item);
    if (this.#current.length >= IMPORT_BATCH_ROWS) {
      this.#queue.push(this.#current);
      this.#current = [];
    }
  }

  async #run(): Promise<void> {
    const ex = this.#ex;
    this.#running = true;
    try {
      for (;;) {
        this.#refill();
        if (this.#queue.length === 0 || ex.done) {
          // Everything read is parsed and written (a last partial batch waits in #current for
          // more rows): reading must go on, or nothing would ever come to finish it.
          if (this.#paused && !ex.done) {
            this.#paused = false;
            ex.res.resume();
          }
          break;
        }
        const batch = this.#queue.shift()!;
        if (this.#paused && this.#queue.length === 0 && this.#raw.length === 0) {
          this.#paused = false;
          ex.res.resume();
        }
        await this.#write(batch);
      }
      if (this.#ended && !ex.done) this.#answer();
    } catch (err) {
      // Batches written before stay written: importing the file again is safe.
      this.#kit.fail(ex, err, !this.#ended);
    } finally {
      this.#running = false;
    }
  }

  async #write(batch: readonly ImportItem[]): Promise<void> {
    const rows: OptOutImportRow[] = [];
    for (const item of batch) if (!('error' in item)) rows.push(item);
    const results = await this.#api.importRows(this.#account, rows, this.#defaultScope);
    if (results.length !== rows.length) {
      throw new Error(`importRows answered ${results.length} results for ${rows.length} rows`);
    }
    const report: OptOutImportResult[] | null = this.#reportRows ? [] : null;
    let k = 0;
    for (const item of batch) {
      const r: OptOutImportResult =
        'error' in item ? { line: item.line, result: 'invalid', error: item.error } : results[k++]!;
      this.#rows++;
      if (r.result === 'invalid') {
        this.#invalid++;
        if (this.#errors.length < MAX_REPORTED_ERRORS) this.#errors.push({ line: r.line, error: r.error });
      } else if (r.result === 'added') this.#added++;
      else this.#already++;
      report?.push(r);
    }
    if (report !== null && report.length > 0) this.#results.push(JSON.stringify(report).slice(1, -1));
  }

  #answer(): void {
    const head =
      `{"rows":${this.#rows},"added":${this.#added},"alreadyOptedOut":${this.#already},` +
      `"invalid":${this.#invalid},"errors":${JSON.stringify(this.#errors)}`;
    const body = this.#reportRows ? `${head},"results":[${this.#results.join(',')}]}` : `${head}}`;
    this.#kit.logger.info(
      {
        route: this.#ex.stats.route,
        account: this.#account.name,
        rows: this.#rows,
        added: this.#added,
        invalid: this.#invalid,
      },
      'opt-out import finished',
    );
    this.#kit.send(this.#ex, 200, JSON_TYPE, body);
  }
}

// --- the export ------------------------------------------------------------------------------------

/**
 * One export: pages from the core written as CSV. The status line goes out with the first page,
 * so a store that fails before it is still a problem document; one that fails later can only cut
 * the connection (the chunked body then lacks its last chunk, which clients report as an error).
 */
class ExportJob {
  readonly #kit: RouteKit;
  readonly #ex: Exchange;
  readonly #pages: AsyncIterator<OptOutEntry[]>;
  #started = false;
  #wake: (() => void) | null = null;

  constructor(kit: RouteKit, ex: Exchange, pages: AsyncIterator<OptOutEntry[]>) {
    this.#kit = kit;
    this.#ex = ex;
    this.#pages = pages;
  }

  async run(): Promise<void> {
    const ex = this.#ex;
    let finished = false;
    try {
      let step = await this.#pages.next();
      while (step.done !== true) {
        if (ex.done) return;
        // Buffered rather than sent: wait until uWS has sent it before reading the next page.
        if (!this.#write(exportLines(step.value))) await this.#drained();
        if (ex.done) return;
        step = await this.#pages.next();
      }
      finished = true;
      this.#end();
    } catch (err) {
      finished = true;
      if (!this.#started) this.#kit.fail(ex, err);
      else this.#breakOff(err);
    } finally {
      // Stopped early (the client went away): end the store's scan.
      if (!finished) await this.#pages.return?.().catch(() => undefined);
    }
  }

  /** onWritable: uWS can take more. Nothing is written here; the next page is written by run(). */
  writable(): boolean {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    return true;
  }

  abort(): void {
    this.#kit.abort(this.#ex);
    this.writable();
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  /** Writes a chunk (after the head, the first time); false when uWS had to buffer it. */
  #write(text: string): boolean {
    const res = this.#ex.res;
    let ok = false;
    res.cork(() => {
      if (!this.#started) {
        this.#started = true;
        res.writeStatus(statusLine(200));
        res.writeHeader('Content-Type', CSV_TYPE);
        ok = res.write(EXPORT_HEADER + text);
      } else {
        ok = res.write(text);
      }
    });
    return ok;
  }

  #end(): void {
    const ex = this.#ex;
    if (ex.done) return;
    ex.done = true;
    const res = ex.res;
    const close = this.#kit.isClosing();
    res.cork(() => {
      if (this.#started) res.end('', close);
      else {
        // Nothing to export: the header line alone, with a Content-Length.
        res.writeStatus(statusLine(200));
        res.writeHeader('Content-Type', CSV_TYPE);
        res.end(EXPORT_HEADER, close);
      }
    });
    this.#kit.settle(ex, 200);
  }

  /** A failure after the head was sent: logged, counted with its status, the connection cut. */
  #breakOff(err: unknown): void {
    const ex = this.#ex;
    if (ex.done) return;
    ex.done = true;
    const status = err instanceof ApiError && err.status >= 400 && err.status <= 599 ? err.status : 500;
    this.#kit.logger.error({ err, route: ex.stats.route }, 'export failed after it began; connection closed');
    this.#kit.settle(ex, status);
    // Runs onAborted at once, which finds the exchange done.
    ex.res.close();
  }
}
