/**
 * The HTTP API on uWebSockets.js. Thin: read the request, authenticate, check the body's shape, call
 * the core, render. The rules uWS imposes shape the code:
 * - the HttpRequest lives only during the route handler, so every header is read before anything
 *   waits;
 * - a response not finished inside the handler needs onAborted, and nothing may touch it once it was
 *   aborted or ended (uWS throws): every write goes through `send`, which checks one `done` flag set by both;
 * - writes outside the handler must be corked, so they leave in one syscall.
 * Per request there is one Exchange object and, for routes that wait, the two callbacks uWS asks
 * for (onAborted, onData); everything else (headers, status lines, metric children) is made once.
 */

import {
  App,
  type HttpRequest,
  type HttpResponse,
  type us_listen_socket,
  us_listen_socket_close,
  us_socket_local_port,
} from 'uWebSockets.js';
import { isUtf8 } from 'node:buffer';
import type { ApiKeyConfig, HttpConfig } from '../config/types.js';
import type { Account, GatewayApi, OptOutApi, SubmitRequest } from '../core/api.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createKeyTable } from './auth.js';
import { DEFAULT_IMPORT_MAX_BYTES, type RouteKit, registerOptOutRoutes } from './optouts.js';
import {
  type FieldError,
  internalProblem,
  MAX_LISTED_ERRORS,
  PROBLEM,
  type Problem,
  problem,
  problemFromApiError,
  statusLine,
} from './problems.js';
import { renderMessage, renderPreview } from './render.js';
import {
  allowHeader,
  answersHead,
  HTTP_METHODS,
  headAware,
  isHeadRequest,
  on,
  ROUTE,
  ROUTES,
  type RouteTemplate,
  UNMATCHED_ROUTE,
  uwsPattern,
} from './routes.js';
import {
  type BatchShape,
  isValidIdempotencyKey,
  parseBatch,
  parseSegmentsRequest,
  parseSubmitRequest,
} from './validate.js';

export interface HttpServerOptions {
  api: GatewayApi;
  apiKeys: readonly ApiKeyConfig[];
  metrics: Metrics;
  logger: Logger;
  config: HttpConfig;
  /** True once the process is shutting down: /readyz answers 503 so load balancers drain it. */
  isShuttingDown?: () => boolean;
  /** The opt-out list's API (/v1/optouts/…); absent: those routes answer 404. */
  optouts?: OptOutApi;
  /**
   * Serve the API (/v1/…); default true. False for a dispatch-role process: only /healthz,
   * /readyz and /metrics, and 404 for the rest.
   */
  serveApi?: boolean;
  /**
   * Listen with SO_REUSEPORT (the default): other processes that also ask for it may listen on the
   * same port and the kernel spreads connections among them (several api processes on one
   * Redis). False takes the port alone: listening fails while any other socket holds it, and no
   * later process can share it (the memory store, whose messages no other process can see, and a
   * dispatch process, which would answer its share of API requests 404).
   */
  sharePort?: boolean;
  /**
   * Most bytes of one opt-out import (POST /v1/optouts/import), which is streamed rather than
   * buffered and so has its own limit, not maxBodyBytes. Default 256 MiB.
   */
  optoutImportMaxBytes?: number;
}

