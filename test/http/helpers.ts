/**
 * A real uWS server on 127.0.0.1:0 in front of a test double of the core's GatewayApi and a real
 * OptOutService on the memory opt-out store, with the log captured so tests can await events (an
 * abort, an error) instead of sleeping.
 */

import net from 'node:net';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { type PlanOptions, previewMessage } from '../../src/codec/index.js';
import type { ApiKeyConfig, SenderConfig } from '../../src/config/types.js';
import type {
  Account,
  BatchItemResult,
  GatewayApi,
  OptOutApi,
  Readiness,
  SubmitRequest,
} from '../../src/core/api.js';
import { OptOutService } from '../../src/core/optout-api.js';
import type { MessageRecord } from '../../src/core/types.js';
import { createHttpServer, type HttpServer } from '../../src/http/index.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { MemoryOptOutStore } from '../../src/store/memory/optouts.js';
import { senderConfig } from '../support/config.js';

export const KEYS: ApiKeyConfig[] = [
  {
    name: 'acme',
    key: 'acme-secret-key-0123456789',
    senders: ['*'],
    rateLimit: 0,
    rateBurst: 1,
    callbackSecret: null,
  },
  { name: 'beta', key: 'beta-key', senders: ['BETA'], rateLimit: 0, rateBurst: 1, callbackSecret: null },
];
export const ACME = `Bearer ${KEYS[0]!.key}`;
export const MAX_BODY = 4096;
/** A fixed instant: 2026-11-22T09:30:00.000Z. */
export const T0 = Date.UTC(2026, 10, 22, 9, 30);

let nextId = 0;

export function makeRecord(overrides: Partial<MessageRecord> = {}): MessageRecord {
  nextId++;
  return {
    id: `01JDTEST${String(nextId).padStart(18, '0')}`,
    channel: 'sms',
    account: 'acme',
    from: 'ACME',
    to: '447700900123',
    body: 'secret text that must not be echoed',
    encoding: 'gsm7',
    dataCoding: 0,
    connector: 'smsc-a',
    reference: null,
    campaignId: null,
    callbackUrl: null,
    createdAt: T0,
    validUntil: T0 + 86_400_000,
    status: 'accepted',
    error: null,
    parts: [
      { index: 0, units: 35, smscId: null, state: 'pending', submittedAt: null, finalAt: null, error: null },
    ],
    attempts: 0,
    events: [{ status: 'accepted', at: T0 }],
    version: 1,
    ...overrides,
  };
}

/** A promise with its resolve and reject at hand. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The test double of the core: records every call and answers with what the test set (by default a
 * fresh accepted record, created: true).
 */
export class FakeApi implements GatewayApi {
  readonly submits: Array<{ account: Account; request: SubmitRequest; key: string | null }> = [];
  readonly batches: Array<{ account: Account; requests: readonly SubmitRequest[] }> = [];
  readonly gets: Array<{ account: Account; id: string }> = [];
  readonly previews: Array<{
    text: string;
    options: PlanOptions;
    route?: { account: string; from: string; to: string };
  }> = [];
  readonly records = new Map<string, MessageRecord>();
  readinessCalls = 0;

  onSubmit: (
    request: SubmitRequest,
    key: string | null,
  ) => Promise<{ message: MessageRecord; created: boolean }> = async (request) => {
    const message = makeRecord({ from: request.from, reference: request.reference ?? null });
    this.records.set(message.id, message);
    return { message, created: true };
  };
  onBatch: (requests: readonly SubmitRequest[]) => Promise<BatchItemResult[]> = async (requests) =>
    requests.map((r) => ({ ok: true, message: makeRecord({ from: r.from }) }));
  onPreview: (text: string, options: PlanOptions) => ReturnType<GatewayApi['preview']> = (text, options) =>
    previewMessage(text, options);
  onReadiness: () => Promise<Readiness> = async () => ({
    ready: true,
    store: true,
    connectorsUp: ['smsc-a'],
  });

