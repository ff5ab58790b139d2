/**
 * The shared rate limits: one suite run against the memory store and a real redis-server (GCRA to
 * the token over simulated time, partial grants, waitMs, key independence, expiry, the leaser on
 * top), the leaser's own behaviour, two instances sharing one key through Redis, and properties of
 * the GCRA step (the window bound; memory and Redis answering alike).
 *
 * Time is a ManualClock. Redis replies are real I/O, so after each step of the clock `settle`
 * lets them land before time moves on.
 */

import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TokenLeaser, TokenLeaserClosedError, type TokenLeaserOptions } from '../../src/policy/leaser.js';
import {
  type GcraState,
  gcraStep,
  IDLE_MARGIN_MS,
  type RateLimit,
  RateLimitArgumentError,
  type RateLimitStore,
  type TakeRequest,
  type TakeResult,
} from '../../src/policy/ratelimit.js';
import { MemoryRateLimitStore } from '../../src/store/memory/ratelimit.js';
import { RedisRateLimitStore } from '../../src/store/redis/ratelimit.js';
import { prng } from '../support/random.js';
import { redisForFile } from '../support/redis-server.js';

const redisServer = redisForFile();
let prefixes = 0;

/** A connection as the Redis store expects it: RESP2, auto-pipelining on. */
function connect(): Redis {
  return new Redis(redisServer.url, { protocol: 2, enableAutoPipelining: true });
}

interface Grant {
  /** The request's `now`. */
  at: number;
  granted: number;
}

/** Counts the store calls (round trips) and records every grant; can be told to fail. */
class RecordingStore implements RateLimitStore {
  calls = 0;
  requests = 0;
  readonly grants: Grant[] = [];
  failWith: Error | null = null;
  /** While set, answers wait for it: a store answering slowly (an event loop busy elsewhere). */
  held: Promise<void> | null = null;
  readonly #inner: RateLimitStore;

  constructor(inner: RateLimitStore) {
    this.#inner = inner;
  }

  get granted(): number {
    return this.grants.reduce((sum, g) => sum + g.granted, 0);
  }

  async take(requests: readonly TakeRequest[]): Promise<TakeResult[]> {
    this.calls++;
    this.requests += requests.length;
    if (this.held) await this.held;
    if (this.failWith) throw this.failWith;
    const results = await this.#inner.take(requests);
    results.forEach((r, i) => {
      if (r.granted > 0) this.grants.push({ at: requests[i]!.now, granted: r.granted });
    });
    return results;
  }
}

/** Lets store replies land until no leaser has a refill queued or in flight. */
async function settle(...leasers: TokenLeaser[]): Promise<void> {
  do await new Promise<void>((resolve) => setImmediate(resolve));
  while (leasers.some((l) => l.refilling > 0));
}

/** Moves the clock `ms` forward in steps of `step`, letting the leasers' refills land after each. */
async function drive(clock: ManualClock, ms: number, step: number, ...leasers: TokenLeaser[]): Promise<void> {
  // Refills asked for before the clock moves go out at the time they were asked at.
  await settle(...leasers);
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await settle(...leasers);
  }
}

/**
 * The most tokens any window [a, b] (a, b grant times) saw beyond (b - a) at the rate; GCRA keeps
 * it ≤ burst. O(n): the window maximising S(b) - S(a⁻) - (b - a)·r pairs each end b with the best
 * start so far.
 */
function worstWindowExcess(grants: readonly Grant[], perSecond: number): number {
  const sorted = [...grants].sort((x, y) => x.at - y.at);
  const t0 = sorted[0]?.at ?? 0;
  let sum = 0;
  let bestStart = Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (const g of sorted) {
    const t = ((g.at - t0) * perSecond) / 1000;
    bestStart = Math.max(bestStart, t - sum);
    sum += g.granted;
    worst = Math.max(worst, sum - t + bestStart);
  }
  return worst;
}

interface Harness {
  store: RateLimitStore;
  /** Like PTTL: ms until the key's state expires (at `now` for the memory store), -2 if none. */
  pttl(key: string, now: number): Promise<number>;
  /** TTLs follow the callers' `now` (memory) rather than the server's clock (Redis). */
  ttlFollowsNow: boolean;
  close(): Promise<void>;
}

