/**
 * Rate limits end to end. Two sluice processes sharing one redis-server and one sender limit
 * deliver at that limit combined (measured from the simulator's receive times, counting parts);
 * a message that waits for its sender's rate longer than the maximum queue age expires; an API
 * key over its intake rate is answered 429 with Retry-After.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { MessageRecord } from '../../src/core/types.js';
import { Simulator, type SubmitRecord } from '../../src/sim/index.js';
import { freePort, startSluice, tmpDirForFile } from '../support/processes.js';
import { redisForFile } from '../support/redis-server.js';
import { type Rig, startRig } from './helpers.js';

const redis = redisForFile();
const dir = tmpDirForFile('sluice-rate-');

let rig: Rig | null = null;
const children: ChildProcess[] = [];
afterEach(async () => {
  await rig?.stop();
  rig = null;
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill('SIGTERM');
      await once(c, 'exit');
    }
  }
});

const KEY = 'rate-test-key-0123456789';
/** Ten parts of GSM-7 (153 characters each with the UDH). */
const TEN_PARTS = 'x'.repeat(153 * 9 + 100);

/** sluice_parts_submitted_total{outcome="ok"} of the instance listening on `port`. */
async function partsSubmitted(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('sluice_parts_submitted_total{') && l.includes('outcome="ok"'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('a sender limit shared by two instances', () => {
  it('holds R parts/s combined (at most +10%), a 10-part message counting as 10', async () => {
    const R = 40;
    const sim = new Simulator({
      port: 0,
      accounts: [{ systemId: 'sluice', password: 'sluice' }],
      dlrDelayMs: 0,
    });
    const { smpp } = await sim.start();
    try {
      const ports = [await freePort(), await freePort()];
      for (const [i, port] of ports.entries()) {
        const config = join(dir.path, `sluice-${i}.yaml`);
        writeFileSync(
          config,
          `
http: { host: 127.0.0.1, port: ${port} }
store: { kind: redis, url: '${redis.url}', keyPrefix: rate }
simulator: { enabled: false }
connectors:
  - { name: carrier, host: 127.0.0.1, port: ${smpp.port}, systemId: sluice, password: sluice, window: 50, enquireLinkIntervalMs: 0 }
senders: [{ address: '12345', type: shortcode, rateLimit: ${R} }]
routes: [{ connector: carrier }]
apiKeys: [{ name: rate, key: ${KEY}, senders: ['*'] }]
log: { level: info }
`,
        );
        children.push(await startSluice(config));
      }
      const submits: SubmitRecord[] = [];
      sim.on('submit', (s) => submits.push(s));

      // 8 one-part, 8 two-part and 2 ten-part messages (44 parts) per batch, two batches to each.
      const bodies = [
        ...Array.from({ length: 8 }, (_, i) => `One part ${i}`),
        ...Array.from({ length: 8 }, (_, i) => `${'y'.repeat(200)} ${i}`),
        TEN_PARTS,
        `${TEN_PARTS}!`,
      ];
      const expectedParts = 2 * 2 * (8 + 16 + 20);
      const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
      const all = await Promise.all(
        [0, 1, 0, 1].map(async (i) => {
          const res = await fetch(`http://127.0.0.1:${ports[i]}/v1/messages/batch`, {
            method: 'POST',
            headers,
            body: JSON.stringify({
              messages: bodies.map((body) => ({ from: '12345', to: '+447700900123', body })),
            }),
          });
          expect(res.status).toBe(200);
          return ((await res.json()) as { accepted: number }).accepted;
        }),
      );
      expect(all).toEqual([18, 18, 18, 18]);

      while (submits.length < expectedParts) await once(sim, 'submit');
      expect(submits).toHaveLength(expectedParts);
      const first = submits[0]!.at;
      const last = submits.at(-1)!.at;
      const rate = ((submits.length - 1) * 1000) / (last - first);
      // Never above the limit. Below it only by what the machine costs: a process that asks for
      // its next lease late (an event loop starved by the rest of the suite on 2 cores) finds the
      // tokens beyond the burst lapsed, as GCRA means; 35.1/s was seen so, 40.8 to 41.0 alone.
      expect(rate).toBeGreaterThan(R * 0.75);
      expect(rate).toBeLessThan(R * 1.1);
      // Both instances sent (they share one queue, so not necessarily half each): the rate held
      // across them, not inside one.
      const sent = await Promise.all(ports.map((port) => partsSubmitted(port)));
      expect(sent[0]! + sent[1]!).toBe(expectedParts);
      expect(Math.min(...sent)).toBeGreaterThan(0);
    } finally {
      await sim.stop();
    }
  });
});

describe.each([
  ['memory', () => ({ kind: 'memory' as const })],
  [
    'redis',
    () => ({
      kind: 'redis' as const,
      url: redis.url,
      keyPrefix: `qa${Math.random().toString(36).slice(2, 8)}`,
      commandTimeoutMs: 5_000,
    }),
  ],
])('with the %s store', (_, store) => {
  it('expires messages that wait for their sender longer than its maximum queue age', async () => {
    rig = await startRig({
      store: store(),
      edit: (c) => {
        c.senders[0]!.rateLimit = 2;
        c.senders[0]!.rateBurst = 1;
        c.senders[0]!.maxQueueAgeSeconds = 1;
      },
    });
    const r = rig;
    const ids: string[] = [];
    const final = new Map<string, MessageRecord>();
    const allFinal = new Promise<void>((resolve) => {
      r.gateway.events.on('status', (m) => {
        if (m.status !== 'delivered' && m.status !== 'expired') return;
        final.set(m.id, m);
        if (ids.length === 10 && ids.every((id) => final.has(id))) resolve();
      });
    });
    const res = await r.post('/v1/messages/batch', {
      messages: Array.from({ length: 10 }, (_, i) => ({ from: '12345', to: '+447700900123', body: `m${i}` })),
    });
    for (const item of res.json.results as Array<{ message: { id: string } }>) ids.push(item.message.id);
    await allFinal;
    const statuses = ids.map((id) => final.get(id)!);
    const delivered = statuses.filter((m) => m.status === 'delivered');
    const expired = statuses.filter((m) => m.status === 'expired');
    // 2/s for one second (plus the burst): about three go, the rest expire.
    expect(delivered.length).toBeGreaterThanOrEqual(2);
    expect(delivered.length).toBeLessThanOrEqual(4);
    expect(expired.length).toBe(10 - delivered.length);
    for (const m of expired) expect(m.error?.code).toBe('SLUICE_ERR_QUEUE_AGE');
  });

  it('sends a backlog back to the queue spread over the time it takes to go, each message once', async () => {
    rig = await startRig({
      store: store(),
      edit: (c) => {
        c.senders[0]!.rateLimit = 2;
        c.senders[0]!.rateBurst = 1;
      },
    });
    const r = rig;
    // 200 one-part messages at 2/s: 100 s of backlog. A few wait for tokens in the process (5 s
    // of them); the rest go back to the queue, each due about when its turn comes.
    const dues = new Map<string, number[]>();
    const mostHeld = new Promise<void>((resolve) => {
      r.gateway.events.on('status', (m) => {
        if (m.reason !== 'rate_limit' || !m.heldUntil) return;
        dues.set(m.id, [...(dues.get(m.id) ?? []), m.heldUntil]);
        if (dues.size === 180) resolve();
      });
    });
    for (let batch = 0; batch < 2; batch++) {
      const res = await r.post('/v1/messages/batch', {
        messages: Array.from({ length: 100 }, (_, i) => ({
          from: '12345',
          to: '+447700900123',
          body: `m${batch}-${i}`,
        })),
      });
      expect(res.json.accepted).toBe(100);
    }
    await mostHeld;
    const firsts = [...dues.values()].map((d) => d[0]!).sort((a, b) => a - b);
    // Spread over the backlog's 90-odd seconds, half a second apart (the rate), not all due
    // within the next few seconds to be claimed and sent back again and again.
    expect(firsts.at(-1)! - firsts[0]!).toBeGreaterThan(80_000);
    const gaps = firsts.slice(1).map((t, i) => t - firsts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(499);
    // And none came back yet to be held again.
    expect([...dues.values()].filter((d) => d.length > 1)).toEqual([]);
  });
});

/** A rig on the memory store and `clock` whose sender 12345 sends `perSecond` parts/s, burst 1. */
function senderLimited(perSecond: number, clock: ManualClock): Promise<Rig> {
  return startRig({
    store: { kind: 'memory' },
    clock,
    edit: (c) => {
      c.senders[0]!.rateLimit = perSecond;
      c.senders[0]!.rateBurst = 1;
    },
  });
}

/** A rig whose API key takes `perSecond` messages/s with a burst of `burst`. */
function keyLimited(perSecond: number, burst: number): Promise<Rig> {
  return startRig({
    store: { kind: 'memory' },
    edit: (c) => {
      c.apiKeys[0]!.rateLimit = perSecond;
      c.apiKeys[0]!.rateBurst = burst;
    },
  });
}

describe('an API key over its intake rate', () => {
  it('is answered 429 with Retry-After, and accepted again once the rate allows', async () => {
    rig = await keyLimited(1, 2);
    const base = `http://127.0.0.1:${rig.gateway.httpPort}`;
    const send = () =>
      fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json' },
        body: JSON.stringify({ from: '12345', to: '+447700900123', body: 'hi' }),
      });
    const statuses: number[] = [];
    let limited: Response | null = null;
    for (let i = 0; i < 4 && limited === null; i++) {
      const res = await send();
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 2)).toEqual([202, 202]);
    expect(limited).not.toBeNull();
    const retryAfter = Number(limited!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    const problem = (await limited!.json()) as { type: string; status: number };
    expect(problem).toMatchObject({ status: 429, type: 'https://sluice.dev/problems/too-many-requests' });

    // A batch of more messages than the burst could never be taken whole: 413, not a 429 to retry.
    const batch = await fetch(`${base}/v1/messages/batch`, {
      method: 'POST',
      headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [1, 2, 3].map((i) => ({ from: '12345', to: '+447700900123', body: `b${i}` })),
      }),
    });
    expect(batch.status).toBe(413);
    expect(batch.headers.get('retry-after')).toBeNull();
    expect(((await batch.json()) as { detail: string }).detail).toMatch(/at most 2 messages per request/);
  });

  it('takes a batch as large as the burst', async () => {
    rig = await keyLimited(5, 5);
    const res = await rig.post('/v1/messages/batch', {
      messages: [1, 2, 3, 4, 5].map((i) => ({ from: '12345', to: '+447700900123', body: `b${i}` })),
    });
    expect(res.status).toBe(200);
  });
});