export interface HttpServer {
  /** Resolves with the bound port (useful with port 0). */
  listen(): Promise<{ port: number }>;
  /**
   * Stops accepting connections, answers 503 to new API requests on open keep-alive connections,
   * lets requests in flight finish, then closes the idle connections.
   */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json';
const PROBLEM_TYPE = 'application/problem+json';
const HEALTHY_BODY = '{"status":"ok"}';
const SHUTTING_DOWN_BODY = '{"ready":false,"shuttingDown":true}';
const MESSAGE_LOCATION_PREFIX = '/v1/messages/';
/** Longer ids cannot be ours (ULIDs are 26 characters): 404 without asking the core. */
const MAX_ID_CHARS = 128;
/**
 * Metrics status for a request the client gave up on before it was answered (nginx's convention):
 * no response was sent, but the work and its duration still count.
 */
const CLIENT_CLOSED = 499;

type CounterChild = ReturnType<Metrics['httpRequests']['labels']>;
type HistogramChild = ReturnType<Metrics['httpRequestSeconds']['labels']>;

/** Metric children of one route, created once so that a request only increments and observes. */
export interface RouteStats {
  readonly route: string;
  readonly seconds: HistogramChild;
  readonly counts: Map<number, CounterChild>;
}

export type BodyHandler = (ex: Exchange, value: unknown) => void;

/**
 * What a JSON route does with an Idempotency-Key header. The batch route refuses it rather than
 * ignore it: GatewayApi.submitBatch cannot take one, and a client that believes its retries are safe
 * when they are not would send every message twice.
 */
export type IdempotencyUse = 'take' | 'refuse' | 'ignore';

/** One request from arrival to its response (or abort). */
export class Exchange {
  readonly res: HttpResponse;
  readonly stats: RouteStats;
  readonly started = performance.now();
  /**
   * A response was written, or the client went away (uWS then forbids touching `res`): either way
   * nothing more may be written. `send` checks it, so work finishing after an abort is dropped.
   */
  done = false;
  /** The client went away before it was answered (Requester: the core then stores nothing more). */
  gone = false;
  /** A HEAD request: answered as its GET, headers only. */
  head = false;
  account: Account | null = null;
  idempotencyKey: string | null = null;
  onBody: BodyHandler | null = null;
  /** Body chunks copied so far, when the body came in more than one. */
  chunks: Buffer[] | null = null;
  received = 0;
  // The response being written, read by writePending inside cork().
  status = 0;
  contentType = '';
  body = '';
  headerName = '';
  headerValue = '';
  closeConnection = false;

  constructor(res: HttpResponse, stats: RouteStats) {
    this.res = res;
    this.stats = stats;
  }
}

/**
 * cork() takes a callback; handing it one module-level function that reads the exchange from here
 * avoids a closure per response. Safe because cork runs the callback synchronously and it does not
 * re-enter.
 */
let pending: Exchange | null = null;

function writePending(): void {
  const ex = pending!;
  const res = ex.res;
  res.writeStatus(statusLine(ex.status));
  if (ex.status === 204 && !ex.closeConnection) {
    // No content to type, and no Content-Length (RFC 9110 §8.6), which end() would write. Only
    // end() can close the connection, so a 204 while closing keeps its "Content-Length: 0".
    if (ex.headerName !== '') res.writeHeader(ex.headerName, ex.headerValue);
    res.endWithoutBody();
    return;
  }
  res.writeHeader('Content-Type', ex.contentType);
  if (ex.headerName !== '') res.writeHeader(ex.headerName, ex.headerValue);
  // closeConnection: uWS sends Connection: close and shuts the socket down after the write.
  if (ex.head) {
    // The GET's length, written here: uWS 20's endWithoutBody(length) leaves the response open
    // (and then aborts the process), and without a length it writes none. A HEAD answer keeps its
    // connection even while closing; close() ends idle connections itself.
    res.writeHeader('Content-Length', String(Buffer.byteLength(ex.body)));
    res.endWithoutBody();
  } else {
    res.end(ex.body, ex.closeConnection);
  }
}

/**
 * Why a request's body cannot be taken as sent (a 415's detail), or null: it must be
 * application/json, in UTF-8 (JSON's only encoding, RFC 8259 §8.1: a charset parameter, if any,
 * says so), with no content coding (RFC 9110 §15.5.16).
 */
function unsupportedBody(contentType: string, contentEncoding: string): string | null {
  if (contentEncoding !== '' && contentEncoding.toLowerCase() !== 'identity') {
    return `Content-Encoding ${contentEncoding.slice(0, 40)} is not taken: send the body uncompressed`;
  }
  if (contentType === JSON_TYPE) return null;
  const [type = '', ...params] = contentType.split(';');
  if (type.trim().toLowerCase() !== JSON_TYPE) return 'send the body as Content-Type: application/json';
  for (const param of params) {
    const eq = param.indexOf('=');
    if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return 'JSON is UTF-8: send it with charset=utf-8 or none';
  }
  return null;
}

/** The first three complaints, and how many more `errors` lists (or, past its cap, leaves out). */
function describe(errors: readonly FieldError[]): string {
  const first = errors
    .slice(0, 3)
    .map((e) => `${e.field}: ${e.message}`)
    .join('; ');
  if (errors.length <= 3) return first;
  const unlisted = errors.length - MAX_LISTED_ERRORS;
  return `${first}; and ${errors.length - 3} more${unlisted > 0 ? ` (${unlisted} not listed in errors)` : ''}`;
}

function invalidRequest(errors: readonly FieldError[], what = 'request'): Problem {
  return problem(
    400,
    PROBLEM.invalidRequest,
    `${what} does not match the schema: ${describe(errors)}`,
    errors,
  );
}

/** Returned by parseJson when it has already answered. */
const NO_VALUE: unique symbol = Symbol('no value');

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { api, metrics, logger, config } = options;
  const isShuttingDown = options.isShuttingDown ?? (() => false);
  const keys = createKeyTable(options.apiKeys);
  const maxBody = config.maxBodyBytes;
  const tooLarge = JSON.stringify(
    problem(413, PROBLEM.payloadTooLarge, `request body is larger than ${maxBody} bytes`),
  );
  const app = App();

