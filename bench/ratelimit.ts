/**
 * `npm run bench -- ratelimit [--json] [--seconds N] [--redis URL]`: what the TokenLeaser costs
 * and what it saves, against a real Redis (a redis-server is started unless --redis names one).
 *
 * Each case sends messages of 1..10 parts (a fixed pseudo-random sequence) as fast as it can for
 * N seconds of real time, the way a dispatcher would: tryTake, and when that says no, take() to
 * wait for the refill. It reports parts granted per second and Redis round trips (store calls,
 * each one pipelined write) per 1,000 parts.
 *
 * - leaser, huge limit: the fast path alone; the store is asked once per lease of 50 ms of 1e9/s.
 * - leaser at 10,000/s and at 100/s (a short code): saturated, so parts/s is the limit (plus the
 *   burst over the run) and round trips are one per lease.
 * - store per message: no leaser, one awaited store.take per message, huge limit: what a
 *   dispatcher paying a round trip per message gets.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { systemClock } from '../src/clock.js';
import { TokenLeaser } from '../src/policy/leaser.js';
import type { RateLimit, RateLimitStore, TakeRequest, TakeResult } from '../src/policy/ratelimit.js';
import { RedisRateLimitStore } from '../src/store/redis/ratelimit.js';
import { startRedis } from '../test/support/redis-server.js';

export interface RateLimitBenchArgs {
  /** Seconds of real time per case; default 3. */
  seconds?: number;
  /** An existing Redis to run against; default: a redis-server started for the bench. */
  redisUrl?: string;
}

export interface RateLimitBenchCase {
  readonly name: string;
  readonly limit: RateLimit;
  readonly parts: number;
  readonly messages: number;
  readonly seconds: number;
  readonly partsPerSecond: number;
  /** Store calls: each is one round trip (its requests leave as one pipelined write). */
  readonly roundTrips: number;
  readonly roundTripsPer1000Parts: number;
  /** EVALSHA/EVAL commands Redis ran (INFO commandstats): one per key per round trip. */
  readonly scriptsRun: number;
}

export interface RateLimitBenchResult {
  readonly bench: 'ratelimit';
  readonly environment: { node: string; platform: string; cpus: number; redis: string };
  readonly cases: readonly RateLimitBenchCase[];
}

/** Counts store calls. */
class CountingStore implements RateLimitStore {
  calls = 0;
  readonly #inner: RateLimitStore;
  constructor(inner: RateLimitStore) {
    this.#inner = inner;
  }
  take(requests: readonly TakeRequest[]): Promise<TakeResult[]> {
    this.calls++;
    return this.#inner.take(requests);
  }
}

/** 1..10 parts, a fixed sequence (mulberry32), so every case and run sends the same messages. */
function partSequence(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = 0x5eed;
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = 1 + (((t ^ (t >>> 14)) >>> 0) % 10);
  }
  return out;
}

const PARTS = partSequence(1 << 16);
const HUGE: RateLimit = { perSecond: 1e9, burst: 1e9 };

async function scriptsRun(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
}

interface Sent {
  parts: number;
  messages: number;
  ms: number;
}

/**
 * tryTake, and take() when it says no: a dispatcher's use. Yields to I/O every 1,000 messages,
 * and stops at the deadline (checked after every wait, and every 1,000 messages).
 */