function describeRateLimitStore(name: string, makeHarness: () => Harness): void {
  describe(`rate limits on ${name}`, () => {
    async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
      const h = makeHarness();
      try {
        await fn(h);
      } finally {
        await h.close();
      }
    }

    const T0 = Date.UTC(2026, 0, 1);

    it.each([
      { perSecond: 10, burst: 5, scale: 1 },
      { perSecond: 3, burst: 1, scale: 1 },
      { perSecond: 3, burst: 2, scale: 1 },
      { perSecond: 7, burst: 3, scale: 1 },
      { perSecond: 1000, burst: 1, scale: 1 },
      { perSecond: 0.5, burst: 2, scale: 2 },
    ])(
      'grants exactly what a full bucket refilled at the rate holds, at every ms over 20 s: $perSecond/s, burst $burst',
      async ({ perSecond, burst, scale }) => {
        await withHarness(async ({ store }) => {
          const limit = { perSecond, burst };
          // Asking for far more than there is every ms, so each grant is all there is; one call
          // holds all 20,001 requests (applied in order, one round trip).
          const requests: TakeRequest[] = [];
          for (let t = 0; t <= 20_000; t++) requests.push({ key: 'k', limit, want: 10_000, now: T0 + t });
          const results = await store.take(requests);
          // The model GCRA is equivalent to: a bucket of `burst` tokens, full at first, refilled
          // continuously at the rate and never beyond full, in exact integer arithmetic (units of
          // 1 / (1000 · scale) token; perSecond · scale is a whole number).
          const token = 1000 * scale;
          const perMs = perSecond * scale;
          let level = burst * token;
          const expected: TakeResult[] = [];
          for (let t = 0; t <= 20_000; t++) {
            if (t > 0) level = Math.min(burst * token, level + perMs);
            const granted = Math.floor(level / token);
            level -= granted * token;
            expected.push({ granted, waitMs: Math.ceil((token - level) / perMs) });
          }
          expect(results).toEqual(expected);
          // With burst 1 and T = 333.3 ms, the bucket is full for 0.7 ms before each whole ms
          // and that accrual is lost: 60 tokens where 3/s over 20 s would be 61.
          const sum = results.reduce((total, r) => total + r.granted, 0);
          expect(sum).toBeLessThanOrEqual(burst + (20_000 * perSecond) / 1000);
          expect(sum).toBeGreaterThanOrEqual((20_000 * perSecond) / 1000);
        });
      },
    );

    it('grants in part, and nothing for want 0', async () => {
      await withHarness(async ({ store }) => {
        const limit = { perSecond: 10, burst: 5 };
        expect(
          await store.take([
            { key: 'p', limit, want: 3, now: T0 },
            { key: 'p', limit, want: 3, now: T0 },
            { key: 'p', limit, want: 0, now: T0 },
            { key: 'p', limit, want: 1, now: T0 },
          ]),
        ).toEqual([
          { granted: 3, waitMs: 0 },
          { granted: 2, waitMs: 100 },
          { granted: 0, waitMs: 0 },
          { granted: 0, waitMs: 100 },
        ]);
      });
    });

    it('waitMs counts down to the ms the next token is granted', async () => {
      await withHarness(async ({ store }) => {
        const limit = { perSecond: 4, burst: 2 };
        const at = async (ms: number, want: number): Promise<TakeResult> =>
          (await store.take([{ key: 'w', limit, want, now: T0 + ms }]))[0]!;
        expect(await at(0, 5)).toEqual({ granted: 2, waitMs: 250 });
        expect(await at(100, 1)).toEqual({ granted: 0, waitMs: 150 });
        expect(await at(249, 1)).toEqual({ granted: 0, waitMs: 1 });
        expect(await at(250, 2)).toEqual({ granted: 1, waitMs: 250 });
        expect(await at(1000, 9)).toEqual({ granted: 2, waitMs: 250 });
      });
    });

    it('keeps keys independent, in one call', async () => {
      await withHarness(async ({ store }) => {
        const limit = { perSecond: 10, burst: 5 };
        expect(
          await store.take([
            { key: 'a', limit, want: 5, now: T0 },
            { key: 'b', limit, want: 5, now: T0 },
            { key: 'a', limit, want: 1, now: T0 },
            { key: 'c', limit: { perSecond: 1, burst: 1 }, want: 2, now: T0 },
          ]),
        ).toEqual([
          { granted: 5, waitMs: 0 },
          { granted: 5, waitMs: 0 },
          { granted: 0, waitMs: 100 },
          { granted: 1, waitMs: 1000 },
        ]);
      });
    });

    it('a changed rate continues from the TAT instead of recounting the tokens', async () => {
      await withHarness(async ({ store }) => {
        const fast = { perSecond: 100, burst: 100 };
        const slow = { perSecond: 1, burst: 1 };
        // 100 tokens at 100/s put the TAT 1 s ahead. Recounted at 1/s they would be 100 s.
        expect(await store.take([{ key: 'r', limit: fast, want: 100, now: T0 }])).toEqual([
          { granted: 100, waitMs: 0 },
        ]);
        expect(await store.take([{ key: 'r', limit: slow, want: 1, now: T0 + 500 }])).toEqual([
          { granted: 0, waitMs: 500 },
        ]);
        expect(await store.take([{ key: 'r', limit: slow, want: 2, now: T0 + 1000 }])).toEqual([
          { granted: 1, waitMs: 1000 },
        ]);
        // And back: 1 token at 1/s is 1 s of TAT; at 100/s, with 1 s of tolerance, 10 ms later
        // one token fits.
        expect(await store.take([{ key: 's', limit: slow, want: 1, now: T0 }])).toEqual([
          { granted: 1, waitMs: 0 },
        ]);
        expect(await store.take([{ key: 's', limit: fast, want: 5, now: T0 + 10 }])).toEqual([
          { granted: 1, waitMs: 10 },
        ]);
      });
    });

    it('expires a key at its TAT plus the margin, and asking without a grant does not extend it', async () => {
      await withHarness(async ({ store, pttl, ttlFollowsNow }) => {
        const limit = { perSecond: 10, burst: 20 };
        await store.take([{ key: 'e', limit, want: 20, now: T0 }]);
        // 20 tokens at 10/s: TAT 2 s ahead, kept 1 s more.
        const first = await pttl('e', T0);
        expect(first).toBeGreaterThan(2000 + IDLE_MARGIN_MS - 100);
        expect(first).toBeLessThanOrEqual(2000 + IDLE_MARGIN_MS);
        expect(await store.take([{ key: 'e', limit, want: 1, now: T0 + 50 }])).toEqual([
          { granted: 0, waitMs: 50 },
        ]);
        const second = await pttl('e', T0 + 50);
        expect(second).toBeLessThanOrEqual(ttlFollowsNow ? first - 50 : first);
        // A long code (1/s, burst 1): tolerance 1 s, so 2 s in all.
        await store.take([{ key: 'lc', limit: { perSecond: 1, burst: 1 }, want: 1, now: T0 }]);
        const longCode = await pttl('lc', T0);
        expect(longCode).toBeGreaterThan(1900);
        expect(longCode).toBeLessThanOrEqual(2000);
        if (ttlFollowsNow) {
          expect(await pttl('e', T0 + 2999)).toBe(1);
          expect(await pttl('e', T0 + 3000)).toBe(-2);
          // Expired, the key is as good as new: the whole burst again.
          expect(await store.take([{ key: 'e', limit, want: 50, now: T0 + 3000 }])).toEqual([
            { granted: 20, waitMs: 100 },
          ]);
        }
      });
    });

    it('rejects malformed requests before applying any', async () => {
      await withHarness(async ({ store }) => {
        const limit = { perSecond: 10, burst: 5 };
        const bad: Array<[TakeRequest, RegExp]> = [
          [{ key: 'x', limit: { perSecond: 0, burst: 1 }, want: 1, now: T0 }, /perSecond must be/],
          [{ key: 'x', limit: { perSecond: 1, burst: 0.5 }, want: 1, now: T0 }, /burst must be/],
          [{ key: 'x', limit, want: -1, now: T0 }, /want must be/],
          [{ key: 'x', limit, want: 1, now: Number.NaN }, /now must be/],
        ];
        for (const [request, message] of bad) {
          await expect(store.take([{ key: 'x', limit, want: 5, now: T0 }, request])).rejects.toMatchObject({
            code: 'SLUICE_ERR_RATE_LIMIT_ARGUMENT',
            message: expect.stringMatching(message),
          });
        }
        expect(await store.take([{ key: 'x', limit, want: 5, now: T0 }])).toEqual([
          { granted: 5, waitMs: 0 },
        ]);
      });
    });

    it('the leaser completes a message of more parts than the burst: 10 parts at 1/s in 9 s', async () => {
      await withHarness(async ({ store }) => {
        const clock = new ManualClock();
        const recording = new RecordingStore(store);
        const leaser = new TokenLeaser({ store: recording, clock, random: () => 0 });
        const longCode = { perSecond: 1, burst: 1 };
        const start = clock.now();
        let doneAt = 0;
        const done = leaser.take('lc', longCode, 10).then(() => {
          doneAt = clock.now();
        });
        await drive(clock, 10_000, 1, leaser);
        await done;
        expect(doneAt - start).toBe(9000);
        // One round trip per token: the store is asked when the next one is due, not every ms.
        expect(recording.calls).toBe(10);

        // The same through tryTake alone, coming back after each waitMs: the tokens gathered
        // toward the message are kept between calls (a 1 s wait is not idleness).
        const polled = clock.now();
        for (;;) {
          const r = leaser.tryTake('lc2', longCode, 10);
          if (r.ok) break;
          await settle(leaser);
          clock.advance(r.waitMs);
        }
        // The tenth token is granted at 9 s, to the call that asked for it, which was told to come
        // back 1 ms later (the round trip).
        expect(clock.now() - polled).toBe(9001);
        leaser.close();
      });
    });

    it('the leaser hands out a lease without a round trip per part; callers of a key share a refill', async () => {
      await withHarness(async ({ store }) => {
        const clock = new ManualClock();
        const recording = new RecordingStore(store);
        const leaser = new TokenLeaser({ store: recording, clock, random: () => 0 });
        const shortCode = { perSecond: 100, burst: 100 };
        expect(leaser.leaseSize(shortCode)).toBe(5);
        expect(leaser.tryTake('sc', shortCode, 1)).toEqual({ ok: false, waitMs: 1, storeFailing: false });
        // Asked again before the reply: the refill in flight is shared.
        expect(leaser.tryTake('sc', shortCode, 1)).toEqual({ ok: false, waitMs: 1, storeFailing: false });
        await settle(leaser);
        expect(recording.calls).toBe(1);
        // A lease, and the one more a refill asks for.
        expect(leaser.held('sc')).toBe(6);
        for (let i = 0; i < 6; i++) expect(leaser.tryTake('sc', shortCode, 1)).toEqual({ ok: true });
        expect(recording.calls).toBe(1);
        expect(leaser.tryTake('sc', shortCode, 1).ok).toBe(false);
        await settle(leaser);
        expect(recording.calls).toBe(2);

        // Eight waiters in one tick: one refill in flight at a time, each of 6.
        const waiting = Array.from({ length: 8 }, () => leaser.take('sc2', shortCode, 1));
        await settle(leaser);
        await Promise.all(waiting);
        expect(recording.calls).toBe(4);
        expect(leaser.held('sc2')).toBe(4);

        // Refills of several keys asked for in one tick go to the store as one call.
        const before = recording.calls;
        for (const k of ['x1', 'x2', 'x3']) leaser.tryTake(k, shortCode, 1);
        await settle(leaser);
        expect(recording.calls).toBe(before + 1);
        expect(['x1', 'x2', 'x3'].map((k) => leaser.held(k))).toEqual([6, 6, 6]);
        leaser.close();
      });
    });

    it('a saturated key costs a round trip per lease, not per token', async () => {
      await withHarness(async ({ store }) => {
        const clock = new ManualClock();
        const recording = new RecordingStore(store);
        const leaser = new TokenLeaser({ store: recording, clock, random: () => 0 });
        const limit = { perSecond: 200, burst: 20 };
        let parts = 0;
        let stop = false;
        const sender = (async () => {
          while (!stop) {
            await leaser.take('sat', limit, 1);
            parts++;
          }
        })();
        await drive(clock, 5000, 1, leaser);
        stop = true;
        leaser.close();
        await sender.catch((err: unknown) => expect(err).toBeInstanceOf(TokenLeaserClosedError));
        // 20 + 5 s · 200/s at most; a lease (10) is the most a part waits for.
        expect(parts).toBeLessThanOrEqual(1020);
        expect(parts).toBeGreaterThanOrEqual(990);
        expect(recording.calls).toBeLessThanOrEqual(Math.ceil(parts / leaser.leaseSize(limit)) + 2);
      });
    });
  });
}