  let listenSocket: us_listen_socket | null = null;
  let closing = false;
  let closed: Promise<void> | null = null;
  let inFlight = 0;
  let drained: (() => void) | null = null;

  const stats = new Map<string, RouteStats>();
  function statsFor(route: string): RouteStats {
    let s = stats.get(route);
    if (s === undefined) {
      s = { route, seconds: metrics.httpRequestSeconds.labels(route), counts: new Map() };
      stats.set(route, s);
    }
    return s;
  }

  function begin(res: HttpResponse, s: RouteStats): Exchange {
    inFlight++;
    const ex = new Exchange(res, s);
    if (isHeadRequest()) ex.head = true;
    return ex;
  }

  /** Counts the request once, whether it was answered or aborted. */
  function settle(ex: Exchange, status: number): void {
    const s = ex.stats;
    let counter = s.counts.get(status);
    if (counter === undefined) {
      counter = metrics.httpRequests.labels(s.route, String(status));
      s.counts.set(status, counter);
    }
    counter.inc();
    s.seconds.observe((performance.now() - ex.started) / 1000);
    inFlight--;
    if (inFlight === 0 && drained !== null) {
      const d = drained;
      drained = null;
      d();
    }
  }

  function send(
    ex: Exchange,
    status: number,
    contentType: string,
    body: string,
    headerName = '',
    headerValue = '',
    closeConnection = false,
  ): void {
    if (ex.done) return;
    ex.done = true;
    ex.status = status;
    ex.contentType = contentType;
    ex.body = body;
    ex.headerName = headerName;
    ex.headerValue = headerValue;
    // While closing, keep-alive connections end with their response so close() is not held up.
    ex.closeConnection = closeConnection || closing;
    try {
      pending = ex;
      ex.res.cork(writePending);
    } finally {
      pending = null;
      settle(ex, status);
    }
  }

  function sendProblem(ex: Exchange, p: Problem, headerName = '', headerValue = '', close = false): void {
    send(ex, p.status, PROBLEM_TYPE, JSON.stringify(p), headerName, headerValue, close);
  }

  function abort(ex: Exchange): void {
    ex.chunks = null;
    ex.gone = true;
    if (ex.done) return;
    ex.done = true;
    settle(ex, CLIENT_CLOSED);
    if (logger.isLevelEnabled('debug')) logger.debug({ route: ex.stats.route }, 'client aborted the request');
  }

