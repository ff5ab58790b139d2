/**
 * The opt-out routes over a real uWS server, a real OptOutService and the memory opt-out store:
 * every route's answers and errors, a streamed import, the export's round trip and backpressure.
 */

import http from 'node:http';
import { describe, expect, it } from 'vitest';
import type { OptOutApi } from '../../src/core/api.js';
import { OptOutService } from '../../src/core/optout-api.js';
import type { RenderedOptOut } from '../../src/http/optouts.js';
import { createMetrics } from '../../src/metrics.js';
import { CsvParser } from '../../src/policy/csv.js';
import type { OptOutEntry, OptOutStore } from '../../src/policy/optouts.js';
import { MemoryOptOutStore } from '../../src/store/memory/optouts.js';
import { ACME, deferred, get, KEYS, LogCapture, rawExchange, SENDERS, startServer, T0 } from './helpers.js';

const BETA = `Bearer ${KEYS[1]!.key}`;
const PROBLEM_JSON = 'application/problem+json';
const NUMBER = '447700900123';
const T0_ISO = '2026-11-22T09:30:00.000Z';

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

type Rendered = RenderedOptOut;

interface ImportReport {
  rows: number;
  added: number;
  alreadyOptedOut: number;
  invalid: number;
  errors: Array<{ line: number; error: string }>;
  results?: Array<{ line: number; result: string; number?: string; error?: string }>;
}

async function problemOf(res: Response, status: number, slug: string): Promise<Problem> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
  const p = (await res.json()) as Problem;
  expect(p.type).toBe(`https://sluice.dev/problems/${slug}`);
  return p;
}

