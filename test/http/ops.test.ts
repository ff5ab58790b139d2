import { once } from 'node:events';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MessageRecord } from '../../src/core/types.js';
import { ApiError } from '../../src/errors.js';
import { freePort } from '../support/processes.js';
import { ACME, deferred, get, makeRecord, post, startServer, VALID } from './helpers.js';

describe('POST /v1/segments', () => {
  it('answers 200 with the preview, octets as hex, and gives the core the options as sent', async () => {
    const { base, api } = await startServer();
    const options = {
      mode: 'udh16',
      encoding: 'auto',
      smartEncoding: true,
      nationalLanguages: ['turkish'],
      maxParts: 3,
    };
    const res = await post(base, '/v1/segments', { text: 'Merhaba 😀', ...options });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      encoding: string;
      partCount: number;
      parts: Array<{ seq: number; hex: string; text: string }>;
      forcedUcs2: Array<{ codePoint: string }>;
    };
    expect(body.encoding).toBe('ucs2');
    expect(body.partCount).toBe(1);
    expect(body.parts[0]).toMatchObject({ seq: 1, text: 'Merhaba 😀' });
    expect(body.parts[0]!.hex).toMatch(/^[0-9a-f]+$/);
    expect(body.forcedUcs2.map((c) => c.codePoint)).toEqual(['U+1F600']);
    expect(api.previews).toEqual([{ text: 'Merhaba 😀', options }]);
  });

  it('names the fields of the wrong shape', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/segments', {
      mode: 'udh7',
      maxParts: 256,
      nationalLanguages: ['spanish', 'klingon'],
      packed: true,
    });
    expect(res.status).toBe(400);
    const p = (await res.json()) as { errors: Array<{ field: string }> };
    expect(p.errors.map((e) => e.field).sort()).toEqual(
      ['maxParts', 'mode', 'nationalLanguages[1]', 'packed', 'text'].sort(),
    );
    expect(api.previews).toHaveLength(0);
  });

  it('answers the core’s 422 for text that cannot be sent as asked', async () => {
    const { base, api } = await startServer();
    api.onPreview = () => {
      throw new ApiError(422, 'unprocessable', 'text cannot be sent as GSM-7', [
        { field: 'text', message: 'x' },
      ]);
    };
    const res = await post(base, '/v1/segments', { text: '😀', encoding: 'gsm7' });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { type: string }).type).toBe('https://sluice.dev/problems/unprocessable');
  });

  it('needs an API key', async () => {
    const { base } = await startServer();
    const res = await post(base, '/v1/segments', { text: 'hi' }, { authorization: '' });
    expect(res.status).toBe(401);
  });
});