async function throughLeaser(leaser: TokenLeaser, key: string, limit: RateLimit, ms: number): Promise<Sent> {
  let parts = 0;
  let messages = 0;
  const start = performance.now();
  const deadline = start + ms;
  while (performance.now() < deadline) {
    for (let b = 0; b < 1000; b++) {
      const n = PARTS[messages & (PARTS.length - 1)]!;
      const waited = !leaser.tryTake(key, limit, n).ok;
      if (waited) await leaser.take(key, limit, n);
      parts += n;
      messages++;
      // The clock is read only off the fast path, where it would cost more than a tryTake.
      if (waited && performance.now() >= deadline) break;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { parts, messages, ms: performance.now() - start };
}

/** One awaited store.take per message. */
async function throughStore(store: RateLimitStore, key: string, ms: number): Promise<Sent> {
  let parts = 0;
  let messages = 0;
  const start = performance.now();
  const deadline = start + ms;
  while (performance.now() < deadline) {
    const n = PARTS[messages & (PARTS.length - 1)]!;
    const [r] = await store.take([{ key, limit: HUGE, want: n, now: systemClock.now() }]);
    parts += r!.granted;
    messages++;
  }
  return { parts, messages, ms: performance.now() - start };
}

export async function runRateLimitBench(args: RateLimitBenchArgs = {}): Promise<RateLimitBenchResult> {
  const seconds = args.seconds ?? 3;
  const server = args.redisUrl === undefined ? await startRedis() : null;
  const url = args.redisUrl ?? server!.url;
  const redis = new Redis(url, { protocol: 2, enableAutoPipelining: true });
  const admin = new Redis(url, { protocol: 2 });
  const prefix = `bench-rl-${process.pid}-${Date.now()}`;
  const cases: RateLimitBenchCase[] = [];
  try {
    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    const run = async (
      name: string,
      limit: RateLimit,
      send: (store: CountingStore, key: string) => Promise<Sent>,
    ): Promise<void> => {
      const store = new CountingStore(new RedisRateLimitStore(redis, prefix));
      const scriptsBefore = await scriptsRun(admin);
      const sent = await send(store, `case-${cases.length}`);
      const scripts = (await scriptsRun(admin)) - scriptsBefore;
      cases.push({
        name,
        limit,
        parts: sent.parts,
        messages: sent.messages,
        seconds: Math.round(sent.ms) / 1000,
        partsPerSecond: Math.round((sent.parts * 1000) / sent.ms),
        roundTrips: store.calls,
        roundTripsPer1000Parts: Number(((store.calls * 1000) / sent.parts).toPrecision(3)),
        scriptsRun: scripts,
      });
    };
    const viaLeaser = (limit: RateLimit) => async (store: CountingStore, key: string) => {
      const leaser = new TokenLeaser({ store, clock: systemClock });
      try {
        return await throughLeaser(leaser, key, limit, seconds * 1000);
      } finally {
        leaser.close();
      }
    };
    await run('leaser, huge limit', HUGE, viaLeaser(HUGE));
    const tenThousand = { perSecond: 10_000, burst: 1000 };
    await run('leaser, 10,000/s', tenThousand, viaLeaser(tenThousand));
    const shortCode = { perSecond: 100, burst: 10 };
    await run('leaser, 100/s short code', shortCode, viaLeaser(shortCode));
    await run('store per message', HUGE, (store, key) => throughStore(store, key, seconds * 1000));
    return {
      bench: 'ratelimit',
      environment: {
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: os.cpus().length,
        redis: version,
      },
      cases,
    };
  } finally {
    await redis.quit();
    await admin.quit();
    await server?.stop();
  }
}

export async function main(argv: string[]): Promise<number> {
  let values: { json?: boolean; seconds?: string; redis?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        seconds: { type: 'string' },
        redis: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`bench ratelimit: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (values.help) {
    console.log(
      'usage: npm run bench -- ratelimit [--json] [--seconds N (per case, default 3)] [--redis URL]',
    );
    return 0;
  }
  const seconds = values.seconds === undefined ? 3 : Number(values.seconds);
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    console.error(`bench ratelimit: --seconds must be a number > 0, got ${values.seconds}`);
    return 2;
  }
  const result = await runRateLimitBench({ seconds, redisUrl: values.redis });
  if (values.json) {
    console.log(JSON.stringify(result));
    return 0;
  }
  const e = result.environment;
  console.log(`ratelimit bench: node ${e.node}, redis ${e.redis}, ${e.cpus} cpus, ${seconds} s per case\n`);
  console.log(
    `${'case'.padEnd(26)} ${'parts/s'.padStart(12)} ${'parts'.padStart(12)} ${'round trips'.padStart(12)} ${'RT/1000 parts'.padStart(14)}`,
  );
  for (const c of result.cases) {
    console.log(
      `${c.name.padEnd(26)} ${c.partsPerSecond.toLocaleString('en-US').padStart(12)} ${c.parts.toLocaleString('en-US').padStart(12)} ${String(c.roundTrips).padStart(12)} ${String(c.roundTripsPer1000Parts).padStart(14)}`,
    );
  }
  return 0;
}
