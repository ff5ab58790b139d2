/**
 * Rate limits that hold across every sluice instance: a carrier's cap per sender (a US short code
 * ~100 parts/s, toll-free 3/s, a long code 1/s), a connector's TPS, an API key's intake limit.
 *
 * The algorithm is GCRA (the generic cell rate algorithm of ATM, ITU-T I.371): per key, one number,
 * the theoretical arrival time (TAT) of the next token if tokens were spent at exactly the rate.
 * With the emission interval T = 1000 / perSecond ms and the tolerance τ = burst · T, a request
 * for k tokens at `now` is granted when max(TAT, now) + k · T ≤ now + τ, and then
 * TAT = max(TAT, now) + k · T. An idle key therefore holds `burst` tokens, and a window [a, b]
 * sees at most burst + (b - a) / T tokens: whoever grants them, TAT advances by exactly T per
 * token, from at least a (max(TAT, now) at the first grant) to at most b + τ (the bound at the
 * last). A request may be granted in part: k is the most tokens that fit, 0..want. This is a token
 * bucket of `burst` tokens refilled continuously at the rate, and like one it loses what accrues
 * while full: with burst 1 and T = 333.3 ms, a caller asking every whole ms claims each token up
 * to 0.7 ms late, and 20 s at 3/s yield 60 tokens, not 61.
 *
 * One step per key is all a store does (gcraStep below; the Redis store runs the same arithmetic
 * in Lua), so the memory store and the Redis store answer every sequence of requests identically;
 * a test runs random sequences against both and compares.
 *
 * Time. `now` is the caller's injected clock, not the store's: Redis scripts cannot read the
 * clock of a test, and the stores must follow it. Across instances this assumes hosts whose clocks
 * NTP keeps within a few ms of each other, and GCRA shrugs off such skew: an instance s ms ahead
 * finds every TAT s ms nearer and can be granted up to s · perSecond tokens sooner than it should;
 * one behind is granted that much later. The error does not accumulate, because TAT moves by
 * exactly k · T per grant whoever's clock computed it, and max(TAT, now) only lets the clock that
 * runs ahead pull TAT forward, which costs the others rather than adds to the rate. So any window
 * sees at most burst + (W + s) · perSecond / 1000 tokens: with s = 5 ms at 100/s, half a token.
 *
 * Exactness. TAT is kept as anchor + count · T (GcraState): `anchor` is the `now` at which the key
 * was last found idle and `count` the tokens granted since, so every comparison is done as
 * count · 1000 against elapsed · perSecond. With whole-ms clocks and a whole perSecond these are
 * integers, exact in doubles (Lua's too), so the limit holds to the token at every ms instead of
 * drifting by the rounding of T = 1000/3 added to an epoch-sized TAT on each grant. The state keeps
 * the rate it counted at: a request under another rate (a configuration change, or two instances
 * during a rolling deploy) first turns the count into a plain TAT at the old rate, so a lowered rate
 * never reinterprets hours of tokens at the new, longer interval.
 *
 * Expiry. Once TAT ≤ now a key is indistinguishable from one never seen, so stores keep it until
 * its TAT plus IDLE_MARGIN_MS (at most τ + margin after the grant): idle senders cost nothing.
 */
import { SluiceError } from '../errors.js';

export interface RateLimit {
  /** Sustained rate in tokens per second, > 0 (0.5 is one token every 2 s). */
  readonly perSecond: number;
  /** Tokens an idle key holds, granted at once: a whole number ≥ 1. */
  readonly burst: number;
}

export interface TakeRequest {
  /** The limited thing: 'sender:+15550100', 'connector:smsc-a', 'key:acme'. */
  readonly key: string;
  readonly limit: RateLimit;
  /** Tokens asked for: a whole number ≥ 0. */
  readonly want: number;
  /** ms since the epoch by the caller's clock (see "Time" above). */
  readonly now: number;
}

export interface TakeResult {
  /** Tokens granted, 0..want. */
  readonly granted: number;
  /** When granted < want: ms from `now` until the next token could be granted (≥ 1); else 0. */
  readonly waitMs: number;
}

export interface RateLimitStore {
  /**
   * GCRA: grants as many of `want` tokens as the limit allows at `now` (a partial grant is
   * allowed), for many keys in one round trip. Requests are applied in order, so two requests
   * for one key in one call see each other. Rejects with RateLimitArgumentError, before applying
   * any, when a request is malformed.
   */
  take(requests: readonly TakeRequest[]): Promise<TakeResult[]>;
}

