import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import {
  ACME,
  get,
  KEYS,
  MAX_BODY,
  makeRecord,
  post,
  rawExchange,
  startServer,
  T0,
  VALID,
} from './helpers.js';

const PROBLEM_JSON = 'application/problem+json';

async function problemOf(res: Response) {
  expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
  return (await res.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    errors?: Array<{ field: string; message: string }>;
  };
}

describe('POST /v1/messages', () => {
  it('answers 202 with the rendered message and its Location, and gives the core exactly the request', async () => {
    const { base, api } = await startServer();
    const request = {
      ...VALID,
      reference: 'order-42',
      campaignId: 'spring',
      callbackUrl: 'https://hooks.example.com/sms?x=1',
      validitySeconds: 3600,
      encoding: 'gsm7',
      smartEncoding: false,
    };
    const res = await post(base, '/v1/messages', request);
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.headers.get('location')).toBe(`/v1/messages/${body.id}`);
    expect(api.submits).toEqual([{ account: { name: 'acme', senders: ['*'] }, request, key: null }]);
    expect(body).toEqual({
      id: expect.any(String),
      status: 'accepted',
      from: 'ACME',
      to: '447700900123',
      encoding: 'gsm7',
      partCount: 1,
      parts: [{ index: 0, state: 'pending', smscId: null, submittedAt: null, finalAt: null, error: null }],
      reference: 'order-42',
      campaignId: null,
      createdAt: '2026-11-22T09:30:00.000Z',
      validUntil: '2026-11-23T09:30:00.000Z',
      events: [{ status: 'accepted', at: '2026-11-22T09:30:00.000Z' }],
      error: null,
      reason: null,
      heldUntil: null,
    });
    expect(JSON.stringify(body)).not.toContain('secret text');
  });

  it('forwards the Idempotency-Key and answers 200 when the key was used before', async () => {
    const { base, api } = await startServer();
    const existing = makeRecord();
    api.onSubmit = async (_request, key) => ({ message: existing, created: key !== 'retry-1' });
    const first = await post(base, '/v1/messages', VALID, { 'idempotency-key': 'first-1' });
    expect(first.status).toBe(202);
    const again = await post(base, '/v1/messages', VALID, { 'idempotency-key': 'retry-1' });
    expect(again.status).toBe(200);
    expect(again.headers.get('location')).toBe(`/v1/messages/${existing.id}`);
    expect(((await again.json()) as { id: string }).id).toBe(existing.id);
    expect(api.submits.map((s) => s.key)).toEqual(['first-1', 'retry-1']);
  });

  it.each([
    ['too long', 'k'.repeat(256)],
    ['not printable ASCII', 'clé-1'],
  ])('refuses an Idempotency-Key that is %s with 400 invalid-request', async (_why, key) => {
    const { base, api } = await startServer();
    // fetch refuses non-Latin-1 header values; send the bytes raw.
    const res = await post(base, '/v1/messages', VALID, {
      'idempotency-key': Buffer.from(key).toString('latin1'),
    });
    expect(res.status).toBe(400);
    const p = await problemOf(res);
    expect(p.type).toBe('https://sluice.dev/problems/invalid-request');
    expect(p.errors).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
    expect(api.submits).toHaveLength(0);
  });

  it('accepts a 255-character Idempotency-Key and a charset parameter on the media type', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages', VALID, {
      'idempotency-key': 'k'.repeat(255),
      'content-type': 'Application/JSON; charset=utf-8',
    });
    expect(res.status).toBe(202);
    expect(api.submits[0]!.key).toHaveLength(255);
  });

  it.each([
    ['a content coding', { 'content-encoding': 'gzip' }, /Content-Encoding gzip is not taken/],
    ['a charset other than UTF-8', { 'content-type': 'application/json; charset=iso-8859-1' }, /UTF-8/],
  ])('answers a body with %s with 415, taking none of it', async (_what, headers, detail) => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages', VALID, headers);
    expect(res.status).toBe(415);
    expect((await problemOf(res)).detail).toMatch(detail);
    expect(api.submits).toHaveLength(0);
  });

  it('takes Content-Encoding: identity, a quoted UTF-8 charset and a byte order mark', async () => {
    const { base, api } = await startServer();
    for (const [headers, body] of [
      [{ 'content-encoding': 'identity' }, JSON.stringify(VALID)],
      [{ 'content-type': 'application/json; charset="UTF-8"' }, JSON.stringify(VALID)],
      [{}, `\ufeff${JSON.stringify(VALID)}`],
    ] as const) {
      const res = await post(base, '/v1/messages', body, headers);
      expect(res.status, JSON.stringify(headers)).toBe(202);
    }
    expect(api.submits).toHaveLength(3);
  });

  it.each([
    ['malformed JSON', '{"from": "ACME",', 'not valid JSON'],
    ['an empty body', '', 'empty'],
  ])('answers %s with 400 invalid-json', async (_what, text, detail) => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages', text);
    expect(res.status).toBe(400);
    const p = await problemOf(res);
    expect(p).toMatchObject({ type: 'https://sluice.dev/problems/invalid-json', status: 400 });
    expect(p.detail).toContain(detail);
    expect(api.submits).toHaveLength(0);
  });

  it('answers a body that is not UTF-8 with 400 invalid-json', async () => {
    const { base } = await startServer();
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: ACME, 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).detail).toContain('UTF-8');
  });

  it('names every field that is unknown, of the wrong type, missing or out of range', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages', {
      from: 'ACME',
      to: 447700900123,
      colour: 'red',
      reference: 'r'.repeat(65),
      callbackUrl: 'ftp://example.com/x',
      validitySeconds: 0,
      encoding: 'latin1',
      smartEncoding: 'yes',
    });
    expect(res.status).toBe(400);
    const p = await problemOf(res);
    expect(p.type).toBe('https://sluice.dev/problems/invalid-request');
    expect(p.errors).toEqual(
      expect.arrayContaining([
        { field: 'colour', message: 'unknown field' },
        { field: 'to', message: 'must be a string' },
        { field: 'body', message: 'is required' },
        { field: 'reference', message: 'must be at most 64 characters' },
        { field: 'callbackUrl', message: 'must be an absolute http or https URL' },
        { field: 'validitySeconds', message: 'must be an integer from 1 to 2592000' },
        { field: 'encoding', message: 'must be one of auto, gsm7, ucs2' },
        { field: 'smartEncoding', message: 'must be a boolean' },
      ]),
    );
    expect(p.errors).toHaveLength(8);
    expect(p.detail).toContain('colour: unknown field');
    expect(api.submits).toHaveLength(0);
  });

  it('answers a value nested thousands deep with 400, quoting its kind, not the value', async () => {
    const { base, api } = await startServer();
    const deep = `${'['.repeat(1500)}${']'.repeat(1500)}`;
    for (const field of ['start', 'end', 'days']) {
      const quietHours = { start: '21:00', end: '08:00', [field]: '(deep)' };
      const text = JSON.stringify({ from: 'ACME', to: '+447700900123', body: 'x', quietHours });
      const res = await post(
        base,
        '/v1/messages',
        text.replace('"(deep)"', field === 'days' ? `[${deep}]` : deep),
      );
      expect(res.status, field).toBe(400);
      const p = await problemOf(res);
      expect(p.errors).toEqual([
        { field: `quietHours.${field}`, message: expect.stringMatching(/got an array$/) },
      ]);
    }
    expect(api.submits).toHaveLength(0);
  });

  it('lists the first 20 complaints, counts the rest in the detail, and cuts the strings it quotes', async () => {
    const { base } = await startServer();
    const res = await post(base, '/v1/segments', { text: 'x', nationalLanguages: Array(500).fill('x') });
    expect(res.status).toBe(400);
    const p = await problemOf(res);
    expect(p.errors).toHaveLength(20);
    expect(p.errors?.[19]?.field).toBe('nationalLanguages[19]');
    expect(p.detail).toMatch(/; and 497 more \(480 not listed in errors\)$/);

    const days = await post(base, '/v1/messages', {
      from: 'ACME',
      to: '+447700900123',
      body: 'x',
      quietHours: { start: '21:00', end: '08:00', days: ['d'.repeat(3000)] },
    });
    expect((await problemOf(days)).errors?.[0]?.message).toMatch(/got 'd{40}…' \(3000 characters\)$/);
  });

  it.each([
    ['an array', '[]'],
    ['a string', '"hello"'],
    ['null', 'null'],
  ])('answers a body that is %s with 400 invalid-request', async (_what, text) => {
    const { base } = await startServer();
    const res = await post(base, '/v1/messages', text);
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
  });

  it('answers 415 to a body without Content-Type: application/json', async () => {
    const { base, api } = await startServer();
    for (const type of [null, 'text/plain', 'application/jsonx']) {
      const headers: Record<string, string> = { authorization: ACME };
      if (type !== null) headers['content-type'] = type;
      // A Blob without a type keeps fetch from adding text/plain itself.
      const res = await fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers,
        body: new Blob([JSON.stringify(VALID)]),
      });
      expect(res.status, String(type)).toBe(415);
      expect((await problemOf(res)).type).toBe('https://sluice.dev/problems/unsupported-media-type');
    }
    expect(api.submits).toHaveLength(0);
  });

  it('answers 413 when Content-Length exceeds maxBodyBytes, before reading the body', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages', { ...VALID, body: 'x'.repeat(MAX_BODY) });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect((await problemOf(res)).type).toBe('https://sluice.dev/problems/payload-too-large');
    expect(api.submits).toHaveLength(0);
  });

  it('answers 413 as soon as a chunked body streams past maxBodyBytes', async () => {
    const { base, api } = await startServer();
    let pulled = 0;
    const chunk = new TextEncoder().encode(`{"from":"ACME","to":"1","body":"${'x'.repeat(1000)}`);
    // Endless: the stream only stops because the server answered and closed.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: ACME, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await problemOf(res)).status).toBe(413);
    expect(pulled).toBeGreaterThan(MAX_BODY / chunk.length);
    expect(api.submits).toHaveLength(0);
  });

  it('takes a body of exactly maxBodyBytes, sent in several chunks', async () => {
    const { base, api } = await startServer();
    const head = JSON.stringify({ ...VALID, body: '' }).slice(0, -2);
    const text = `${head}${'y'.repeat(MAX_BODY - head.length - 2)}"}`;
    expect(Buffer.byteLength(text)).toBe(MAX_BODY);
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.subarray(i, i + 1000));
        controller.close();
      },
    });
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: ACME, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(202);
    expect(api.submits[0]!.request.body).toHaveLength(MAX_BODY - head.length - 2);
  });

  it('answers 401 with a Bearer challenge without a key, with an unknown key, or another scheme', async () => {
    const { base, api } = await startServer();
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'Bearer'],
      [{ authorization: 'Bearer not-a-key' }, 'Bearer error="invalid_token"'],
      [{ authorization: `Bearer ${KEYS[0]!.key}x` }, 'Bearer error="invalid_token"'],
      [{ authorization: `Basic ${Buffer.from('acme:x').toString('base64')}` }, 'Bearer'],
      [{ authorization: 'Bearer ' }, 'Bearer'],
    ];
    for (const [headers, challenge] of cases) {
      const res = await fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(VALID),
      });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(challenge);
      expect((await problemOf(res)).type).toBe('https://sluice.dev/problems/unauthorized');
    }
    expect(api.submits).toHaveLength(0);
  });

  it('takes the scheme in any case and gives the core the key’s own account', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages', VALID, { authorization: `bearer ${KEYS[1]!.key}` });
    expect(res.status).toBe(202);
    expect(api.submits[0]!.account).toEqual({ name: 'beta', senders: ['BETA'] });
  });

  it('keeps the connection usable after answering 401 without reading a body of known length', async () => {
    const { port } = await startServer();
    const body = JSON.stringify(VALID);
    const first = `POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const second = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    const text = await rawExchange(port, first + second);
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toEqual(['401', '200']);
    expect(text).toContain('{"status":"ok"}');
  });

  it.each([
    [403, 'forbidden', [{ field: 'from', message: 'not allowed for this API key' }]],
    [409, 'conflict', []],
    [422, 'unprocessable', [{ field: 'to', message: 'expected an E.164 number' }]],
    [429, 'too-many-requests', []],
    [503, 'unavailable', []],
  ])('renders the core’s ApiError %i %s as its problem', async (status, type, fields) => {
    const { base, api } = await startServer();
    api.onSubmit = async () => {
      throw new ApiError(status, type, `the core says ${type}`, fields);
    };
    const res = await post(base, '/v1/messages', VALID);
    expect(res.status).toBe(status);
    const p = await problemOf(res);
    expect(p).toMatchObject({
      type: `https://sluice.dev/problems/${type}`,
      status,
      detail: `the core says ${type}`,
    });
    expect(p.title.length).toBeGreaterThan(0);
    if (fields.length > 0) expect(p.errors).toEqual(fields);
    else expect(p.errors).toBeUndefined();
  });

  it('answers any other exception with a 500 that says nothing, and logs it with the route', async () => {
    const { base, api, log } = await startServer();
    api.onSubmit = async () => {
      throw new Error('redis at 10.0.0.7 refused: password hunter2');
    };
    const res = await post(base, '/v1/messages', VALID);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ type: 'https://sluice.dev/problems/internal', status: 500 });
    expect(text).not.toMatch(/hunter2|10\.0\.0\.7|redis|at /);
    const line = await log.waitFor((l) => l.level === 50);
    expect(line.route).toBe('/v1/messages');
    expect(line.err?.message).toContain('hunter2');
    // Neither the number nor the text reaches the log.
    expect(JSON.stringify(log.lines)).not.toMatch(/447700900123|Hello there/);
  });

  it('answers a core ApiError with a status outside 400..599 as a 500', async () => {
    const { base, api } = await startServer();
    api.onSubmit = async () => {
      throw new ApiError(200, 'ok', 'not an error');
    };
    const res = await post(base, '/v1/messages', VALID);
    expect(res.status).toBe(500);
  });
});

