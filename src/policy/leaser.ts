/**
 * The local side of the shared rate limits: one TokenLeaser per process, in front of the
 * RateLimitStore, so that the dispatcher does not pay a Redis round trip per part. It takes tokens
 * from the store in leases of ~50 ms of the limit's rate and hands them out synchronously.
 *
 * Why it stays within the limit across instances: every token handed out was granted by the
 * store's GCRA first, so the combined rate of all instances can never exceed the limit (plus the
 * burst); leasing only moves when a process learns it has a token. What it can cost is
 * throughput: tokens leased and never used are lost (the store counted them). So a refill asks for
 * one lease (leaseMs of the rate, at least 1, at most the burst) and one token more (see #refill),
 * or, while the limit binds, for what accrued while it waited (up to two leases, which it only
 * gets if nobody else took them); and leased tokens nobody asks for within idleMs are dropped, so
 * that one process cannot hoard a burst to spend later on top of the others'. Two instances on one
 * key in test/policy get 2005 tokens of the 2000 + 10 that 20 s at 100/s allows, and 59 of 61 at
 * 3/s. Dropping is also what keeps a lease per key ever seen from piling up: idle, it is forgotten.
 *
 * Round trips: one per lease while this process's demand is what binds (0.00002 per 1,000 parts
 * under a huge limit in bench/ratelimit.ts); while the limit binds, one per lease accrual time
 * (~leaseMs, so ~20/s per key and process whatever the rate), each bringing a lease when the
 * process is alone and a share of one when several contend.
 *
 * A message of n parts needs n tokens at once, and n may exceed the lease and even the burst (a
 * 10-part message on a 1/s long code with burst 1): the tokens granted toward it accumulate in the
 * lease until there are n, which the store's GCRA makes take about (n - burst) / perSecond seconds.
 * take() waiters are served in arrival order and tryTake does not jump their queue, so a large
 * message is not starved by a stream of small ones; tryTake alone gives no such order.
 *
 * Store errors: the leaser logs nothing; each failed round trip is passed to `onError` (the
 * caller's logger or metrics), and the keys of that round trip ask again after errorBackoffMs
 * (tryTake reports that wait; take() keeps waiting).
 */
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { SluiceError } from '../errors.js';
import {
  checkRateLimit,
  checkTokenCount,
  type RateLimit,
  RateLimitArgumentError,
  type RateLimitStore,
  type TakeResult,
} from './ratelimit.js';

export interface TokenLeaserOptions {
  store: RateLimitStore;
  clock?: Clock;
  /**
   * Called once per failed store round trip with the error and the keys it was for. The leaser
   * logs nothing itself; an exception thrown here is ignored (a broken hook must not wedge the
   * limits).
   */
  onError?: (err: unknown, keys: readonly string[]) => void;
  /** ms of the limit's rate a refill asks for at least (never more than the burst); default 50. */
  leaseMs?: number;
  /** ms leased tokens are kept while nobody asks for the key; default 1000. */
  idleMs?: number;
  /** ms before asking the store again after it failed; default 100. */
  errorBackoffMs?: number;
  /** Uniform in [0, 1), for the jitter of refills (see JITTER); default Math.random. */
  random?: () => number;
}

/**
 * ok, or how long to wait; `storeFailing` when the key's last refill failed (the store is
 * unreachable: a wait that is the store's fault, not the limit's).
 */
export type TryTakeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly waitMs: number; readonly storeFailing: boolean };

/** One key's part of a tryTakeAll: n tokens of `key` under `limit`. */
export interface TokenDemand {
  readonly key: string;
  readonly limit: RateLimit;
  readonly n: number;
}

/** The leaser was closed: pending take() calls reject with this, and later calls throw it. */
export class TokenLeaserClosedError extends SluiceError {
  constructor() {
    super('SLUICE_ERR_RATE_LIMIT_CLOSED', 'the token leaser is closed');
  }
}

/**
 * ms tryTake reports while a refill is in flight: its round trip, about which nothing better is
 * known (a local Redis answers in ~0.1 ms, one across zones in ~1 ms).
 */