function put(base: string, number: string, body: unknown, authorization = ACME): Promise<Response> {
  return fetch(`${base}/v1/optouts/${number}`, {
    method: 'PUT',
    headers: { authorization, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function del(base: string, path: string, authorization = ACME): Promise<Response> {
  return fetch(`${base}/v1/optouts/${path}`, { method: 'DELETE', headers: { authorization } });
}

function importCsv(
  base: string,
  csv: string,
  query = '',
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/v1/optouts/import${query}`, {
    method: 'POST',
    headers: { authorization: ACME, 'content-type': 'text/csv', ...headers },
    body: csv,
  });
}

/**
 * POSTs `body` to the import with http.request, in writes of `nextSize()` bytes (waiting for
 * 'drain' when told to): the response, and whether the whole body has been handed to the socket.
 */
function streamImport(port: number, body: Buffer, nextSize: () => number) {
  let finished = false;
  let onSent: () => void = () => {};
  /** Resolves once the whole body was handed to the socket. */
  const sent = new Promise<void>((resolve) => (onSent = resolve));
  let waiting = false;
  let onBlocked: (() => void) | null = null;
  /** Resolves once the client waits for the socket to drain (at once if it is waiting now). */
  const blocked = () =>
    new Promise<void>((resolve) => {
      if (waiting) resolve();
      else onBlocked = resolve;
    });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/optouts/import',
        headers: { authorization: ACME, 'content-type': 'text/csv' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      },
    );
    req.on('error', reject);
    let offset = 0;
    const pump = () => {
      waiting = false;
      while (offset < body.length) {
        const chunk = body.subarray(offset, offset + nextSize());
        offset += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          waiting = true;
          onBlocked?.();
          onBlocked = null;
          return;
        }
      }
      req.end(() => {
        finished = true;
        onSent();
      });
    };
    pump();
  });
  return { response, finished: () => finished, blocked, sent };
}

/** A store that makes add() wait on `delay(n)` (n counts the calls from 1) before writing. */
function slowStore(delay: (n: number) => Promise<void> | null): {
  store: MemoryOptOutStore;
  slow: OptOutStore;
} {
  const store = new MemoryOptOutStore();
  let calls = 0;
  const slow: OptOutStore = {
    check: (q) => store.check(q),
    add: async (entries) => {
      const wait = delay(++calls);
      if (wait !== null) await wait;
      return store.add(entries);
    },
    remove: (items) => store.remove(items),
    get: (n) => store.get(n),
    history: (n, l) => store.history(n, l),
    scan: (sc, p) => store.scan(sc, p),
  };
  return { store, slow };
}

/** `rows` rows of about 500 bytes (a long reason): 20 MB for 40,000. */
function bulkyCsv(rows: number): Buffer {
  const reason = 'r'.repeat(500);
  return Buffer.from(Array.from({ length: rows }, (_, i) => `${ukNumber(i)},,${reason}`).join('\n'));
}

/** A UK test-range number (+44 7700 9xxxxx): `i` below 100,000. */
function ukNumber(i: number): string {
  return `4477009${String(i).padStart(5, '0')}`;
}

/** Parses CSV text with the import's own parser: the records' fields. */
function parseCsv(text: string): string[][] {
  const parser = new CsvParser({ maxFieldBytes: 4096, maxFields: 16 });
  const rows = [...parser.push(Buffer.from(text)), ...parser.end()];
  return rows.map((r) => {
    if (r.error !== undefined) throw new Error(`line ${r.line}: ${r.error}`);
    return r.fields;
  });
}

/** Every entry of a store, as sorted "number scope" keys. */
async function keysOf(store: OptOutStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of store.scan(null, 1000)) for (const e of page) keys.push(`${e.number} ${e.scope}`);
  return keys.sort();
}

function entry(number: string, scope: OptOutEntry['scope'], extra: Partial<OptOutEntry> = {}): OptOutEntry {
  return {
    number,
    scope,
    at: T0,
    source: 'keyword',
    keyword: 'STOP',
    reason: null,
    sender: 'ACME',
    ...extra,
  };
}

/** A store whose every call fails, as an unreachable Redis does. */
class DownStore extends MemoryOptOutStore {
  override async get(): Promise<OptOutEntry[]> {
    throw new Error('connection refused');
  }
  override async add(): Promise<boolean[]> {
    throw new Error('connection refused');
  }
}

function serviceOn(store: OptOutStore): OptOutService {
  const metrics = createMetrics({ defaultMetrics: false });
  return new OptOutService({
    store,
    senders: SENDERS,
    metrics,
    clock: { now: () => T0, setTimeout: () => ({ cancel() {} }) },
    logger: new LogCapture().logger,
  });
}

describe('PUT and GET /v1/optouts/{number}', () => {
  it('opts a number out globally (201), answers 200 with the first entry when it already was', async () => {
    const { base, clock, metrics } = await startServer();
    const first = await put(base, `+${NUMBER}`, { reason: 'asked by phone' });
    expect(first.status).toBe(201);
    expect(first.headers.get('content-type')).toBe('application/json');
    const created = (await first.json()) as Rendered;
    expect(created).toEqual({
      number: NUMBER,
      scope: 'global',
      at: T0_ISO,
      source: 'api',
      keyword: null,
      reason: 'asked by phone',
      sender: null,
    });

    clock.advance(60_000);
    const again = await put(base, NUMBER, { scope: 'global', reason: 'again' });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(created);

    const res = await get(base, `/v1/optouts/${NUMBER}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ number: NUMBER, optedOut: true, entries: [created] });

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/sluice_optout_changes_total\{action="opt_out",source="api"\} 1\n/);
    expect(text).toContain('route="/v1/optouts/{number}",status="201"');
  });

  it('takes the number with or without +, percent-encoded too, and answers it as digits', async () => {
    const { base } = await startServer();
    expect((await put(base, `%2B${NUMBER}`, {})).status).toBe(201);
    for (const form of [NUMBER, `+${NUMBER}`, `%2B${NUMBER}`]) {
      const body = (await (await get(base, `/v1/optouts/${form}`)).json()) as {
        number: string;
        optedOut: boolean;
      };
      expect(body).toMatchObject({ number: NUMBER, optedOut: true });
    }
  });

  it('answers optedOut: false with no entries for a number never opted out', async () => {
    const { base } = await startServer();
    const res = await get(base, '/v1/optouts/14155550100');
    expect(await res.json()).toEqual({ number: '14155550100', optedOut: false, entries: [] });
  });

  it('filters by ?scope= and orders entries global, programs, senders', async () => {
    const { base, optOutStore } = await startServer();
    await optOutStore.add([
      entry(NUMBER, 'sender:ACME'),
      entry(NUMBER, 'global'),
      entry(NUMBER, 'program:news'),
    ]);
    const all = (await (await get(base, `/v1/optouts/${NUMBER}`)).json()) as { entries: Rendered[] };
    expect(all.entries.map((e) => e.scope)).toEqual(['global', 'program:news', 'sender:ACME']);
    expect(all.entries[2]).toEqual({
      number: NUMBER,
      scope: 'sender:ACME',
      at: T0_ISO,
      source: 'keyword',
      keyword: 'STOP',
      reason: null,
      sender: 'ACME',
    });
    const one = (await (await get(base, `/v1/optouts/${NUMBER}?scope=program:news`)).json()) as {
      optedOut: boolean;
      entries: Rendered[];
    };
    expect(one.optedOut).toBe(true);
    expect(one.entries.map((e) => e.scope)).toEqual(['program:news']);
    const none = (await (await get(base, `/v1/optouts/${NUMBER}?scope=sender:OTHER`)).json()) as {
      optedOut: boolean;
    };
    expect(none.optedOut).toBe(false);
  });

  it('lets a key limited to some senders manage and see only their scopes and programs (403 otherwise)', async () => {
    const { base, optOutStore } = await startServer();
    expect((await put(base, NUMBER, { scope: 'sender:BETA' }, BETA)).status).toBe(201);
    expect((await put(base, NUMBER, { scope: 'program:news' }, BETA)).status).toBe(201);
    for (const scope of ['global', 'sender:ACME', 'program:alerts', 'sender:NEWS2']) {
      const p = await problemOf(await put(base, NUMBER, { scope }, BETA), 403, 'forbidden');
      expect(p.errors).toEqual([{ field: 'scope', message: 'not allowed for this API key' }]);
    }
    // PUT without a scope means global, which this key may not touch.
    await problemOf(await put(base, NUMBER, {}, BETA), 403, 'forbidden');

    await optOutStore.add([entry(NUMBER, 'global'), entry(NUMBER, 'sender:ACME')]);
    const seen = (await (await get(base, `/v1/optouts/${NUMBER}`, { authorization: BETA })).json()) as {
      entries: Rendered[];
    };
    expect(seen.entries.map((e) => e.scope)).toEqual(['program:news', 'sender:BETA']);
    await problemOf(
      await get(base, `/v1/optouts/${NUMBER}?scope=global`, { authorization: BETA }),
      403,
      'forbidden',
    );
    expect(await keysOf(optOutStore)).toEqual(
      [`${NUMBER} global`, `${NUMBER} program:news`, `${NUMBER} sender:ACME`, `${NUMBER} sender:BETA`].sort(),
    );
  });

  it('answers 422 naming the field for a number or a scope the list cannot hold', async () => {
    const { base, optOutStore } = await startServer();
    for (const bad of ['12', 'abc', '+0447700900123', '4477009001234567890']) {
      const p = await problemOf(await put(base, bad, {}), 422, 'unprocessable');
      expect(p.errors).toEqual([
        { field: 'number', message: 'expected an E.164 number such as +447700900123' },
      ]);
      await problemOf(await get(base, `/v1/optouts/${bad}`), 422, 'unprocessable');
    }
    for (const scope of ['planet:mars', 'program:', 'program:-x', 'sender:', 'GLOBAL']) {
      const p = await problemOf(await put(base, NUMBER, { scope }), 422, 'unprocessable');
      expect(p.errors?.[0]?.field).toBe('scope');
      expect(p.detail).toMatch(/^scope /);
    }
    await problemOf(await get(base, `/v1/optouts/${NUMBER}?scope=planet:mars`), 422, 'unprocessable');
    expect(await keysOf(optOutStore)).toEqual([]);
  });

  it('answers 400 for a body of the wrong shape, naming every field', async () => {
    const { base } = await startServer();
    const p = await problemOf(
      await put(base, NUMBER, { scope: 7, reason: 'x'.repeat(501), note: 'hi' }),
      400,
      'invalid-request',
    );
    expect(p.errors).toEqual([
      { field: 'note', message: 'unknown field' },
      { field: 'scope', message: 'must be a string' },
      { field: 'reason', message: 'must be at most 500 characters' },
    ]);
    const empty = await problemOf(await put(base, NUMBER, { reason: '' }), 400, 'invalid-request');
    expect(empty.errors?.map((e) => e.field)).toEqual(['reason']);
    await problemOf(await put(base, NUMBER, [1]), 400, 'invalid-request');
    await problemOf(await put(base, NUMBER, '{'), 400, 'invalid-json');
    const noType = await fetch(`${base}/v1/optouts/${NUMBER}`, {
      method: 'PUT',
      headers: { authorization: ACME },
      body: '{}',
    });
    await problemOf(noType, 415, 'unsupported-media-type');
    await problemOf(await get(base, `/v1/optouts/${NUMBER}?scop=global`), 400, 'invalid-request');
    await problemOf(await get(base, `/v1/optouts/${NUMBER}?scope=`), 400, 'invalid-request');
    await problemOf(
      await get(base, `/v1/optouts/${NUMBER}?scope=global&scope=global`),
      400,
      'invalid-request',
    );
  });

  it('takes a reason of exactly 500 characters', async () => {
    const { base } = await startServer();
    const res = await put(base, NUMBER, { reason: 'é'.repeat(500) });
    expect(res.status).toBe(201);
    expect(((await res.json()) as Rendered).reason).toBe('é'.repeat(500));
  });
});