/** A limit or a count out of range; the message says what is accepted. */
export class RateLimitArgumentError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_RATE_LIMIT_ARGUMENT', message);
  }
}

/** Throws RateLimitArgumentError unless the limit is usable. */
export function checkRateLimit(limit: RateLimit): void {
  if (!(Number.isFinite(limit.perSecond) && limit.perSecond > 0)) {
    throw new RateLimitArgumentError(
      `rate limit perSecond must be a finite number > 0, got ${limit.perSecond}`,
    );
  }
  if (!(Number.isSafeInteger(limit.burst) && limit.burst >= 1)) {
    throw new RateLimitArgumentError(`rate limit burst must be a whole number >= 1, got ${limit.burst}`);
  }
}

/** Throws RateLimitArgumentError unless `value` is a whole number ≥ 0. */
export function checkTokenCount(name: string, value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new RateLimitArgumentError(`${name} must be a whole number of tokens >= 0, got ${value}`);
  }
}

export function checkTakeRequest(request: TakeRequest): void {
  checkRateLimit(request.limit);
  checkTokenCount('want', request.want);
  if (!Number.isFinite(request.now)) {
    throw new RateLimitArgumentError(`now must be ms since the epoch, got ${request.now}`);
  }
}

/**
 * ms a key is kept past its TAT. Past the TAT the key means nothing; the margin covers instances
 * whose clocks lag the one that set the expiry (see "Time"), by far more than NTP allows.
 */
export const IDLE_MARGIN_MS = 1000;

/** What a store keeps per key: TAT = anchor + count · 1000 / perSecond (see "Exactness"). */
export interface GcraState {
  /** ms (callers' clocks): the `now` at which the key was found idle, or a TAT carried over a rate change. */
  readonly anchor: number;
  /** Tokens granted since `anchor`. */
  readonly count: number;
  /** The rate `count` was granted at. */
  readonly perSecond: number;
}

export interface GcraOutcome {
  readonly result: TakeResult;
  /** The state to store; null when nothing was granted (whatever is stored stands, TTL included). */
  readonly next: GcraState | null;
  /** ms to keep `next`: until its TAT, plus IDLE_MARGIN_MS. */
  readonly ttlMs: number;
}

/**
 * One GCRA step for one key. `prev` is the stored state, or null when there is none (never seen,
 * or expired). The Lua script in store/redis/ratelimit.ts is this function, operation for
 * operation in the same order, so both stores round alike; change them together.
 */
export function gcraStep(prev: GcraState | null, request: TakeRequest): GcraOutcome {
  const { now, want } = request;
  const { perSecond, burst } = request.limit;
  let anchor = now;
  let count = 0;
  if (prev !== null) {
    let a = prev.anchor;
    let c = prev.count;
    if (prev.perSecond !== perSecond) {
      a = a + (c * 1000) / prev.perSecond;
      c = 0;
    }
    // TAT > now: the key is busy; otherwise it is idle and counting starts afresh at now.
    if (c * 1000 > (now - a) * perSecond) {
      anchor = a;
      count = c;
    }
  }
  const elapsed = now - anchor;
  // The most tokens in total since anchor that keep TAT ≤ now + τ, less those already granted.
  const available = Math.floor((elapsed * perSecond) / 1000) + burst - count;
  const granted = Math.max(0, Math.min(want, available));
  const total = count + granted;
  let waitMs = 0;
  if (granted < want) {
    // The next token fits once floor(elapsed' · perSecond / 1000) reaches `need`, about
    // need · T - elapsed ms from now. Rounded to the whole ms at which the grant above says yes:
    // need · T and elapsed' · perSecond / 1000 round apart (T = 1000/3 is not a double), and a
    // caller told to wait must be granted when it comes back, not 1 ms later.
    const need = total + 1 - burst;
    waitMs = Math.max(1, Math.ceil((need * 1000) / perSecond - elapsed));
    while (waitMs > 1 && Math.floor(((elapsed + waitMs - 1) * perSecond) / 1000) >= need) waitMs--;
    while (Math.floor(((elapsed + waitMs) * perSecond) / 1000) < need) waitMs++;
  }
  if (granted === 0) return { result: { granted, waitMs }, next: null, ttlMs: 0 };
  const ahead = (total * 1000) / perSecond - elapsed;
  return {
    result: { granted, waitMs },
    next: { anchor, count: total, perSecond },
    ttlMs: Math.ceil(ahead) + IDLE_MARGIN_MS,
  };
}