  submit(account: Account, request: SubmitRequest, idempotencyKey: string | null) {
    this.submits.push({ account, request, key: idempotencyKey });
    return this.onSubmit(request, idempotencyKey);
  }
  submitBatch(account: Account, requests: readonly SubmitRequest[]) {
    this.batches.push({ account, requests });
    return this.onBatch(requests);
  }
  async get(account: Account, id: string) {
    this.gets.push({ account, id });
    return this.records.get(id) ?? null;
  }
  preview(text: string, options: PlanOptions, route?: { account: Account; from: string; to: string }) {
    this.previews.push({
      text,
      options,
      ...(route ? { route: { account: route.account.name, from: route.from, to: route.to } } : {}),
    });
    return this.onPreview(text, options);
  }
  readiness() {
    this.readinessCalls++;
    return this.onReadiness();
  }
}

export interface LogLine {
  level: number;
  msg: string;
  route?: string;
  err?: { message: string; stack: string };
  [key: string]: unknown;
}

/** Captures log lines; `waitFor` resolves on the first line (past or future) that matches. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  private waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  readonly logger = pino({ level: 'debug' }, { write: (s: string) => this.push(JSON.parse(s) as LogLine) });

  private push(line: LogLine): void {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  waitFor(match: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

function sender(address: string, program: string | null): SenderConfig {
  return senderConfig(address, { type: 'alphanumeric', program });
}

/** The senders the opt-out service knows: beta's key may use BETA, of program 'news'. */
export const SENDERS: SenderConfig[] = [
  sender('ACME', 'alerts'),
  sender('BETA', 'news'),
  sender('NEWS2', 'news'),
  sender('OTHER', null),
];

export interface TestServerOptions {
  /** The opt-out API; null: none (the routes answer 404); absent: a real one on a memory store. */
  optouts?: OptOutApi | null;
  optoutImportMaxBytes?: number;
  /** Default 0: a free port. */
  port?: number;
  sharePort?: boolean;
}

export interface TestServer {
  api: FakeApi;
  log: LogCapture;
  metrics: Metrics;
  server: HttpServer;
  base: string;
  port: number;
  shuttingDown: { value: boolean };
  /** The memory store behind the default opt-out service, and its clock (at T0). */
  optOutStore: MemoryOptOutStore;
  clock: ManualClock;
}

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const api = new FakeApi();
  const log = new LogCapture();
  const metrics = createMetrics({ defaultMetrics: false });
  const shuttingDown = { value: false };
  const optOutStore = new MemoryOptOutStore();
  const clock = new ManualClock(T0);
  const optouts =
    options.optouts === undefined
      ? new OptOutService({ store: optOutStore, senders: SENDERS, metrics, clock, logger: log.logger })
      : options.optouts;
  const server = createHttpServer({
    api,
    apiKeys: KEYS,
    metrics,
    logger: log.logger,
    config: { host: '127.0.0.1', port: options.port ?? 0, maxBodyBytes: MAX_BODY },
    isShuttingDown: () => shuttingDown.value,
    ...(options.sharePort === undefined ? {} : { sharePort: options.sharePort }),
    ...(optouts === null ? {} : { optouts }),
    ...(options.optoutImportMaxBytes === undefined
      ? {}
      : { optoutImportMaxBytes: options.optoutImportMaxBytes }),
  });
  const { port } = await server.listen();
  servers.push(server);
  return {
    api,
    log,
    metrics,
    server,
    base: `http://127.0.0.1:${port}`,
    port,
    shuttingDown,
    optOutStore,
    clock,
  };
}

/** POST JSON with the acme key unless told otherwise. */
export function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(base + path, {
    method: 'POST',
    headers: { authorization: ACME, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function get(base: string, path: string, headers: Record<string, string> = { authorization: ACME }) {
  return fetch(base + path, { headers });
}

/** Writes raw bytes and collects everything the server sends until it closes the connection. */
export function rawExchange(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(request);
  });
}

export const VALID = { from: 'ACME', to: '+447700900123', body: 'Hello there' };