describe('DELETE /v1/optouts/{number} and its history', () => {
  it('answers 204 when it removed the entry, 404 when there was none in that scope; history has both', async () => {
    const { base, clock, metrics } = await startServer();
    await put(base, NUMBER, { scope: 'sender:ACME', reason: 'complaint' });
    clock.advance(1000);
    const removed = await del(base, `${NUMBER}?scope=sender:ACME&reason=asked%20to%20rejoin`);
    expect(removed.status).toBe(204);
    expect(await removed.text()).toBe('');
    expect(removed.headers.get('content-length')).toBeNull();
    expect(removed.headers.get('content-type')).toBeNull();
    clock.advance(1000);
    const p = await problemOf(await del(base, `${NUMBER}?scope=sender:ACME`), 404, 'not-found');
    expect(p.detail).toContain("'sender:ACME'");
    await problemOf(await del(base, `${NUMBER}?scope=global`), 404, 'not-found');

    const res = await get(base, `/v1/optouts/+${NUMBER}/history`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { number: string; events: Array<Rendered & { action: string }> };
    expect(body.number).toBe(NUMBER);
    expect(body.events).toEqual([
      {
        action: 'opt_out',
        number: NUMBER,
        scope: 'sender:ACME',
        at: T0_ISO,
        source: 'api',
        keyword: null,
        reason: 'complaint',
        sender: null,
      },
      {
        action: 'opt_in',
        number: NUMBER,
        scope: 'sender:ACME',
        at: '2026-11-22T09:30:01.000Z',
        source: 'api',
        keyword: null,
        reason: 'asked to rejoin',
        sender: null,
      },
      expect.objectContaining({ action: 'opt_in', scope: 'sender:ACME', at: '2026-11-22T09:30:02.000Z' }),
      expect.objectContaining({ action: 'opt_in', scope: 'global', reason: null }),
    ]);
    const latest = (await (await get(base, `/v1/optouts/${NUMBER}/history?limit=1`)).json()) as {
      events: Array<{ scope: string }>;
    };
    expect(latest.events.map((e) => e.scope)).toEqual(['global']);
    expect(await metrics.registry.metrics()).toMatch(
      /sluice_optout_changes_total\{action="opt_in",source="api"\} 1\n/,
    );
  });

  it('needs a scope (400), one the key may manage (403), a possible number (422)', async () => {
    const { base } = await startServer();
    const p = await problemOf(await del(base, NUMBER), 400, 'invalid-request');
    expect(p.errors).toEqual([{ field: 'scope', message: 'is required' }]);
    await problemOf(await del(base, `${NUMBER}?scope=global`, BETA), 403, 'forbidden');
    await problemOf(await del(base, `123?scope=global`), 422, 'unprocessable');
    await problemOf(
      await del(base, `${NUMBER}?scope=global&reason=${'x'.repeat(501)}`),
      400,
      'invalid-request',
    );
    await problemOf(await del(base, `${NUMBER}?scope=global&why=x`), 400, 'invalid-request');
  });

  it('bounds the history limit to 1..1000 and shows a limited key its own scopes only', async () => {
    const { base, optOutStore } = await startServer();
    await optOutStore.add([
      entry(NUMBER, 'global'),
      entry(NUMBER, 'sender:BETA'),
      entry(NUMBER, 'sender:ACME'),
    ]);
    for (const limit of ['0', '1001', 'ten', '-1', '1.5']) {
      const p = await problemOf(
        await get(base, `/v1/optouts/${NUMBER}/history?limit=${limit}`),
        400,
        'invalid-request',
      );
      expect(p.errors?.[0]?.field).toBe('limit');
    }
    const all = (await (await get(base, `/v1/optouts/${NUMBER}/history?limit=1000`)).json()) as {
      events: unknown[];
    };
    expect(all.events).toHaveLength(3);
    const beta = (await (
      await get(base, `/v1/optouts/${NUMBER}/history`, { authorization: BETA })
    ).json()) as {
      events: Array<{ scope: string }>;
    };
    expect(beta.events.map((e) => e.scope)).toEqual(['sender:BETA']);
    await problemOf(await get(base, '/v1/optouts/99/history'), 422, 'unprocessable');
  });
});

describe('the opt-out routes as a whole', () => {
  it('need an API key on every route (401)', async () => {
    const { base } = await startServer();
    const requests: Array<[string, string]> = [
      ['GET', `/v1/optouts/${NUMBER}`],
      ['PUT', `/v1/optouts/${NUMBER}`],
      ['DELETE', `/v1/optouts/${NUMBER}?scope=global`],
      ['GET', `/v1/optouts/${NUMBER}/history`],
      ['POST', '/v1/optouts/import'],
      ['GET', '/v1/optouts/export'],
    ];
    for (const [method, path] of requests) {
      const res = await fetch(base + path, {
        method,
        headers: {
          authorization: 'Bearer nope',
          'content-type': method === 'POST' ? 'text/csv' : 'application/json',
        },
        body: method === 'PUT' ? '{}' : method === 'POST' ? `${NUMBER}\n` : undefined,
      });
      const p = await problemOf(res, 401, 'unauthorized');
      expect(p.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }
  });

  it('keeps /v1/optouts/import and /export apart from /v1/optouts/{number} (405, not a number)', async () => {
    const { base } = await startServer();
    for (const [method, path, allow] of [
      ['GET', '/v1/optouts/import', 'POST'],
      ['PUT', '/v1/optouts/import', 'POST'],
      ['DELETE', '/v1/optouts/import', 'POST'],
      ['PUT', '/v1/optouts/export', 'GET'],
      ['DELETE', '/v1/optouts/export', 'GET'],
      ['POST', '/v1/optouts/export', 'GET'],
      ['HEAD', '/v1/optouts/export', 'GET'],
      ['HEAD', '/v1/optouts/import', 'POST'],
      ['POST', `/v1/optouts/${NUMBER}`, 'GET, HEAD, PUT, DELETE'],
      ['PATCH', `/v1/optouts/${NUMBER}`, 'GET, HEAD, PUT, DELETE'],
      ['POST', `/v1/optouts/${NUMBER}/history`, 'GET, HEAD'],
    ] as const) {
      const res = await fetch(base + path, { method, headers: { authorization: ACME } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
    }
    const exported = await get(base, '/v1/optouts/export');
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  });

  it('answers 404 on every opt-out route when the server has no OptOutApi', async () => {
    const { base } = await startServer({ optouts: null });
    for (const [method, path] of [
      ['GET', `/v1/optouts/${NUMBER}`],
      ['PUT', `/v1/optouts/${NUMBER}`],
      ['DELETE', `/v1/optouts/${NUMBER}`],
      ['GET', `/v1/optouts/${NUMBER}/history`],
      ['POST', '/v1/optouts/import'],
      ['GET', '/v1/optouts/export'],
    ] as const) {
      const res = await fetch(base + path, { method, headers: { authorization: ACME } });
      const p = await problemOf(res, 404, 'not-found');
      expect(p.detail).toBe('the opt-out API is not enabled on this server');
    }
  });

  it('answers 503 with Retry-After when the store is down', async () => {
    const { base } = await startServer({ optouts: serviceOn(new DownStore()) });
    for (const res of [
      await put(base, NUMBER, {}),
      await get(base, `/v1/optouts/${NUMBER}`),
      await importCsv(base, `${NUMBER}\n`),
    ]) {
      await problemOf(res, 503, 'unavailable');
      expect(res.headers.get('retry-after')).toBe('1');
    }
  });
});

describe('POST /v1/optouts/import', () => {
  it('imports number[,scope[,reason]] rows, skips a header, and reports invalid rows by line', async () => {
    const { base, optOutStore, metrics } = await startServer();
    await optOutStore.add([entry('447700900002', 'global')]);
    const csv = [
      'Number,Scope,Reason', // 1: a header, any case
      '+447700900001', // 2: the default scope
      '447700900002,,"moved, no forwarding"', // 3: already opted out (global)
      '447700900003,sender:ACME,complaint', // 4
      'not-a-number,global', // 5: invalid number
      '447700900004,planet:mars', // 6: invalid scope
      '447700900005,global,a,b', // 7: too many fields
      '447700900006,send"er:ACME', // 8: a stray quote (the parser resumes at the next line)
      '447700900007,program:news', // 9
      '', // a blank line is no row
      '447700900001,global,"twice in one file"', // 11: already, from row 2
      '447700900008,"global', // 12: a quote never closed, up to the end of the file
    ].join('\r\n');
    const res = await importCsv(base, csv);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const report = (await res.json()) as ImportReport;
    expect(report).toMatchObject({ rows: 10, added: 3, alreadyOptedOut: 2, invalid: 5 });
    expect(report.results).toBeUndefined();
    expect(report.errors.map((e) => e.line)).toEqual([5, 6, 7, 8, 12]);
    expect(report.errors[0]!.error).toBe('number is not a possible E.164 phone number');
    expect(report.errors[1]!.error).toMatch(/^scope must be 'global'/);
    expect(report.errors[2]!.error).toMatch(/^4 fields, but the columns are number,scope,reason/);
    expect(report.errors[3]!.error).toMatch(/quote/);
    expect(report.errors[4]!.error).toMatch(/never closed/);
    expect(await keysOf(optOutStore)).toEqual([
      '447700900001 global',
      '447700900002 global',
      '447700900003 sender:ACME',
      '447700900007 program:news',
    ]);
    const stored = await optOutStore.get('447700900003');
    expect(stored[0]).toMatchObject({ source: 'import', reason: 'complaint', at: T0, sender: null });
    expect(await metrics.registry.metrics()).toMatch(
      /sluice_optout_changes_total\{action="opt_out",source="import"\} 3\n/,
    );
  });

  it('answers a result for every row with report=rows, and uses ?scope= as the default scope', async () => {
    const { base, optOutStore } = await startServer();
    const res = await importCsv(
      base,
      '447700900001\n447700900001\nbad\n447700900002,global\n',
      '?scope=sender:ACME&report=rows',
    );
    const report = (await res.json()) as ImportReport;
    expect(report.results).toEqual([
      { line: 1, result: 'added', number: '447700900001' },
      { line: 2, result: 'already_opted_out', number: '447700900001' },
      { line: 3, result: 'invalid', error: 'number is not a possible E.164 phone number' },
      { line: 4, result: 'added', number: '447700900002' },
    ]);
    expect(await keysOf(optOutStore)).toEqual(['447700900001 sender:ACME', '447700900002 global']);
  });

  it('checks the default scope before any row (422, 403) and each row’s scope against the key', async () => {
    const { base, optOutStore } = await startServer();
    await problemOf(await importCsv(base, `${NUMBER}\n`, '?scope=planet:mars'), 422, 'unprocessable');
    // beta's default would be global.
    await problemOf(await importCsv(base, `${NUMBER}\n`, '', { authorization: BETA }), 403, 'forbidden');
    expect(await keysOf(optOutStore)).toEqual([]);

    const res = await importCsv(
      base,
      `${NUMBER}\n${NUMBER},global\n${NUMBER},program:news\n`,
      '?scope=sender:BETA',
      {
        authorization: BETA,
      },
    );
    const report = (await res.json()) as ImportReport;
    expect(report).toMatchObject({ rows: 3, added: 2, invalid: 1 });
    expect(report.errors).toEqual([
      { line: 2, error: "API key 'beta' may not manage opt-outs in scope 'global'" },
    ]);
  });

  it('answers 415 to anything but text/csv in UTF-8, and 400 to unknown parameters or header columns', async () => {
    const { base } = await startServer();
    for (const type of ['application/json', 'text/plain', 'text/csv; charset=latin1']) {
      await problemOf(
        await importCsv(base, `${NUMBER}\n`, '', { 'content-type': type }),
        415,
        'unsupported-media-type',
      );
    }
    expect(
      (await importCsv(base, `${NUMBER}\n`, '', { 'content-type': 'Text/CSV; Charset="UTF-8"' })).status,
    ).toBe(200);
    await problemOf(await importCsv(base, `${NUMBER}\n`, '?report=all'), 400, 'invalid-request');
    await problemOf(await importCsv(base, `${NUMBER}\n`, '?dry=1'), 400, 'invalid-request');
    const p = await problemOf(
      await importCsv(base, `number,scop\n${NUMBER},global\n`),
      400,
      'invalid-request',
    );
    expect(p.errors?.[0]?.field).toBe('header column 2');
  });

  it('answers a header-only or empty file with zero rows', async () => {
    const { base } = await startServer();
    for (const csv of ['', 'number\r\n', '\n\n']) {
      const report = (await (await importCsv(base, csv)).json()) as ImportReport;
      expect(report).toEqual({ rows: 0, added: 0, alreadyOptedOut: 0, invalid: 0, errors: [] });
    }
  });

  it('answers 413 past optoutImportMaxBytes, declared or streamed', async () => {
    const { base, port } = await startServer({ optoutImportMaxBytes: 1000 });
    const big = `${NUMBER}\n`.repeat(100);
    await problemOf(await importCsv(base, big), 413, 'payload-too-large');
    const streamed = await rawExchange(
      port,
      'POST /v1/optouts/import HTTP/1.1\r\nHost: x\r\nAuthorization: ' +
        `${ACME}\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${(600).toString(16)}\r\n${'4'.repeat(599)}\n\r\n${(600).toString(16)}\r\n${'4'.repeat(599)}\n\r\n`,
    );
    expect(streamed).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('streams 50,000 rows sent in many small chunks, with bad rows reported by line', async () => {
    const { port, optOutStore, log } = await startServer();
    const lines = ['number,scope,reason'];
    const bad = new Map<number, string>();
    for (let i = 0; i < 50_000; i++) {
      const line = i + 2;
      if (i % 5000 === 17) {
        bad.set(line, 'number');
        lines.push(`12${i}`);
      } else if (i % 5000 === 4242) {
        bad.set(line, 'quote');
        lines.push(`${ukNumber(i)},sender:"ACME"`);
      } else {
        lines.push(`${ukNumber(i)},${i % 2 === 0 ? 'global' : 'sender:ACME'},"row ${i}, é"`);
      }
    }
    const body = Buffer.from(`${lines.join('\n')}\n`);
    // Writes of 1..96 bytes: rows, quoted fields and two-byte characters are cut everywhere.
    let size = 1;
    const response = await streamImport(port, body, () => {
      size = (size * 31 + 7) % 97 || 1;
      return size;
    }).response;
    expect(response.status).toBe(200);
    const report = JSON.parse(response.text) as ImportReport;
    expect(report.rows).toBe(50_000);
    expect(report.invalid).toBe(bad.size);
    expect(report.added).toBe(50_000 - bad.size);
    expect(report.errors.map((e) => e.line)).toEqual([...bad.keys()]);
    for (const e of report.errors) {
      expect(e.error).toMatch(bad.get(e.line) === 'number' ? /^number is not/ : /quote/);
    }
    const keys = await keysOf(optOutStore);
    expect(keys).toHaveLength(50_000 - bad.size);
    expect(await optOutStore.get(ukNumber(1))).toEqual([
      {
        number: ukNumber(1),
        scope: 'sender:ACME',
        at: T0,
        source: 'import',
        keyword: null,
        reason: 'row 1, é',
        sender: null,
      },
    ]);
    expect(log.lines.some((l) => l.msg === 'opt-out import finished' && l.rows === 50_000)).toBe(true);
  });

  it('pauses reading the body while the store is behind, and finishes once it catches up', async () => {
    const gate = deferred<void>();
    const second = deferred<void>();
    let batches = 0;
    const { slow } = slowStore((n) => {
      batches = n;
      if (n === 2) second.resolve();
      return n > 1 ? gate.promise : null;
    });
    const { port } = await startServer({ optouts: serviceOn(slow) });
    // 20 MB: far more than a few batches, and than the sockets and uWS buffer between the client
    // and the parser.
    const upload = streamImport(port, bulkyCsv(40_000), () => 16 * 1024);
    // The second batch waits on the gate: the server stops reading, the client cannot finish.
    try {
      await second.promise;
      // The client is held up by the socket, and stays held up: the server reads no further
      // (a server that kept reading would take the whole body and let it finish).
      await upload.blocked();
      await new Promise((r) => setTimeout(r, 200));
      expect(batches).toBe(2);
      expect(upload.finished()).toBe(false);
    } finally {
      gate.resolve();
    }
    const { status, text } = await upload.response;
    expect(status).toBe(200);
    expect(upload.finished()).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ rows: 40_000, added: 40_000, invalid: 0 });
  });

  it('loses no row that arrived while the store was behind (kept as bytes until parsed)', async () => {
    // 2,500 rows: two full batches and a partial one. The first batch is held until the client
    // has sent everything in small chunks, so the rest waits as bytes.
    const gate = deferred<void>();
    const { slow } = slowStore((n) => (n === 1 ? gate.promise : null));
    const { port } = await startServer({ optouts: serviceOn(slow) });
    const body = Buffer.from(Array.from({ length: 2_500 }, (_, i) => `${ukNumber(i)}\n`).join(''));
    const upload = streamImport(port, body, () => 100);
    await upload.sent;
    gate.resolve();
    const { status, text } = await upload.response;
    expect(status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ rows: 2_500, added: 2_500, invalid: 0 });
  });

  it('keeps the connection of a paused import through a store stall longer than uWS’s idle timeout', async () => {
    // uWS closes a connection that sends nothing for 10 s (checked every 4 s) unless its body is
    // paused; what it had read before the pause re-arms that timer unless paused again.
    const { slow } = slowStore((n) => (n === 2 ? new Promise((r) => setTimeout(r, 13_000)) : null));
    const { port } = await startServer({ optouts: serviceOn(slow) });
    const { status, text } = await streamImport(port, bulkyCsv(40_000), () => 64 * 1024).response;
    expect(status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ rows: 40_000, added: 40_000 });
  }, 40_000);
});

describe('GET /v1/optouts/export', () => {
  it('exports CSV with a header that imports back elsewhere into the same set', async () => {
    const { base, optOutStore } = await startServer();
    await optOutStore.add([
      entry('447700900001', 'global', { reason: 'said "stop", twice\nthen hung up' }),
      entry('447700900001', 'sender:ACME'),
      entry('447700900002', 'program:news', { source: 'api', keyword: null, sender: null, reason: 'é ü 😀' }),
      entry('14155550100', 'sender:OTHER', { at: T0 + 1 }),
    ]);
    const res = await get(base, '/v1/optouts/export');
    expect(res.status).toBe(200);
    const text = await res.text();
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(['number', 'scope', 'at', 'source', 'keyword', 'reason', 'sender']);
    expect(rows.slice(1).sort()).toEqual(
      [
        ['447700900001', 'global', T0_ISO, 'keyword', 'STOP', 'said "stop", twice\nthen hung up', 'ACME'],
        ['447700900001', 'sender:ACME', T0_ISO, 'keyword', 'STOP', '', 'ACME'],
        ['447700900002', 'program:news', T0_ISO, 'api', '', 'é ü 😀', ''],
        ['14155550100', 'sender:OTHER', '2026-11-22T09:30:00.001Z', 'keyword', 'STOP', '', 'ACME'],
      ].sort(),
    );

    const other = await startServer();
    const imported = (await (await importCsv(other.base, text)).json()) as ImportReport;
    expect(imported).toMatchObject({ rows: 4, added: 4, invalid: 0 });
    expect(await keysOf(other.optOutStore)).toEqual(await keysOf(optOutStore));
    expect((await other.optOutStore.get('447700900001'))[0]!.reason).toBe('said "stop", twice\nthen hung up');
  });

  it('exports one scope; a limited key only its own scopes (403 for the whole list)', async () => {
    const { base, optOutStore } = await startServer();
    await optOutStore.add([entry('447700900001', 'global'), entry('447700900002', 'sender:BETA')]);
    const beta = await get(base, '/v1/optouts/export?scope=sender:BETA', { authorization: BETA });
    expect(parseCsv(await beta.text()).map((r) => r[0])).toEqual(['number', '447700900002']);
    await problemOf(await get(base, '/v1/optouts/export', { authorization: BETA }), 403, 'forbidden');
    await problemOf(
      await get(base, '/v1/optouts/export?scope=global', { authorization: BETA }),
      403,
      'forbidden',
    );
    await problemOf(await get(base, '/v1/optouts/export?scope=nope'), 422, 'unprocessable');
    await problemOf(await get(base, '/v1/optouts/export?page=2'), 400, 'invalid-request');
    const empty = await get(base, '/v1/optouts/export?scope=sender:OTHER');
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('number,scope,at,source,keyword,reason,sender\r\n');
  });

  it('answers 503 when the store fails before the first page', async () => {
    class ScanDown extends MemoryOptOutStore {
      override scan(): AsyncIterable<OptOutEntry[]> {
        return {
          [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('connection refused')) }),
        };
      }
    }
    const { base } = await startServer({ optouts: serviceOn(new ScanDown()) });
    const res = await get(base, '/v1/optouts/export');
    await problemOf(res, 503, 'unavailable');
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('waits for a slow reader before reading further pages, and sends all 100,000 entries', async () => {
    const store = new MemoryOptOutStore();
    const all: OptOutEntry[] = [];
    for (let i = 0; i < 100_000; i++)
      all.push(entry(`1415${String(i).padStart(7, '0')}`, 'global', { reason: 'r'.repeat(200) }));
    await store.add(all);
    let pulled = 0;
    const service = serviceOn(store);
    const counting: OptOutApi = {
      get: (...a) => service.get(...a),
      put: (...a) => service.put(...a),
      remove: (...a) => service.remove(...a),
      history: (...a) => service.history(...a),
      importRows: (...a) => service.importRows(...a),
      export: (account, scope) => {
        const pages = service.export(account, scope);
        return {
          async *[Symbol.asyncIterator]() {
            for await (const page of pages) {
              pulled++;
              yield page;
            }
          },
        };
      },
    };
    const { port } = await startServer({ optouts: counting });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http
        .get(
          { host: '127.0.0.1', port, path: '/v1/optouts/export', headers: { authorization: ACME } },
          resolve,
        )
        .on('error', reject),
    );
    expect(res.statusCode).toBe(200);
    // Not read at all for a while: the server stops pulling pages once uWS has to buffer.
    res.pause();
    await new Promise((r) => setTimeout(r, 300));
    const stalled = pulled;
    await new Promise((r) => setTimeout(r, 300));
    expect(pulled).toBe(stalled);
    expect(stalled).toBeLessThan(100);
    // Then read slowly, a chunk at a time.
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        res.pause();
        setTimeout(() => res.resume(), chunks.length % 50 === 0 ? 20 : 0);
      });
      res.on('end', resolve);
      res.on('error', reject);
      res.resume();
    });
    const rows = parseCsv(Buffer.concat(chunks).toString('utf8'));
    expect(rows).toHaveLength(100_001);
    expect(new Set(rows.slice(1).map((r) => r[0])).size).toBe(100_000);
    expect(pulled).toBe(100);
  });

  it('stops the scan when the client goes away in the middle', async () => {
    const store = new MemoryOptOutStore();
    const all: OptOutEntry[] = [];
    for (let i = 0; i < 50_000; i++)
      all.push(entry(`1415${String(i).padStart(7, '0')}`, 'global', { reason: 'r'.repeat(200) }));
    await store.add(all);
    const returned = deferred<void>();
    class Watched extends MemoryOptOutStore {
      override scan(scope: OptOutEntry['scope'] | null, pageSize: number): AsyncIterable<OptOutEntry[]> {
        const inner = store.scan(scope, pageSize);
        return {
          [Symbol.asyncIterator]: () => {
            const it = inner[Symbol.asyncIterator]();
            return {
              next: () => it.next(),
              return: async () => {
                returned.resolve();
                return (await it.return?.()) ?? { done: true, value: undefined };
              },
            };
          },
        };
      }
    }
    const { port, log, metrics } = await startServer({ optouts: serviceOn(new Watched()) });
    await new Promise<void>((resolve, reject) => {
      http
        .get(
          { host: '127.0.0.1', port, path: '/v1/optouts/export', headers: { authorization: ACME } },
          (res) => {
            res.once('data', () => {
              res.destroy();
              resolve();
            });
          },
        )
        .on('error', reject);
    });
    await returned.promise;
    await log.waitFor((l) => l.msg === 'client aborted the request');
    expect(await metrics.registry.metrics()).toContain('route="/v1/optouts/export",status="499"');
  });
});