  /**
   * Answers an exception: the core's ApiError as its problem, anything else as a logged 500.
   * `close`: the body is not all read (a streamed import), so the connection ends with the answer.
   */
  function fail(ex: Exchange, err: unknown, close = false): void {
    const route = ex.stats.route;
    if (err instanceof ApiError) {
      const p = problemFromApiError(err);
      if (p.status >= 500) logger.warn({ route, status: err.status, type: err.type }, err.message);
      if (err.retryAfterSeconds === null) sendProblem(ex, p, '', '', close);
      else sendProblem(ex, p, 'Retry-After', String(err.retryAfterSeconds), close);
      return;
    }
    // Logged with the route only: the request's body (numbers, text) stays out of the log.
    logger.error({ err, route }, ex.done ? 'request failed after its response' : 'request failed');
    sendProblem(ex, internalProblem(), '', '', close);
  }

  /** Authenticates, or answers 401 (and, while closing, 503) and returns null. */
  function authorize(ex: Exchange, authorization: string, close: boolean): Account | null {
    if (closing) {
      sendProblem(ex, problem(503, PROBLEM.unavailable, 'the server is shutting down'), '', '', true);
      return null;
    }
    const auth = keys.authenticate(authorization);
    if (typeof auth !== 'string') return auth;
    if (auth === 'missing') {
      sendProblem(
        ex,
        problem(401, PROBLEM.unauthorized, 'send the API key as Authorization: Bearer <key>'),
        'WWW-Authenticate',
        'Bearer',
        close,
      );
    } else {
      sendProblem(
        ex,
        problem(401, PROBLEM.unauthorized, 'the API key is not known'),
        'WWW-Authenticate',
        'Bearer error="invalid_token"',
        close,
      );
    }
    return null;
  }

  /**
   * The common start of the JSON routes: headers, auth, media type, declared length; then the
   * body is read with onData and handed to `onBody` once parsed.
   */
  function beginJson(
    res: HttpResponse,
    req: HttpRequest,
    s: RouteStats,
    onBody: BodyHandler,
    idempotency: IdempotencyUse,
  ): void {
    const ex = begin(res, s);
    const authorization = req.getHeader('authorization');
    const contentType = req.getHeader('content-type');
    const contentLength = req.getHeader('content-length');
    const contentEncoding = req.getHeader('content-encoding');
    const idempotencyKey = idempotency === 'ignore' ? '' : req.getHeader('idempotency-key');
    const declared = contentLength === '' ? -1 : Number(contentLength);
    // An answer before the body is read leaves it unread. uWS skips a body of known length and
    // keeps the connection; a body of unknown or excessive length could go on for ever, so then
    // the connection is closed after the answer.
    const closeEarly = !(declared >= 0 && declared <= maxBody);

    const account = authorize(ex, authorization, closeEarly);
    if (account === null) return;
    const unsupported = unsupportedBody(contentType, contentEncoding);
    if (unsupported !== null) {
      sendProblem(ex, problem(415, PROBLEM.unsupportedMediaType, unsupported), '', '', closeEarly);
      return;
    }
    if (declared > maxBody) {
      send(ex, 413, PROBLEM_TYPE, tooLarge, '', '', true);
      return;
    }
    if (idempotencyKey !== '') {
      const complaint =
        idempotency === 'refuse'
          ? 'is not supported on this route: retrying it may send the messages again'
          : isValidIdempotencyKey(idempotencyKey)
            ? null
            : 'must be 1 to 255 printable ASCII characters';
      if (complaint !== null) {
        sendProblem(
          ex,
          invalidRequest([{ field: 'Idempotency-Key', message: complaint }]),
          '',
          '',
          closeEarly,
        );
        return;
      }
      ex.idempotencyKey = idempotencyKey;
    }
    ex.account = account;
    ex.onBody = onBody;
    res.onAborted(() => abort(ex));
    res.onData((chunk, isLast) => receive(ex, chunk, isLast));
  }