const REFILL_WAIT_HINT_MS = 1;

const OK: TryTakeResult = { ok: true };

/**
 * Up to this fraction of a lease's accrual time (leaseSize · T) is added to the wait after a short
 * refill, at random, so that instances told the same next-token time take turns at it instead of
 * the one with the shortest round trip winning every time (a 10-part message on a 1/s long code
 * would starve on the other instance; at 100/s one instance got 85% in a test without it). It is
 * well above differences in round trips: 50 ms at 1/s, 17 ms at 3/s, 2.5 ms at 100/s. It costs
 * that much latency, and only where the burst is 1 (an unclaimed token is lost) about half of it
 * in throughput for a lone instance (2.5%), less with more (the earliest of them claims it).
 */
const JITTER = 0.05;

interface Waiter {
  readonly n: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  /** Detaches the abort listener. */
  readonly detach: () => void;
}

interface Lease {
  readonly key: string;
  /** The limit the latest caller named: refills ask under it. */
  limit: RateLimit;
  /** Tokens granted by the store and not handed out. */
  held: number;
  /** A refill of this key is queued or in flight: at most one at a time. */
  refilling: boolean;
  /** The last refill came back short: the limit, not this process's demand, is what binds. */
  saturated: boolean;
  /** The last refill failed (the store did not answer): waits are the store's, not the limit's. */
  failing: boolean;
  /** ms (clock): do not ask the store before this (its waitMs, or an error backoff). */
  notBefore: number;
  /** ms (clock): after this, with nobody waiting, the held tokens are dropped. */
  keepUntil: number;
  /** take() callers, served in order. */
  readonly waiters: Waiter[];
  /** Wakes the head waiter when notBefore passes (no refill in flight to do it). */
  timer: TimerHandle | null;
  /** takeWithin callers waiting for the refill in flight to be answered. */
  readonly answered: Array<() => void>;
}

interface Refill {
  readonly lease: Lease;
  readonly want: number;
}

export class TokenLeaser {
  readonly #store: RateLimitStore;
  readonly #clock: Clock;
  readonly #onError: (err: unknown, keys: readonly string[]) => void;
  readonly #leaseMs: number;
  readonly #idleMs: number;
  readonly #errorBackoffMs: number;
  readonly #random: () => number;
  readonly #leases = new Map<string, Lease>();
  /** Refills asked for in this tick: sent together, as one store call, from a microtask. */
  #batch: Refill[] = [];
  #refilling = 0;
  #sweptAt: number;
  #closed = false;

  constructor(options: TokenLeaserOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#leaseMs = positiveMs('leaseMs', options.leaseMs ?? 50);
    this.#idleMs = positiveMs('idleMs', options.idleMs ?? 1000);
    this.#errorBackoffMs = positiveMs('errorBackoffMs', options.errorBackoffMs ?? 100);
    this.#random = options.random ?? Math.random;
    this.#sweptAt = this.#clock.now();
  }

  /** Keys with a refill queued or in flight (for metrics, and for tests to wait on). */
  get refilling(): number {
    return this.#refilling;
  }

  /** Tokens of `key` this process holds and has not handed out. */
  held(key: string): number {
    return this.#leases.get(key)?.held ?? 0;
  }