describeRateLimitStore('memory', () => {
  const store = new MemoryRateLimitStore();
  return {
    store,
    pttl: async (key, now) => store.pttl(key, now),
    ttlFollowsNow: true,
    close: async () => {},
  };
});

describeRateLimitStore('redis', () => {
  const redis = connect();
  const store = new RedisRateLimitStore(redis, `rl${++prefixes}`);
  return {
    store,
    pttl: (key) => redisServer.admin.pttl(store.key(key)),
    ttlFollowsNow: false,
    close: async () => {
      await redis.quit();
    },
  };
});

describe('MemoryRateLimitStore', () => {
  it('forgets idle keys: memory follows the keys in use, not every key ever seen', async () => {
    const store = new MemoryRateLimitStore();
    const now = Date.UTC(2026, 0, 1);
    const limit = { perSecond: 100, burst: 10 };
    await store.take(Array.from({ length: 1000 }, (_, i) => ({ key: `s${i}`, limit, want: 1, now })));
    expect(store.size).toBe(1000);
    // 1 token at 100/s: 10 ms of TAT plus the margin.
    await store.take([{ key: 'later', limit, want: 1, now: now + 10 + IDLE_MARGIN_MS }]);
    expect(store.size).toBe(1);
  });
});

describe('RedisRateLimitStore', () => {
  it('keeps each limit in one string under its own hash tag, and recovers a lost script cache', async () => {
    const redis = connect();
    try {
      const store = new RedisRateLimitStore(redis, 'layout:');
      expect(store.key('sender:+15550100')).toBe('layout:rl:{sender:+15550100}');
      const now = Date.UTC(2026, 0, 1);
      await redisServer.admin.script('FLUSH');
      await store.take([
        { key: 'sender:+15550100', limit: { perSecond: 3, burst: 1 }, want: 1, now },
        { key: 'connector:a', limit: { perSecond: 50, burst: 5 }, want: 2, now },
      ]);
      expect((await redisServer.admin.keys('layout:*')).sort()).toEqual([
        'layout:rl:{connector:a}',
        'layout:rl:{sender:+15550100}',
      ]);
      expect(await redisServer.admin.type('layout:rl:{connector:a}')).toBe('string');
      expect(await redisServer.admin.get('layout:rl:{sender:+15550100}')).toBe(`${now} 1 3`);
      // A value that does not parse is no state: the limit starts afresh instead of failing.
      await redisServer.admin.set('layout:rl:{connector:a}', 'garbage');
      expect(
        await store.take([{ key: 'connector:a', limit: { perSecond: 50, burst: 5 }, want: 9, now }]),
      ).toEqual([{ granted: 5, waitMs: 20 }]);
    } finally {
      await redis.quit();
    }
  });

  it('refuses a prefix with braces', () => {
    const redis = connect();
    expect(() => new RedisRateLimitStore(redis, 'a{b}')).toThrow(/without braces/);
    redis.disconnect();
  });
});