describe('sluice_throttled_waits_total{where="in_process"}', () => {
  it('counts a wait for the limit, not the fetch of tokens from the store', async () => {
    const clock = new ManualClock();
    rig = await senderLimited(2, clock);
    const r = rig;
    const inProcess = async () =>
      (await r.gateway.metrics.throttledWaits.get()).values
        .filter((v) => v.labels.where === 'in_process')
        .reduce((n, v) => n + v.value, 0);
    const send = async (body: string) =>
      (await r.post('/v1/messages', { from: '12345', to: '+447700900123', body })).json.id as string;

    // The first: its tokens come with the process's first lease, a store round trip, no time.
    await r.statusReached(await send('first'), 'sent');
    expect(await inProcess()).toBe(0);

    // The second: the limit's next token is 500 ms away, and the clock has to get there.
    let sent = false;
    const second = r.statusReached(await send('second'), 'sent').then(() => {
      sent = true;
    });
    while (!sent) {
      clock.advance(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await second;
    expect(await inProcess()).toBe(1);
  });
});

describe('turns handed to held messages', () => {
  it('are not taken past validity, and hold nothing up: a later campaign goes at the rate', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    rig = await senderLimited(10, clock);
    const r = rig;
    const sentAt = new Map<string, number>();
    const expired = new Set<string>();
    r.gateway.events.on('status', (m) => {
      if (m.status === 'sent') sentAt.set(m.id, clock.now() - t0);
      if (m.status === 'expired') expired.add(m.id);
    });
    const campaign = async (tag: string, n: number, validitySeconds: number) => {
      const res = await r.post('/v1/messages/batch', {
        messages: Array.from({ length: n }, (_, i) => ({
          from: '12345',
          to: '+447700900123',
          body: `${tag}-${i}`,
          validitySeconds,
        })),
      });
      return (res.json.results as Array<{ message: { id: string } }>).map((x) => x.message.id);
    };
    // Time passes only when moved: 20 ms at a time, letting the gateway run in between.
    const pumpUntil = async (done: () => boolean) => {
      while (!done()) {
        clock.advance(20);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    // 300 messages valid for 1 s at 10/s: about 10 go; the rest expire, none sent after its
    // validity (held, or waiting in the process), none taking a turn it cannot use.
    const a = await campaign('a', 300, 1);
    await pumpUntil(() => a.every((id) => sentAt.has(id) || expired.has(id)));
    const aSent = a.filter((id) => sentAt.has(id));
    expect(aSent.length).toBeGreaterThan(0);
    expect(aSent.length).toBeLessThanOrEqual(12);
    expect(Math.max(...aSent.map((id) => sentAt.get(id)!))).toBeLessThanOrEqual(1_000);
    await pumpUntil(() => clock.now() - t0 >= 8_000);
    // 60 more at 8 s: the sender is idle, so they go at its rate, in about 6 s, not behind the
    // turns of the expired ones.
    const b = await campaign('b', 60, 3600);
    await pumpUntil(() => b.every((id) => sentAt.has(id) || expired.has(id)));
    expect(b.filter((id) => expired.has(id))).toEqual([]);
    expect(Math.max(...b.map((id) => sentAt.get(id)!))).toBeLessThan(8_000 + 6_000 + 5_000);
  });
});
