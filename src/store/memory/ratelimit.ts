/**
 * Rate limits for one process (the embedded default): the GCRA state of each key in a Map, with
 * the Redis store's semantics to the token, because both run gcraStep. Expiry follows the
 * callers' `now` (the store has no clock of its own, and Redis's TTLs cannot follow a test's).
 */
import {
  checkTakeRequest,
  type GcraState,
  gcraStep,
  type RateLimitStore,
  type TakeRequest,
  type TakeResult,
} from '../../policy/ratelimit.js';

interface Slot {
  state: GcraState;
  /** ms (callers' clocks) from which the key counts as never seen. */
  expiresAt: number;
}

/**
 * ms between sweeps of expired keys. A sweep visits every key, so a second between them keeps its
 * cost at one visit per key per second whatever the request rate; an expired key is ignored on
 * lookup anyway, the sweep only returns its memory.
 */
const SWEEP_INTERVAL_MS = 1000;

export class MemoryRateLimitStore implements RateLimitStore {
  readonly #slots = new Map<string, Slot>();
  #sweptAt = Number.NEGATIVE_INFINITY;

  /** Keys held, including expired ones not swept yet. */
  get size(): number {
    return this.#slots.size;
  }

  /** Like Redis PTTL: ms until `key` expires at `now`, or -2 when it is not held. */
  pttl(key: string, now: number): number {
    const slot = this.#slots.get(key);
    return slot === undefined || slot.expiresAt <= now ? -2 : slot.expiresAt - now;
  }

  async take(requests: readonly TakeRequest[]): Promise<TakeResult[]> {
    // All checked before any is applied, like the Redis store.
    for (const r of requests) checkTakeRequest(r);
    return requests.map((r) => this.#step(r));
  }

  #step(request: TakeRequest): TakeResult {
    const { key, now } = request;
    if (now - this.#sweptAt >= SWEEP_INTERVAL_MS) this.#sweep(now);
    const slot = this.#slots.get(key);
    const prev = slot !== undefined && slot.expiresAt > now ? slot.state : null;
    const { result, next, ttlMs } = gcraStep(prev, request);
    if (next !== null) this.#slots.set(key, { state: next, expiresAt: now + ttlMs });
    return result;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, slot] of this.#slots) if (slot.expiresAt <= now) this.#slots.delete(key);
  }
}