describe('TokenLeaser', () => {
  function setup(options: Partial<TokenLeaserOptions> = {}) {
    const clock = new ManualClock();
    const recording = new RecordingStore(new MemoryRateLimitStore());
    // No jitter: the waits below are exact.
    const leaser = new TokenLeaser({ store: recording, clock, random: () => 0, ...options });
    return { clock, recording, leaser };
  }
  const shortCode: RateLimit = { perSecond: 100, burst: 100 };

  it('drops leased tokens nobody asked for within a second: they would add a burst later', async () => {
    const { clock, recording, leaser } = setup();
    expect(leaser.tryTake('k', shortCode, 1).ok).toBe(false);
    await settle(leaser);
    expect(leaser.tryTake('k', shortCode, 1).ok).toBe(true);
    clock.advance(1000);
    expect(leaser.tryTake('k', shortCode, 1).ok).toBe(true);
    expect(leaser.held('k')).toBe(4);
    clock.advance(1001);
    expect(leaser.tryTake('k', shortCode, 1).ok).toBe(false);
    await settle(leaser);
    expect(recording.calls).toBe(2);
    leaser.close();
  });

  it('serves take() callers in order: a long message is not starved by short ones', async () => {
    const { clock, leaser } = setup();
    const longCode = { perSecond: 1, burst: 1 };
    const start = clock.now();
    const order: string[] = [];
    const long = leaser.take('lc', longCode, 3).then(() => order.push(`long@${clock.now() - start}`));
    const short = leaser.take('lc', longCode, 1).then(() => order.push(`short@${clock.now() - start}`));
    await settle(leaser);
    for (let t = 0; t < 4000; t += 10) {
      // tryTake does not jump the queue either.
      expect(leaser.tryTake('lc', longCode, 1).ok).toBe(false);
      clock.advance(10);
      await settle(leaser);
    }
    await Promise.all([long, short]);
    expect(order).toEqual(['long@2000', 'short@3000']);
    leaser.close();
  });

  it('takes the tokens of several keys together or not at all', async () => {
    const { leaser } = setup();
    const sender = { key: 'sender', limit: { perSecond: 100, burst: 10 }, n: 3 };
    const connector = { key: 'connector', limit: { perSecond: 20, burst: 2 }, n: 3 };
    expect(leaser.tryTakeAll([sender, connector])).toEqual({ ok: false, waitMs: 1, storeFailing: false });
    await settle(leaser);
    // The connector's burst is 2: the sender's 6 stay held.
    expect([leaser.held('sender'), leaser.held('connector')]).toEqual([6, 2]);
    expect(leaser.tryTakeAll([sender, connector]).ok).toBe(false);
    expect([leaser.held('sender'), leaser.held('connector')]).toEqual([6, 2]);
    expect(leaser.tryTakeAll([sender, { ...connector, n: 2 }])).toEqual({ ok: true });
    expect([leaser.held('sender'), leaser.held('connector')]).toEqual([3, 0]);
    expect(() => leaser.tryTakeAll([sender, sender])).toThrow(/twice/);
    leaser.close();
  });

  it('release() gives tokens back to the next taker of the key, without asking the store', async () => {
    const { clock, recording, leaser } = setup();
    const longCode = { perSecond: 1, burst: 1 };
    await leaser.take('lc', longCode, 1);
    const start = clock.now();
    // A waiter is queued; the token given back serves it at once, ahead of the next second.
    const waiting = leaser.take('lc', longCode, 1);
    await settle(leaser);
    const calls = recording.calls;
    leaser.release('lc', 1);
    await waiting;
    expect(clock.now()).toBe(start);
    leaser.release('lc', 1);
    expect(leaser.held('lc')).toBe(1);
    expect(leaser.tryTake('lc', longCode, 1).ok).toBe(true);
    expect(recording.calls).toBe(calls);
    // Unknown keys and a closed leaser drop what is given back.
    leaser.release('other', 3);
    expect(leaser.held('other')).toBe(0);
    expect(() => leaser.release('lc', -1)).toThrow();
    leaser.close();
    leaser.release('lc', 1);
  });

  it('an aborted take() leaves the queue and rejects with the reason', async () => {
    const { clock, leaser } = setup();
    const longCode = { perSecond: 1, burst: 1 };
    await leaser.take('lc', longCode, 1);
    const controller = new AbortController();
    const aborted = leaser.take('lc', longCode, 5, controller.signal);
    const after = leaser.take('lc', longCode, 1);
    controller.abort(new Error('shutting down'));
    await expect(aborted).rejects.toThrow('shutting down');
    clock.advance(1000);
    await settle(leaser);
    await after;
    await expect(leaser.take('lc', longCode, 1, AbortSignal.abort(new Error('already')))).rejects.toThrow(
      'already',
    );
    leaser.close();
  });

  it('backs off after a store error, reports it once per round trip, and recovers', async () => {
    const errors: Array<{ err: unknown; keys: readonly string[] }> = [];
    const { clock, recording, leaser } = setup({ onError: (err, keys) => errors.push({ err, keys }) });
    recording.failWith = new Error('connection lost');
    expect(leaser.tryTake('k', shortCode, 1)).toEqual({ ok: false, waitMs: 1, storeFailing: false });
    await settle(leaser);
    expect(errors).toEqual([{ err: recording.failWith, keys: ['k'] }]);
    // Told apart from a wait for the limit: the caller can say the store is down (503, not 429).
    expect(leaser.tryTake('k', shortCode, 1)).toEqual({ ok: false, waitMs: 100, storeFailing: true });
    clock.advance(60);
    expect(leaser.tryTake('k', shortCode, 1)).toEqual({ ok: false, waitMs: 40, storeFailing: true });
    expect(recording.calls).toBe(1);
    const waiting = leaser.take('k', shortCode, 1);
    recording.failWith = null;
    clock.advance(40);
    await settle(leaser);
    await waiting;
    expect(recording.calls).toBe(2);
    expect(errors).toHaveLength(1);
    leaser.close();
  });

  it('a throwing onError hook does not wedge the limits', async () => {
    const { clock, recording, leaser } = setup({
      onError: () => {
        throw new Error('broken hook');
      },
    });
    recording.failWith = new Error('connection lost');
    const waiting = leaser.take('k', shortCode, 1);
    await settle(leaser);
    recording.failWith = null;
    clock.advance(100);
    await settle(leaser);
    await waiting;
    leaser.close();
  });

  it('takeWithin waits out a slow store answer: only the wait the limit imposes counts', async () => {
    const { clock, recording, leaser } = setup();
    let answer!: () => void;
    recording.held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    let outcome: unknown = null;
    const taking = leaser.takeWithin('k', shortCode, 1, 50).then((r) => {
      outcome = r;
    });
    // Four times the wait allowed passes before the store answers: no refusal meanwhile.
    for (let i = 0; i < 20; i++) {
      clock.advance(10);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(outcome).toBeNull();
    answer();
    await taking;
    expect(outcome).toEqual({ ok: true });
    expect(recording.calls).toBe(1);
    leaser.close();
  });

  it('takeWithin waits for the limit up to maxWaitMs and refuses beyond it, with the wait', async () => {
    const { clock, leaser } = setup();
    // 20/s, burst 1: a token every 50 ms.
    const limit = { perSecond: 20, burst: 1 };
    expect(await leaser.takeWithin('k', limit, 1, 0)).toEqual({ ok: true });
    // The next token is 50 ms away: within 60 it is waited for (the clock is moved along).
    const start = clock.now();
    const within = leaser.takeWithin('k', limit, 1, 60);
    await drive(clock, 60, 5, leaser);
    expect(await within).toEqual({ ok: true });
    expect(clock.now() - start).toBeGreaterThanOrEqual(50);
    // At 1/s the next token is a second away: refused at once, with that wait.
    const slow = { perSecond: 1, burst: 1 };
    expect(await leaser.takeWithin('s', slow, 1, 60)).toEqual({ ok: true });
    const at = clock.now();
    const refused = await leaser.takeWithin('s', slow, 1, 60);
    expect(clock.now()).toBe(at);
    expect(refused.ok).toBe(false);
    expect(refused.ok === false && refused.waitMs).toBeGreaterThan(900);
    leaser.close();
  });

  it('takeWithin rejects with TokenLeaserClosedError when the leaser closes while it waits', async () => {
    const { recording, leaser } = setup();
    recording.held = new Promise<void>(() => {});
    const taking = leaser.takeWithin('k', shortCode, 1, 50);
    await new Promise<void>((resolve) => setImmediate(resolve));
    leaser.close();
    await expect(taking).rejects.toBeInstanceOf(TokenLeaserClosedError);
  });

  it('close() rejects waiting callers; later calls throw', async () => {
    const { leaser } = setup();
    const waiting = leaser.take('lc', { perSecond: 1, burst: 1 }, 5);
    leaser.close();
    await expect(waiting).rejects.toBeInstanceOf(TokenLeaserClosedError);
    expect(() => leaser.tryTake('lc', shortCode, 1)).toThrow(TokenLeaserClosedError);
  });

  it('rejects bad counts and limits with typed errors', () => {
    const { leaser } = setup();
    expect(() => leaser.tryTake('k', shortCode, 1.5)).toThrow(/n must be a whole number/);
    expect(() => leaser.tryTake('k', { perSecond: Number.POSITIVE_INFINITY, burst: 1 }, 1)).toThrow(
      RateLimitArgumentError,
    );
    expect(leaser.tryTake('k', shortCode, 0)).toEqual({ ok: true });
    leaser.close();
  });
});

describe('two instances on one key, through Redis', () => {
  const SECONDS = 20;

  it.each([
    { limit: { perSecond: 100, burst: 10 }, seed: 1 },
    { limit: { perSecond: 3, burst: 1 }, seed: 2 },
  ])('share $limit.perSecond/s within 10% of the rate combined', async ({ limit, seed }) => {
    const clock = new ManualClock();
    const random = prng(seed);
    const prefix = `x${++prefixes}`;
    const connections = [connect(), connect()];
    const stores = connections.map((c) => new RecordingStore(new RedisRateLimitStore(c, prefix)));
    const leasers = stores.map((store, i) => new TokenLeaser({ store, clock, random: prng(seed * 10 + i) }));
    const start = clock.now();
    let delivered = 0;
    const senders = leasers.map(async (leaser) => {
      try {
        for (;;) {
          const parts = 1 + Math.floor(random() * 10);
          await leaser.take('shortcode', limit, parts);
          delivered += parts;
        }
      } catch (err) {
        if (!(err instanceof TokenLeaserClosedError)) throw err;
      }
    });
    try {
      await settle(...leasers);
      while (clock.now() - start < SECONDS * 1000) {
        clock.advance(Math.min(1 + Math.floor(random() * 4), start + SECONDS * 1000 - clock.now()));
        await settle(...leasers);
      }
    } finally {
      for (const l of leasers) l.close();
      await Promise.all(senders);
      await Promise.all(connections.map((c) => c.quit()));
    }
    const grants = stores.flatMap((s) => s.grants);
    const granted = grants.reduce((sum, g) => sum + g.granted, 0);
    const ideal = limit.perSecond * SECONDS;
    expect(granted).toBeLessThanOrEqual(ideal + limit.burst);
    expect(granted).toBeGreaterThanOrEqual(0.9 * ideal);
    // And in every window, not just over the whole run.
    expect(worstWindowExcess(grants, limit.perSecond)).toBeLessThanOrEqual(limit.burst + 1e-9);
    // Each side is short of at most one message (≤ 9 parts gathered toward it) at the end.
    expect(delivered).toBeLessThanOrEqual(granted);
    expect(delivered).toBeGreaterThanOrEqual(granted - 18);
    // Both sides were served.
    expect(stores.every((s) => s.granted > 0.3 * granted)).toBe(true);
  });
});

describe('GCRA properties', () => {
  const limitArb = fc.record({
    perSecond: fc.oneof(
      fc.integer({ min: 1, max: 2000 }),
      fc.constantFrom(0.5, 1 / 3, 2.5, 1000 / 3, 1 / 7, 0.01),
      fc.double({ min: 0.01, max: 5000, noNaN: true }),
    ),
    burst: fc.integer({ min: 1, max: 50 }),
  });

  it('in any window of W ms, never more than burst + W · perSecond tokens; waitMs is exact', () => {
    fc.assert(
      fc.property(
        limitArb,
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), want: fc.integer({ min: 0, max: 80 }) }), {
          minLength: 1,
          maxLength: 300,
        }),
        (limit, steps) => {
          let now = Date.UTC(2026, 0, 1);
          let state: GcraState | null = null;
          let expiresAt = 0;
          const grants: Grant[] = [];
          for (const { dt, want } of steps) {
            now += dt;
            const prev = state !== null && expiresAt > now ? state : null;
            const request = { key: 'k', limit, want, now };
            const { result, next, ttlMs } = gcraStep(prev, request);
            expect(result.granted).toBeGreaterThanOrEqual(0);
            expect(result.granted).toBeLessThanOrEqual(want);
            if (result.granted < want) {
              // Nothing more fits until waitMs has passed, and then one does.
              const after = next ?? prev;
              expect(
                gcraStep(after, { ...request, want: 1, now: now + result.waitMs - 1 }).result.granted,
              ).toBe(0);
              expect(gcraStep(after, { ...request, want: 1, now: now + result.waitMs }).result.granted).toBe(
                1,
              );
            } else {
              expect(result.waitMs).toBe(0);
            }
            if (next !== null) {
              state = next;
              expiresAt = now + ttlMs;
              grants.push({ at: now, granted: result.granted });
            }
          }
          expect(worstWindowExcess(grants, limit.perSecond)).toBeLessThanOrEqual(limit.burst + 1e-9);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the memory store and the Redis script answer every sequence alike, rate changes included', async () => {
    const redis = connect();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              key: fc.constantFrom('a', 'b'),
              limit: fc.constantFrom<RateLimit>(
                { perSecond: 3, burst: 1 },
                { perSecond: 100, burst: 10 },
                { perSecond: 1000 / 3, burst: 7 },
                { perSecond: 0.5, burst: 2 },
              ),
              dt: fc.integer({ min: 0, max: 700 }),
              want: fc.integer({ min: 0, max: 30 }),
            }),
            { minLength: 1, maxLength: 150 },
          ),
          async (steps) => {
            let now = Date.UTC(2026, 0, 1);
            const requests = steps.map(({ key, limit, dt, want }) => {
              now += dt;
              return { key, limit, want, now };
            });
            const redisStore = new RedisRateLimitStore(redis, `eq${++prefixes}`);
            const [fromMemory, fromRedis] = await Promise.all([
              new MemoryRateLimitStore().take(requests),
              redisStore.take(requests),
            ]);
            expect(fromRedis).toEqual(fromMemory);
          },
        ),
        { numRuns: 150 },
      );
    } finally {
      await redis.quit();
    }
  });
});
