/**
 * Roles: an api process (HTTP API only) and a dispatch process (connectors only) sharing one
 * redis-server, as an operator scales the two apart. A message taken by the one is sent by the
 * other, and each answers only for what it runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { type GatewayHandle, startGateway } from '../../src/main.js';
import { freePort } from '../support/processes.js';
import { type Rig, startRig, storeMatrix } from './helpers.js';

let rig: Rig | null = null;
let api: GatewayHandle | null = null;
afterEach(async () => {
  await api?.stop('test done');
  api = null;
  await rig?.stop();
  rig = null;
});

const redisStore = storeMatrix('roles').find(([name]) => name === 'redis')![1];

async function call(port: number, path: string, init: RequestInit = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    ...init,
    headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json', ...init.headers },
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), json: JSON.parse(text || '{}') };
}

describe('an api process and a dispatch process on one Redis', () => {
  it('the api process takes the message, the dispatch process sends it, and each serves only its part', async () => {
    rig = await startRig({
      store: redisStore(),
      edit: (c) => {
        c.role = 'dispatch';
      },
    });
    api = await startGateway({ ...structuredClone(rig.config), role: 'api' }, { logger: silentLogger });

    const res = await call(api.httpPort, '/v1/messages', {
      method: 'POST',
      body: JSON.stringify({ from: '12345', to: '+447700900123', body: 'Split roles' }),
    });
    expect(res.status).toBe(202);
    await rig.statusReached(res.json.id, 'delivered');
    expect((await call(api.httpPort, `/v1/messages/${res.json.id}`)).json.status).toBe('delivered');
    // Only the dispatch process bound to the SMSC.
    expect(rig.sim.stats().binds.transceiver).toBe(1);
    expect(rig.sim.stats().submits).toBe(1);

    // The api process is ready with the store alone; the dispatch process with its bind up.
    expect(await call(api.httpPort, '/readyz')).toMatchObject({
      status: 200,
      json: { ready: true, store: true, connectorsUp: [] },
    });
    expect(await call(rig.gateway.httpPort, '/readyz')).toMatchObject({
      status: 200,
      json: { ready: true, store: true, connectorsUp: ['sim'] },
    });

    // The dispatch process serves no API, and says where it is.
    for (const [method, path] of [
      ['POST', '/v1/messages'],
      ['GET', `/v1/messages/${res.json.id}`],
      ['GET', '/v1/optouts/447700900123'],
    ] as const) {
      const refused = await call(rig.gateway.httpPort, path, {
        method,
        ...(method === 'POST'
          ? { body: JSON.stringify({ from: '12345', to: '+447700900123', body: 'x' }) }
          : {}),
      });
      expect(refused.status).toBe(404);
      expect(refused.type).toBe('application/problem+json');
      expect(refused.json.detail).toMatch(/role dispatch/);
    }
    // Its metrics have the sending; the api process's have the intake.
    const dispatchMetrics = await fetch(`http://127.0.0.1:${rig.gateway.httpPort}/metrics`).then((r) =>
      r.text(),
    );
    expect(dispatchMetrics).toMatch(/^sluice_parts_submitted_total\{connector="sim",outcome="ok"\} 1$/m);
    const apiMetrics = await fetch(`http://127.0.0.1:${api.httpPort}/metrics`).then((r) => r.text());
    expect(apiMetrics).toMatch(
      /^sluice_messages_total\{status="queued",connector="sim",sender="12345"\} 1$/m,
    );
    expect(apiMetrics).not.toMatch(/^sluice_parts_submitted_total\{/m);
  });
});

describe('HTTP ports', () => {
  it('processes serving the API on Redis share a port; a dispatch process or one on the memory store takes its own alone', async () => {
    const port = await freePort();
    rig = await startRig({
      store: redisStore(),
      edit: (c) => {
        c.http.port = port;
      },
    });
    // An api process joins the port (the kernel spreads connections between the two).
    api = await startGateway({ ...structuredClone(rig.config), role: 'api' }, { logger: silentLogger });
    expect(api.httpPort).toBe(port);
    // Those that cannot have the port stop before they bind to the SMSC (or claim from the queue).
    let binds = 0;
    const onBound = () => binds++;
    rig.sim.server.on('bound', onBound);
    // A dispatch process on it would answer its share of API requests 404: it fails to start.
    await expect(
      startGateway({ ...structuredClone(rig.config), role: 'dispatch' }, { logger: silentLogger }),
    ).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ \(it takes the port alone/);
    // So does a process on the memory store, whose messages the others could not see.
    await expect(
      startGateway(
        { ...structuredClone(rig.config), role: 'all', store: { kind: 'memory' } },
        { logger: silentLogger },
      ),
    ).rejects.toThrow(/cannot listen/);
    // The refused starts took down what they had opened; the api processes still serve.
    expect((await call(port, '/readyz')).status).toBe(200);
    rig.sim.server.off('bound', onBound);
    expect(binds).toBe(0);

    const alone = await freePort();
    const memory = await startGateway(
      {
        ...structuredClone(rig.config),
        role: 'all',
        store: { kind: 'memory' },
        http: { ...rig.config.http, port: alone },
      },
      { logger: silentLogger },
    );
    try {
      await expect(
        startGateway(
          { ...structuredClone(rig.config), http: { ...rig.config.http, port: alone } },
          { logger: silentLogger },
        ),
      ).rejects.toThrow(/cannot listen/);
    } finally {
      await memory.stop('test done');
    }
  });
});

describe('a configuration changed while messages wait', () => {
  it('fails a message that no longer plans as the parts it was accepted as, and sends nothing of it', async () => {
    // The dispatch process runs the new configuration (udh16: 152 septets a part), the api
    // process still the old one (udh8: 153), so 1,530 characters are accepted as 10 parts.
    rig = await startRig({
      store: redisStore(),
      edit: (c) => {
        c.role = 'dispatch';
        c.connectors[0]!.concatenation = 'udh16';
        c.messages.maxParts = 255;
      },
    });
    const old = structuredClone(rig.config);
    old.connectors[0]!.concatenation = 'udh8';
    api = await startGateway({ ...old, role: 'api' }, { logger: silentLogger });
    const res = await call(api.httpPort, '/v1/messages', {
      method: 'POST',
      body: JSON.stringify({ from: '12345', to: '+447700900123', body: 'x'.repeat(1530) }),
    });
    expect(res.json.partCount).toBe(10);
    const failed = await rig.statusReached(res.json.id, 'failed');
    expect(failed.error?.code).toBe('SLUICE_ERR_PLAN');
    expect(failed.error?.message).toMatch(/now plans as 11 parts, not the 10/);
    expect(rig.sim.stats().submits).toBe(0);
  });
});