  /** Tokens a refill asks for at least: leaseMs of the rate, at least 1, at most the burst. */
  leaseSize(limit: RateLimit): number {
    return Math.min(limit.burst, Math.max(1, Math.floor((limit.perSecond * this.#leaseMs) / 1000)));
  }

  /**
   * Synchronous fast path: takes n tokens of `key` from this process's lease if it holds them
   * (and no take() caller is queued for the key). Otherwise takes nothing and returns the ms after
   * which asking again may succeed (a hint: 1 while a refill is in flight). If no refill of the
   * key is in flight and the store has not said the next tokens are further off, it starts one
   * for at least n - held tokens (see #refill), which are added to the lease as granted; tokens
   * gathered toward n stay held while the caller comes back within waitMs + idleMs. n = 0 is
   * always ok.
   */
  tryTake(key: string, limit: RateLimit, n: number): TryTakeResult {
    checkRateLimit(limit);
    checkTokenCount('n', n);
    this.#open();
    const now = this.#clock.now();
    const lease = this.#lease(key, limit, now);
    if (lease.waiters.length === 0 && lease.held >= n) {
      lease.held -= n;
      lease.keepUntil = now + this.#idleMs;
      return OK;
    }
    // A queued waiter drives its own refills, for its own count.
    if (lease.waiters.length === 0) this.#refill(lease, n, now);
    const waitMs = this.#waitHint(lease, now);
    // The caller was told to come back in waitMs: the tokens gathered toward n wait for it.
    lease.keepUntil = Math.max(lease.keepUntil, now + waitMs + this.#idleMs);
    return { ok: false, waitMs, storeFailing: lease.failing };
  }

  /**
   * Takes every demand or none: ok only when this process holds all of them (a message needs its
   * sender's tokens and its connector's together; taking one and then finding the other short
   * would spend the first for nothing). Otherwise refills start for the short keys as in tryTake
   * and waitMs is the longest of their waits. Demands must name distinct keys.
   */
  tryTakeAll(demands: readonly TokenDemand[]): TryTakeResult {
    for (let i = 0; i < demands.length; i++) {
      const d = demands[i]!;
      checkRateLimit(d.limit);
      checkTokenCount('n', d.n);
      // Quadratic, and allocation-free: a message names two or three keys.
      for (let j = 0; j < i; j++) {
        if (demands[j]!.key === d.key)
          throw new RateLimitArgumentError(`tryTakeAll names key '${d.key}' twice`);
      }
    }
    this.#open();
    const now = this.#clock.now();
    const leases = demands.map((d) => this.#lease(d.key, d.limit, now));
    let short = false;
    for (let i = 0; i < demands.length; i++) {
      const lease = leases[i]!;
      if (lease.waiters.length > 0 || lease.held < demands[i]!.n) short = true;
    }
    if (!short) {
      for (let i = 0; i < demands.length; i++) {
        leases[i]!.held -= demands[i]!.n;
        leases[i]!.keepUntil = now + this.#idleMs;
      }
      return OK;
    }
    let waitMs = 0;
    let storeFailing = false;
    for (let i = 0; i < demands.length; i++) {
      const lease = leases[i]!;
      const n = demands[i]!.n;
      if (lease.waiters.length === 0 && lease.held >= n) {
        lease.keepUntil = now + this.#idleMs;
        continue;
      }
      if (lease.waiters.length === 0) this.#refill(lease, n, now);
      waitMs = Math.max(waitMs, this.#waitHint(lease, now));
      storeFailing ||= lease.failing;
    }
    for (const lease of leases) lease.keepUntil = Math.max(lease.keepUntil, now + waitMs + this.#idleMs);
    return { ok: false, waitMs, storeFailing };
  }

  /**
   * Resolves once n tokens of `key` were taken; callers of one key are served in order. For
   * intake limits, answer 429 with Retry-After from tryTake's waitMs instead of waiting here.
   * Rejects with the signal's reason when it aborts, and with TokenLeaserClosedError on close().
   */
  async take(key: string, limit: RateLimit, n: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.tryTake(key, limit, n).ok) return;
    const lease = this.#leases.get(key)!;
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = lease.waiters.indexOf(waiter);
        if (i >= 0) lease.waiters.splice(i, 1);
        reject(signal?.reason);
        // The head may have changed, and with it the count a refill must reach.
        this.#serve(lease);
      };
      const waiter: Waiter = {
        n,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      lease.waiters.push(waiter);
      this.#serve(lease);
    });
  }

  /**
   * Takes n tokens of `key` unless the store says they are more than maxWaitMs away: resolves
   * { ok: true } once taken, or { ok: false, waitMs } as soon as the wait is known to be longer
   * (the store's next-token time, or its error backoff). For intake limits, where a caller over
   * its rate is answered 429 rather than kept waiting.
   *
   * Only time the limit makes the caller wait counts toward maxWaitMs, not the store's round
   * trips: a refill in flight is waited for however long it takes. Under load an answer sits
   * behind a long event-loop turn, and a timer counting the round trip would fire first (timers
   * run before the poll phase that reads the answer) and refuse a caller far below its rate.
   * Like tryTake, it does not queue behind take() callers of the key. Rejects with
   * TokenLeaserClosedError if the leaser closes meanwhile.
   */
  async takeWithin(key: string, limit: RateLimit, n: number, maxWaitMs: number): Promise<TryTakeResult> {
    let waited = 0;
    for (;;) {
      const result = this.tryTake(key, limit, n);
      if (result.ok) return result;
      const lease = this.#leases.get(key)!;
      if (lease.refilling) {
        await new Promise<void>((resolve) => lease.answered.push(resolve));
        continue;
      }
      if (waited + result.waitMs > maxWaitMs) return result;
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, result.waitMs));
      waited += result.waitMs;
    }
  }

  /**
   * Gives back n tokens taken and then not used (a message that took its sender's tokens and
   * then could not get its connector's): they go to the next taker of the key here, instead of
   * being spent for nothing. After close(), or once the key's lease is gone, they are dropped.
   */
  release(key: string, n: number): void {
    checkTokenCount('n', n);
    const lease = this.#leases.get(key);
    if (this.#closed || lease === undefined || n === 0) return;
    lease.held += n;
    this.#serve(lease);
  }

  /**
   * Rejects every pending take() with TokenLeaserClosedError and stops the timers; later calls
   * throw it. Refills in flight complete into nothing. Held tokens are lost (the store counted
   * them).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new TokenLeaserClosedError();
    for (const lease of this.#leases.values()) {
      lease.timer?.cancel();
      lease.timer = null;
      // Their next tryTake throws the closed error.
      this.#answered(lease);
      for (const w of lease.waiters.splice(0)) {
        w.detach();
        w.reject(err);
      }
    }
    this.#leases.clear();
  }

  #open(): void {
    if (this.#closed) throw new TokenLeaserClosedError();
  }

  #lease(key: string, limit: RateLimit, now: number): Lease {
    if (now - this.#sweptAt >= this.#idleMs) this.#sweep(now);
    let lease = this.#leases.get(key);
    if (lease === undefined) {
      lease = {
        key,
        limit,
        held: 0,
        refilling: false,
        saturated: false,
        failing: false,
        notBefore: 0,
        keepUntil: now + this.#idleMs,
        waiters: [],
        timer: null,
        answered: [],
      };
      this.#leases.set(key, lease);
      return lease;
    }
    lease.limit = limit;
    // Unasked-for tokens are dropped: spent in the store's eyes, they would otherwise make a
    // burst on top of what the other instances are being granted now. And after such a pause
    // the limit may well have refilled: the next refill asks for a single lease again.
    if (now > lease.keepUntil && lease.waiters.length === 0) {
      lease.held = 0;
      lease.saturated = false;
    }
    return lease;
  }

  /** Forgets leases nobody asked for within idleMs and with nothing pending. */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, lease] of this.#leases) {
      if (
        now > lease.keepUntil &&
        now >= lease.notBefore &&
        lease.waiters.length === 0 &&
        !lease.refilling &&
        lease.timer === null
      ) {
        this.#leases.delete(key);
      }
    }
  }

  #waitHint(lease: Lease, now: number): number {
    if (lease.refilling) return REFILL_WAIT_HINT_MS;
    return Math.max(REFILL_WAIT_HINT_MS, lease.notBefore - now);
  }

