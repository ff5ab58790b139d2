/**
 * An end-to-end rig: the simulator (our SMSC), sluice built from a configuration like the embedded
 * default but pointed at that simulator and at the given store, and a small HTTP client.
 */
import { once } from 'node:events';
import { afterAll, beforeAll } from 'vitest';
import { type Clock, ManualClock } from '../../src/clock.js';
import { embeddedConfig } from '../../src/config/index.js';
import type { SluiceConfig, StoreConfig } from '../../src/config/types.js';
import type { MessageRecord, MessageStatus } from '../../src/core/types.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { type GatewayHandle, startGateway } from '../../src/main.js';
import { Simulator, type SimulatorOptions } from '../../src/sim/index.js';
import type { Pdu } from '../../src/smpp/pdu/types.js';
import { RawServer } from '../support/raw-peer.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';

export interface Rig {
  sim: Simulator;
  gateway: GatewayHandle;
  config: SluiceConfig;
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  get(path: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Resolves with the record once message `id` has reached `status` (or already had it). */
  statusReached(id: string, status: MessageStatus): Promise<MessageRecord>;
  /** Resolves once `n` more receipts have been accepted by sluice (it answers only after recording). */
  receiptsAccepted(n: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRig(options: {
  store: StoreConfig;
  sim?: Partial<SimulatorOptions>;
  edit?: (config: SluiceConfig) => void;
  /** sluice's clock (the simulator keeps the system's). */
  clock?: Clock;
  /** sluice's logger; default silent. */
  logger?: Logger;
}): Promise<Rig> {
  const sim = new Simulator({
    port: 0,
    accounts: [{ systemId: 'sluice', password: 'sluice' }],
    dlrDelayMs: 0,
    ...options.sim,
  });
  const { smpp } = await sim.start();
  const config = embeddedConfig();
  config.simulator.enabled = false;
  config.http.port = 0;
  config.store = options.store;
  const connector = config.connectors[0]!;
  connector.port = smpp.port;
  connector.enquireLinkIntervalMs = 0;
  options.edit?.(config);
  const gateway = await startGateway(config, {
    logger: options.logger ?? silentLogger,
    retryInitialMs: 20,
    reclaimIdleMs: 200,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const base = `http://127.0.0.1:${gateway.httpPort}`;
  const auth = { authorization: 'Bearer dev-key' };
  const call = async (path: string, init: RequestInit) => {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  // One listener for every statusReached waiter, by message id.
  const statusWaiters = new Map<
    string,
    Array<{ status: MessageStatus; resolve: (r: MessageRecord) => void }>
  >();
  const onStatus = (r: MessageRecord) => {
    const list = statusWaiters.get(r.id);
    if (list === undefined) return;
    const rest = list.filter((w) => {
      if (w.status !== r.status) return true;
      w.resolve(r);
      return false;
    });
    if (rest.length > 0) statusWaiters.set(r.id, rest);
    else statusWaiters.delete(r.id);
  };
  gateway.events.on('status', onStatus);
  let receipts = 0;
  let waiters: Array<{ target: number; resolve: () => void }> = [];
  sim.on('delivered', (pdu: Pdu<'deliver_sm'> | { esm_class?: number }) => {
    if ((pdu.esm_class ?? 0) !== 0x04) return;
    receipts++;
    waiters = waiters.filter((w) => {
      if (receipts < w.target) return true;
      w.resolve();
      return false;
    });
  });
  // Sluice is ready once its bind is up.
  while (sim.stats().binds.transceiver === 0) await once(sim.server, 'bound');
  return {
    sim,
    gateway,
    config,
    post: (path, body, headers = {}) =>
      call(path, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }),
    get: (path) => call(path, { headers: auth }),
    async statusReached(id, status) {
      // Listen first, then look: a transition between the two is not missed.
      const seen = new Promise<MessageRecord>((resolve) => {
        const list = statusWaiters.get(id) ?? [];
        list.push({ status, resolve });
        statusWaiters.set(id, list);
      });
      const [now] = await gateway.store.messages.getMany([id]);
      if (now?.status === status) onStatus(now);
      return seen;
    },
    receiptsAccepted(n) {
      const target = receipts + n;
      return new Promise<void>((resolve) => {
        if (receipts >= target) resolve();
        else waiters.push({ target, resolve });
      });
    },
    async stop() {
      // A manual clock stands still unless moved: during shutdown, time passes (the dispatcher's
      // claim wait and the unbind's drain end by the clock).
      const clock = options.clock;
      const ticking = clock instanceof ManualClock ? setInterval(() => clock.advance(500), 5) : null;
      try {
        await gateway.stop('test done');
      } finally {
        if (ticking) clearInterval(ticking);
      }
      await sim.stop();
    },
  };
}

/**
 * The stores an end-to-end file runs its tests against, for describe.each: memory, and a real
 * redis-server started for the file (each test under a key prefix of its own).
 */
export function storeMatrix(prefix: string): Array<[string, () => StoreConfig]> {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  return [
    ['memory', () => ({ kind: 'memory' })],
    [
      'redis',
      () => ({
        kind: 'redis',
        url: redis.url,
        keyPrefix: `${prefix}${Math.random().toString(36).slice(2, 8)}`,
        commandTimeoutMs: 5_000,
      }),
    ],
  ];
}

/**
 * Looks each message up through `base` until all say delivered, and returns their statuses. A
 * look follows each receipt the SMSC has answered; since a receipt stashed before its SMSC id was
 * recorded is applied later with no receipt of its own, a look also follows every 100 ms without
 * one. The test's own timeout bounds it.
 */
export async function untilDelivered(
  sim: Simulator,
  base: string,
  headers: Record<string, string>,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  let receipts = 0;
  let wake: (() => void) | null = null;
  const onReceipt = () => {
    receipts++;
    wake?.();
  };
  sim.on('delivered', onReceipt);
  try {
    for (;;) {
      const seen = receipts;
      const pending = ids.filter((id) => statuses.get(id) !== 'delivered');
      if (pending.length === 0) return statuses;
      for (const id of pending) {
        const res = await fetch(`${base}/v1/messages/${id}`, { headers });
        statuses.set(id, ((await res.json()) as { status: string }).status);
      }
      if (receipts !== seen) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    sim.off('delivered', onReceipt);
  }
}

/** Submits the SMSC takes from now on, counted by message text: a count above 1 is a resend. */
export function countSubmits(sim: Simulator): Map<string, number> {
  const counts = new Map<string, number>();
  sim.on('submit', (r) => {
    const text = r.pdu.short_message.toString('latin1');
    counts.set(text, (counts.get(text) ?? 0) + 1);
  });
  return counts;
}

/**
 * sluice_duplicate_submits_total of one connector in a /metrics text, summed over its reasons
 * (unanswered: exact; reclaimed: an upper bound).
 */
export function reportedDuplicates(metricsText: string, connector = 'carrier'): number {
  let total = 0;
  const series = new RegExp(
    `^sluice_duplicate_submits_total\\{connector="${connector}",reason="\\w+"\\} (\\d+)$`,
    'gm',
  );
  for (const m of metricsText.matchAll(series)) total += Number(m[1]);
  return total;
}

/**
 * The embedded configuration's gateway (on `store`, else memory), its connector pointed at a raw
 * SMSC the test plays (no simulator): the test accepts the connection and answers the bind itself. Close `raw` before
 * stopping the gateway: the raw SMSC never answers the unbind.
 */
export async function gatewayOnRawSmsc(store?: StoreConfig): Promise<{
  raw: RawServer;
  gateway: GatewayHandle;
  config: SluiceConfig;
}> {
  const raw = new RawServer();
  const config = embeddedConfig();
  if (store) config.store = store;
  config.simulator.enabled = false;
  config.http.port = 0;
  config.connectors[0]!.port = await raw.listen();
  config.connectors[0]!.enquireLinkIntervalMs = 0;
  const gateway = await startGateway(config, { logger: silentLogger });
  return { raw, gateway, config };
}