  function receive(ex: Exchange, chunk: ArrayBuffer, isLast: boolean): void {
    // uWS goes on delivering the rest of a body after a 413 until the client stops sending.
    if (ex.done) return;
    const size = ex.received + chunk.byteLength;
    if (size > maxBody) {
      ex.chunks = null;
      send(ex, 413, PROBLEM_TYPE, tooLarge, '', '', true);
      return;
    }
    ex.received = size;
    if (!isLast) {
      // uWS neuters the chunk when this callback returns: keep a copy.
      const copy = Buffer.from(chunk.slice(0));
      if (ex.chunks === null) ex.chunks = [copy];
      else ex.chunks.push(copy);
      return;
    }
    let body: Buffer;
    if (ex.chunks === null) {
      // The usual case, the whole body in one chunk: a view is enough, it is parsed before returning.
      body = Buffer.from(chunk);
    } else {
      ex.chunks.push(Buffer.from(chunk));
      body = Buffer.concat(ex.chunks, size);
      ex.chunks = null;
    }
    const value = parseJson(ex, body);
    if (value === NO_VALUE) return;
    try {
      ex.onBody!(ex, value);
    } catch (err) {
      fail(ex, err);
    }
  }

  function parseJson(ex: Exchange, body: Buffer): unknown {
    let detail: string;
    if (body.length === 0) detail = 'request body is empty';
    else if (!isUtf8(body)) detail = 'request body is not valid UTF-8';
    else {
      try {
        // A byte order mark is ignored (RFC 8259 §8.1 allows it), not a syntax error.
        const bom = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
        return JSON.parse(body.toString('utf8', bom));
      } catch (err) {
        // V8's message quotes the start of the input; only the position is passed on.
        const at = err instanceof SyntaxError ? /position (\d+)/.exec(err.message) : null;
        detail =
          at === null
            ? 'request body is not valid JSON'
            : `request body is not valid JSON (at byte ${at[1]})`;
      }
    }
    sendProblem(ex, problem(400, PROBLEM.invalidJson, detail));
    return NO_VALUE;
  }

  // --- POST /v1/messages ------------------------------------------------------------------------

  function onSubmitBody(ex: Exchange, value: unknown): void {
    const errors: FieldError[] = [];
    const request = parseSubmitRequest(value, '', errors);
    if (request === null) sendProblem(ex, invalidRequest(errors));
    else void submitOne(ex, request);
  }

  async function submitOne(ex: Exchange, request: SubmitRequest): Promise<void> {
    try {
      const { message, created } = await api.submit(ex.account!, request, ex.idempotencyKey, ex);
      send(
        ex,
        created ? 202 : 200,
        JSON_TYPE,
        JSON.stringify(renderMessage(message)),
        'Location',
        MESSAGE_LOCATION_PREFIX + encodeURIComponent(message.id),
      );
    } catch (err) {
      fail(ex, err);
    }
  }

  // --- POST /v1/messages/batch ------------------------------------------------------------------

  function onBatchBody(ex: Exchange, value: unknown): void {
    const shape = parseBatch(value);
    if (!shape.ok) {
      if (shape.status === 413)
        sendProblem(ex, problem(413, PROBLEM.payloadTooLarge, describe(shape.errors), shape.errors));
      else sendProblem(ex, invalidRequest(shape.errors));
      return;
    }
    void submitBatch(ex, shape);
  }

  async function submitBatch(ex: Exchange, shape: Extract<BatchShape, { ok: true }>): Promise<void> {
    try {
      const results =
        shape.requests.length === 0 ? [] : await api.submitBatch(ex.account!, shape.requests, ex);
      if (results.length !== shape.requests.length) {
        throw new Error(
          `submitBatch answered ${results.length} results for ${shape.requests.length} messages`,
        );
      }
      const items: object[] = new Array(shape.count);
      for (const [index, errors] of shape.invalid) {
        items[index] = { index, status: 400, error: invalidRequest(errors, `messages[${index}]`) };
      }
      let accepted = 0;
      for (let k = 0; k < results.length; k++) {
        const index = shape.indexes[k]!;
        const r = results[k]!;
        if (r.ok) {
          accepted++;
          items[index] = { index, status: 202, message: renderMessage(r.message) };
        } else {
          const p = problemFromApiError(r.error);
          items[index] = { index, status: p.status, error: p };
        }
      }
      send(
        ex,
        200,
        JSON_TYPE,
        JSON.stringify({ results: items, accepted, rejected: shape.count - accepted }),
      );
    } catch (err) {
      fail(ex, err);
    }
  }