describe('health, readiness and metrics', () => {
  it('GET /healthz answers 200 without a key', async () => {
    const { base } = await startServer();
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 when ready, 503 with the readiness when not, 503 while shutting down', async () => {
    const { base, api, shuttingDown } = await startServer();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, store: true, connectorsUp: ['smsc-a'] });

    api.onReadiness = async () => ({ ready: false, store: true, connectorsUp: [] });
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, store: true, connectorsUp: [] });

    api.onReadiness = async () => ({ ready: true, store: true, connectorsUp: ['smsc-a'] });
    shuttingDown.value = true;
    const calls = api.readinessCalls;
    const draining = await fetch(`${base}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ ready: false, shuttingDown: true });
    expect(api.readinessCalls).toBe(calls);
  });

  it('GET /readyz answers 503 unavailable when the check itself fails', async () => {
    const { base, api, log } = await startServer();
    api.onReadiness = async () => {
      throw new Error('store timeout');
    };
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { type: string }).type).toBe('https://sluice.dev/problems/unavailable');
    expect((await log.waitFor((l) => l.level === 50)).route).toBe('/readyz');
  });

  it('GET /metrics answers the registry text, counting requests by route template and status', async () => {
    const { base, metrics } = await startServer();
    await get(base, '/v1/messages/01JDSOMEID0000000000000000');
    await get(base, '/v1/messages/01JDOTHERID000000000000000');
    await post(base, '/v1/messages', VALID);
    await fetch(`${base}/no/such/route`);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    const text = await res.text();
    expect(text).toContain('sluice_http_requests_total{route="/v1/messages/{id}",status="404"} 2');
    expect(text).toContain('sluice_http_requests_total{route="/v1/messages",status="202"} 1');
    expect(text).toContain('sluice_http_requests_total{route="unmatched",status="404"} 1');
    expect(text).toContain('sluice_http_request_seconds_count{route="/v1/messages/{id}"} 2');
    expect(text).not.toContain('01JDSOMEID');
    expect(text).not.toContain('/no/such/route');
  });
});

describe('routing', () => {
  it('answers an unknown route with 404 not-found', async () => {
    const { base } = await startServer();
    for (const path of ['/', '/v2/messages', '/v1/messages/x/y', '/v1/messages/']) {
      const res = await get(base, path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(((await res.json()) as { type: string }).type).toBe('https://sluice.dev/problems/not-found');
    }
  });

  it.each([
    ['GET', '/v1/messages', 'POST'],
    ['PUT', '/v1/messages', 'POST'],
    ['GET', '/v1/messages/batch', 'POST'],
    ['DELETE', '/v1/messages/01JDSOMEID0000000000000000', 'GET, HEAD'],
    ['POST', '/v1/messages/01JDSOMEID0000000000000000', 'GET, HEAD'],
    ['GET', '/v1/segments', 'POST'],
    ['HEAD', '/v1/messages/batch', 'POST'],
    ['HEAD', '/v1/messages', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['DELETE', '/metrics', 'GET, HEAD'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const { base, api } = await startServer();
    const res = await fetch(base + path, { method, headers: { authorization: ACME } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    if (method !== 'HEAD') {
      expect(((await res.json()) as { type: string }).type).toBe(
        'https://sluice.dev/problems/method-not-allowed',
      );
    }
    expect(api.gets).toHaveLength(0);
  });
});

describe('HEAD', () => {
  it('answers HEAD on a GET route as its GET, headers only, and keeps the connection usable', async () => {
    const { base, api, port } = await startServer();
    api.records.set('01JDSOMEID0000000000000000', makeRecord({ id: '01JDSOMEID0000000000000000' }));
    for (const path of [
      '/healthz',
      '/readyz',
      '/metrics',
      '/v1/messages/01JDSOMEID0000000000000000',
      '/nope',
    ]) {
      const got = await fetch(base + path, { headers: { authorization: ACME } });
      const body = await got.arrayBuffer();
      // Raw: fetch would hide a body sent after a HEAD's headers.
      const socket = net.connect(port, '127.0.0.1');
      let raw = '';
      socket.on('data', (d: Buffer) => {
        raw += d.toString('latin1');
      });
      socket.write(
        `HEAD ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${ACME}\r\n\r\n` +
          'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      await once(socket, 'close');
      const [head, afterHead] = raw.split('\r\n\r\n');
      expect(head, path).toMatch(new RegExp(`^HTTP/1.1 ${got.status} `));
      if (path !== '/metrics')
        expect(head, path).toMatch(new RegExp(`Content-Length: ${body.byteLength}\r\n`, 'i'));
      // Nothing between the HEAD's headers and the next response's status line.
      expect(afterHead, path).toMatch(/^HTTP\/1.1 200 /);
    }
  });
});

describe('listening', () => {
  it('shares its port with other sharing servers, and a server that takes it alone shares with none', async () => {
    // A fixed port: uSockets asks the kernel for an ephemeral port (0) without SO_REUSEPORT.
    const shared = await startServer({ port: await freePort() });
    const second = await startServer({ port: shared.port });
    expect((await get(shared.base, '/healthz')).status).toBe(200);
    await expect(startServer({ port: shared.port, sharePort: false })).rejects.toThrow(
      /takes the port alone/,
    );

    const alone = await startServer({ port: await freePort(), sharePort: false });
    await expect(startServer({ port: alone.port })).rejects.toThrow(/cannot listen/);
    await expect(startServer({ port: alone.port, sharePort: false })).rejects.toThrow(/cannot listen/);
    expect((await get(alone.base, '/healthz')).status).toBe(200);
    expect(second.port).toBe(shared.port);
  });
});

describe('aborts and shutdown', () => {
  const uncaught = vi.fn();
  beforeEach(() => {
    uncaught.mockClear();
    process.on('uncaughtException', uncaught);
    process.on('unhandledRejection', uncaught);
  });
  afterEach(() => {
    process.off('uncaughtException', uncaught);
    process.off('unhandledRejection', uncaught);
  });

  async function connect(port: number): Promise<net.Socket> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return socket;
  }

  function write(socket: net.Socket, text: string): Promise<void> {
    return new Promise((resolve, reject) => socket.write(text, (err) => (err ? reject(err) : resolve())));
  }

  it('survives a client that goes away in the middle of the body', async () => {
    const { base, port, api, log, metrics } = await startServer();
    const socket = await connect(port);
    await write(
      socket,
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: ${ACME}\r\nContent-Type: application/json\r\n` +
        `Content-Length: 1000\r\n\r\n{"from":"ACME","to":"+44`,
    );
    socket.destroy();
    await log.waitFor((l) => l.msg === 'client aborted the request');

    const res = await post(base, '/v1/messages', VALID);
    expect(res.status).toBe(202);
    expect(api.submits).toHaveLength(1);
    expect(uncaught).not.toHaveBeenCalled();
    const counted = await metrics.registry.getSingleMetricAsString('sluice_http_requests_total');
    expect(counted).toContain('route="/v1/messages",status="499"} 1');
  });

  it('writes nothing to a client that went away while the core was working', async () => {
    const { base, port, api, log } = await startServer();
    const called = deferred<void>();
    const answer = deferred<{ message: MessageRecord; created: boolean }>();
    api.onSubmit = () => {
      called.resolve();
      return answer.promise;
    };
    const socket = await connect(port);
    const body = JSON.stringify(VALID);
    await write(
      socket,
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: ${ACME}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await called.promise;
    socket.destroy();
    await log.waitFor((l) => l.msg === 'client aborted the request');
    answer.resolve({ message: makeRecord(), created: true });

    api.onSubmit = async () => ({ message: makeRecord(), created: true });
    expect((await post(base, '/v1/messages', VALID)).status).toBe(202);
    expect(uncaught).not.toHaveBeenCalled();
    expect(log.lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('writes nothing to a client that went away while the core was failing', async () => {
    const { base, port, api, log } = await startServer();
    const called = deferred<void>();
    const answer = deferred<{ message: MessageRecord; created: boolean }>();
    api.onSubmit = () => {
      called.resolve();
      return answer.promise;
    };
    const socket = await connect(port);
    const body = JSON.stringify(VALID);
    await write(
      socket,
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: ${ACME}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    await called.promise;
    socket.destroy();
    await log.waitFor((l) => l.msg === 'client aborted the request');
    answer.reject(new ApiError(503, 'unavailable', 'store down'));

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(uncaught).not.toHaveBeenCalled();
  });

  it('close() stops accepting, lets the request in flight finish, then resolves', async () => {
    const { base, port, api, server } = await startServer();
    const called = deferred<void>();
    const answer = deferred<{ message: MessageRecord; created: boolean }>();
    api.onSubmit = () => {
      called.resolve();
      return answer.promise;
    };
    const inFlight = post(base, '/v1/messages', VALID);
    await called.promise;

    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    const refused = net.connect(port, '127.0.0.1');
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
    expect(closed).toBe(false);

    answer.resolve({ message: makeRecord(), created: true });
    const res = await inFlight;
    expect(res.status).toBe(202);
    expect(res.headers.get('connection')).toBe('close');
    await closing;
    expect(closed).toBe(true);
  });
});