  /** Starts a refill toward `need` tokens unless one is in flight or the store said to wait. */
  #refill(lease: Lease, need: number, now: number): void {
    if (lease.refilling || now < lease.notBefore || this.#closed) return;
    lease.refilling = true;
    this.#refilling++;
    // More than a lease once the key is saturated (the last refill came back short): all that
    // accrued while this process waited (a lease, plus the jitter and the rounding of the wait),
    // capped at two leases. And always one token more than that: a store short by just that one
    // answers with the ms until its next token, where an exact grant answers waitMs 0 and a
    // saturated key would pay a second round trip per lease to learn it. Neither makes a hoard:
    // a saturated key has nothing more to give, and an idle one gives one token beyond a lease.
    const size = this.leaseSize(lease.limit);
    const want = Math.max(need - lease.held, lease.saturated ? 2 * size : size) + 1;
    this.#batch.push({ lease, want });
    if (this.#batch.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const batch = this.#batch;
    this.#batch = [];
    const now = this.#clock.now();
    const requests = batch.map(({ lease, want }) => ({ key: lease.key, limit: lease.limit, want, now }));
    let call: Promise<TakeResult[]>;
    try {
      call = this.#store.take(requests);
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then(
      (results) => {
        if (results.length !== batch.length) {
          this.#failed(batch, new Error(`rate limit store answered ${results.length} of ${batch.length}`));
          return;
        }
        for (let i = 0; i < batch.length; i++) this.#granted(batch[i]!, results[i]!, now);
      },
      (err: unknown) => this.#failed(batch, err),
    );
  }

  #granted({ lease, want }: Refill, result: TakeResult, askedAt: number): void {
    lease.refilling = false;
    this.#refilling--;
    lease.failing = false;
    if (this.#closed) return;
    this.#answered(lease);
    lease.held += result.granted;
    // Short: the limit is spent for now. Ask again once a whole lease has accrued, not at the
    // next single token, or a saturated key would cost a round trip per token, the very thing
    // leasing is for. That delays a part by leaseMs at most. (The store's waitMs counts from the
    // `now` it was asked at.) Plus a jitter: every instance sharing the key is told the same
    // next-token time, and without it the one nearest to Redis would win every race for it.
    lease.saturated = result.granted < want;
    if (lease.saturated) {
      const interval = 1000 / lease.limit.perSecond;
      const accrual = (this.leaseSize(lease.limit) - 1) * interval;
      const jitter = this.#random() * JITTER * (accrual + interval);
      lease.notBefore = askedAt + result.waitMs + Math.ceil(accrual + jitter);
    } else {
      lease.notBefore = 0;
    }
    if (result.granted > 0) {
      lease.keepUntil = Math.max(lease.keepUntil, this.#clock.now() + this.#idleMs);
    }
    this.#serve(lease);
  }

  #failed(batch: readonly Refill[], err: unknown): void {
    const now = this.#clock.now();
    for (const { lease } of batch) {
      lease.refilling = false;
      this.#refilling--;
      lease.failing = true;
      lease.notBefore = now + this.#errorBackoffMs;
    }
    if (this.#closed) return;
    for (const { lease } of batch) this.#answered(lease);
    try {
      this.#onError(
        err,
        batch.map((r) => r.lease.key),
      );
    } catch {
      // Ignored: see TokenLeaserOptions.onError.
    }
    for (const { lease } of batch) this.#serve(lease);
  }

  /** Wakes the takeWithin callers waiting on the key's refill (they resume later, in microtasks). */
  #answered(lease: Lease): void {
    for (const wake of lease.answered.splice(0)) wake();
  }

  /** Hands held tokens to waiters in order; then refills or arms the timer for the head. */
  #serve(lease: Lease): void {
    if (this.#closed) return;
    const w = lease.waiters;
    while (w.length > 0 && w[0]!.n <= lease.held) {
      const head = w.shift()!;
      lease.held -= head.n;
      head.detach();
      head.resolve();
    }
    const now = this.#clock.now();
    if (w.length === 0) {
      lease.timer?.cancel();
      lease.timer = null;
      lease.keepUntil = Math.max(lease.keepUntil, now + this.#idleMs);
      return;
    }
    lease.keepUntil = Math.max(lease.keepUntil, now + this.#idleMs);
    this.#refill(lease, w[0]!.n, now);
    if (!lease.refilling && lease.timer === null) {
      lease.timer = this.#clock.setTimeout(
        () => {
          lease.timer = null;
          this.#serve(lease);
        },
        Math.max(1, lease.notBefore - now),
      );
    }
  }
}

function positiveMs(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RateLimitArgumentError(`${name} must be a number of ms > 0, got ${value}`);
  }
  return value;
}