  // --- GET /v1/messages/{id} --------------------------------------------------------------------

  async function getMessage(ex: Exchange, account: Account, id: string): Promise<void> {
    try {
      const message = await api.get(account, id);
      if (message === null) sendProblem(ex, problem(404, PROBLEM.notFound, `no message ${id}`));
      else send(ex, 200, JSON_TYPE, JSON.stringify(renderMessage(message)));
    } catch (err) {
      fail(ex, err);
    }
  }

  // --- POST /v1/segments ------------------------------------------------------------------------

  function onSegmentsBody(ex: Exchange, value: unknown): void {
    const errors: FieldError[] = [];
    const request = parseSegmentsRequest(value, errors);
    if (request === null) {
      sendProblem(ex, invalidRequest(errors));
      return;
    }
    // Synchronous; an ApiError (422, 403) reaches fail() through receive().
    const preview = api.preview(
      request.text,
      request.options,
      request.route ? { account: ex.account!, ...request.route } : undefined,
    );
    send(ex, 200, JSON_TYPE, JSON.stringify(renderPreview(preview)));
  }

  // --- health, readiness, metrics ---------------------------------------------------------------

  async function answerReadiness(ex: Exchange): Promise<void> {
    try {
      const r = await api.readiness();
      send(ex, r.ready ? 200 : 503, JSON_TYPE, JSON.stringify(r));
    } catch (err) {
      logger.error({ err, route: ex.stats.route }, 'readiness check failed');
      sendProblem(ex, problem(503, PROBLEM.unavailable, 'the readiness check failed'));
    }
  }

  async function scrape(ex: Exchange): Promise<void> {
    try {
      const text = await metrics.registry.metrics();
      send(ex, 200, metrics.registry.contentType, text);
    } catch (err) {
      fail(ex, err);
    }
  }

  // --- routing ----------------------------------------------------------------------------------

  const serveApi = options.serveApi ?? true;
  const sharePort = options.sharePort ?? true;
  const healthStats = statsFor(ROUTE.healthz);
  const readyStats = statsFor(ROUTE.readyz);
  const metricsStats = statsFor(ROUTE.metrics);
  const unmatchedStats = statsFor(UNMATCHED_ROUTE);

  if (serveApi) {
    const submitStats = statsFor(ROUTE.messages);
    const batchStats = statsFor(ROUTE.batch);
    const messageStats = statsFor(ROUTE.message);
    const segmentsStats = statsFor(ROUTE.segments);
    app.post(uwsPattern(ROUTE.messages), (res, req) =>
      beginJson(res, req, submitStats, onSubmitBody, 'take'),
    );
    app.post(uwsPattern(ROUTE.batch), (res, req) => beginJson(res, req, batchStats, onBatchBody, 'refuse'));
    app.post(uwsPattern(ROUTE.segments), (res, req) =>
      beginJson(res, req, segmentsStats, onSegmentsBody, 'ignore'),
    );

    on(app, 'get', ROUTE.message, (res, req) => {
      const ex = begin(res, messageStats);
      const authorization = req.getHeader('authorization');
      // ULIDs are case-insensitive (ours are minted in upper case).
      const id = (req.getParameter(0) ?? '').toUpperCase();
      const account = authorize(ex, authorization, false);
      if (account === null) return;
      if (id.length === 0 || id.length > MAX_ID_CHARS) {
        sendProblem(ex, problem(404, PROBLEM.notFound, 'no such message'));
        return;
      }
      res.onAborted(() => abort(ex));
      void getMessage(ex, account, id);
    });
  }

  on(app, 'get', ROUTE.healthz, (res) => send(begin(res, healthStats), 200, JSON_TYPE, HEALTHY_BODY));

  on(app, 'get', ROUTE.readyz, (res) => {
    const ex = begin(res, readyStats);
    if (closing || isShuttingDown()) {
      send(ex, 503, JSON_TYPE, SHUTTING_DOWN_BODY);
      return;
    }
    res.onAborted(() => abort(ex));
    void answerReadiness(ex);
  });