describe('GET /v1/messages/{id}', () => {
  it('answers 200 with the rendered message, parts and events', async () => {
    const { base, api } = await startServer();
    const record = makeRecord({
      status: 'delivered',
      reference: 'ref-1',
      campaignId: 'camp',
      parts: [
        {
          index: 0,
          units: 153,
          smscId: 'abc',
          state: 'delivered',
          submittedAt: T0 + 1000,
          finalAt: T0 + 5000,
          error: null,
        },
        {
          index: 1,
          units: 20,
          smscId: 'abd',
          state: 'delivered',
          submittedAt: T0 + 1001,
          finalAt: T0 + 6000,
          error: null,
        },
      ],
      events: [
        { status: 'accepted', at: T0 },
        { status: 'sent', at: T0 + 1001 },
        { status: 'delivered', at: T0 + 6000 },
      ],
    });
    api.records.set(record.id, record);
    const res = await get(base, `/v1/messages/${record.id}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      id: record.id,
      status: 'delivered',
      reference: 'ref-1',
      campaignId: 'camp',
      partCount: 2,
      parts: [
        {
          index: 0,
          state: 'delivered',
          smscId: 'abc',
          submittedAt: '2026-11-22T09:30:01.000Z',
          finalAt: '2026-11-22T09:30:05.000Z',
          error: null,
        },
        { index: 1, smscId: 'abd', finalAt: '2026-11-22T09:30:06.000Z' },
      ],
      events: [
        { status: 'accepted', at: '2026-11-22T09:30:00.000Z' },
        { status: 'sent', at: '2026-11-22T09:30:01.001Z' },
        { status: 'delivered', at: '2026-11-22T09:30:06.000Z' },
      ],
    });
    expect(body).not.toHaveProperty('body');
    expect(api.gets).toEqual([{ account: { name: 'acme', senders: ['*'] }, id: record.id }]);
  });

  it('renders a failed message’s error', async () => {
    const { base, api } = await startServer();
    const record = makeRecord({
      status: 'failed',
      error: { code: 'ESME_RINVDSTADR', message: 'bad number' },
    });
    api.records.set(record.id, record);
    const body = (await (await get(base, `/v1/messages/${record.id}`)).json()) as { error: unknown };
    expect(body.error).toEqual({ code: 'ESME_RINVDSTADR', message: 'bad number' });
  });

  it('answers 404 not-found when the core has no such message, and 401 without a key', async () => {
    const { base, api } = await startServer();
    const res = await get(base, '/v1/messages/01JDNOSUCHMESSAGE000000000');
    expect(res.status).toBe(404);
    expect((await problemOf(res)).type).toBe('https://sluice.dev/problems/not-found');
    expect(api.gets).toHaveLength(1);
    const anonymous = await get(base, '/v1/messages/01JDNOSUCHMESSAGE000000000', {});
    expect(anonymous.status).toBe(401);
    expect(api.gets).toHaveLength(1);
  });

  it('takes an id in any case, as ULIDs are', async () => {
    const { base, api } = await startServer();
    const record = makeRecord({ id: '01JDSOMEID0000000000000000' });
    api.records.set(record.id, record);
    const res = await get(base, '/v1/messages/01jdsomeid0000000000000000');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe(record.id);
  });

  it('answers 404 for an id too long to be one, without asking the core', async () => {
    const { base, api } = await startServer();
    const res = await get(base, `/v1/messages/${'a'.repeat(129)}`);
    expect(res.status).toBe(404);
    expect(api.gets).toHaveLength(0);
  });
});