  on(app, 'get', ROUTE.metrics, (res) => {
    const ex = begin(res, metricsStats);
    res.onAborted(() => abort(ex));
    void scrape(ex);
  });

  // --- /v1/optouts/… (src/http/optouts.ts) ----------------------------------------------------

  const kit: RouteKit = {
    logger,
    statsFor,
    begin,
    settle,
    send,
    sendProblem,
    fail,
    abort,
    authorize,
    beginJson,
    isClosing: () => closing,
  };
  if (serveApi) {
    registerOptOutRoutes(app, kit, options.optouts, options.optoutImportMaxBytes ?? DEFAULT_IMPORT_MAX_BYTES);
  } else {
    const elsewhere = JSON.stringify(
      problem(
        404,
        PROBLEM.notFound,
        'this process runs the connectors only (role dispatch): the API is served by api processes',
      ),
    );
    app.any(
      '/v1/*',
      headAware((res) => send(begin(res, unmatchedStats), 404, PROBLEM_TYPE, elsewhere)),
    );
  }

  // Any other method on a known path: 405 with Allow. uWS tries method-specific handlers before
  // `any`, so these only see what the handlers above do not take.
  const templates = new Set<RouteTemplate>(
    Object.values(ROUTE).filter((t) => serveApi || !t.startsWith('/v1/')),
  );
  for (const template of templates) {
    const s = statsFor(template);
    const allow = allowHeader(template);
    const body = JSON.stringify(problem(405, PROBLEM.methodNotAllowed, `${template} accepts ${allow}`));
    const answer = headAware((res: HttpResponse) =>
      send(begin(res, s), 405, PROBLEM_TYPE, body, 'Allow', allow),
    );
    const pattern = uwsPattern(template);
    app.any(pattern, answer);
    // GET /v1/messages/batch would otherwise match GET /v1/messages/{id} with id "batch" (and PUT
    // /v1/optouts/export PUT /v1/optouts/{number}): uWS routes within one method first, then falls
    // back to `any`. So every path answers its 405 for the methods it does not take by method too.
    for (const method of HTTP_METHODS) {
      if (!ROUTES.some((r) => r.template === template && r.method === method))
        on(app, method, template, answer);
    }
    if (!answersHead(template)) app.head(pattern, answer);
  }

  const notFoundBody = JSON.stringify(problem(404, PROBLEM.notFound, 'no such route'));
  app.any(
    '/*',
    headAware((res) => send(begin(res, unmatchedStats), 404, PROBLEM_TYPE, notFoundBody)),
  );

  return {
    listen(): Promise<{ port: number }> {
      if (listenSocket !== null || closing)
        return Promise.reject(new Error('the HTTP server was already started'));
      return new Promise((resolve, reject) => {
        // uSockets' LIBUS_LISTEN_DEFAULT (0) and LIBUS_LISTEN_EXCLUSIVE_PORT (1). The native listen
        // takes (host, port, options, callback); the typings leave that overload out.
        const listenOptions = sharePort ? 0 : 1;
        const listen = app.listen as unknown as (
          host: string,
          port: number,
          options: number,
          cb: (socket: us_listen_socket | false) => void,
        ) => void;
        listen.call(app, config.host, config.port, listenOptions, (socket) => {
          if (socket === false) {
            reject(
              new Error(
                `the HTTP server cannot listen on ${config.host}:${config.port}` +
                  (sharePort ? '' : ' (it takes the port alone: is another process on it?)'),
              ),
            );
            return;
          }
          listenSocket = socket;
          const port = us_socket_local_port(socket);
          logger.info(
            { host: config.host, port, sharedPort: sharePort },
            serveApi ? 'HTTP API listening' : 'HTTP listening (health and metrics only)',
          );
          resolve({ port });
        });
      });
    },

    close(): Promise<void> {
      if (closed !== null) return closed;
      closing = true;
      if (listenSocket !== null) {
        us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
      const idle = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve));
      closed = idle.then(() => {
        // Only idle keep-alive connections are left; app.close() ends them (and frees the app).
        app.close();
        logger.info('HTTP API closed');
      });
      return closed;
    },
  };
}
