/**
 * A token bucket for a connector's TPS ceiling in this process: one second of burst, refilled
 * continuously. Waiters are served in order by one timer, whatever their number.
 */
import type { Clock, TimerHandle } from '../clock.js';

export class Pace {
  readonly #rate: number;
  readonly #clock: Clock;
  #tokens: number;
  #at: number;
  #waiters: Array<() => void> = [];
  #timer: TimerHandle | null = null;

  /** `rate` per second; 0 means no ceiling. */
  constructor(rate: number, clock: Clock) {
    this.#rate = rate;
    this.#clock = clock;
    this.#tokens = rate;
    this.#at = clock.now();
  }

  /** Resolves when one more submit may go out. */
  take(): Promise<void> {
    if (this.#rate === 0) return Promise.resolve();
    this.#refill();
    if (this.#waiters.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#arm();
    });
  }

  /** Wakes every waiter (on shutdown: they go on to find the client stopped). */
  release(): void {
    this.#timer?.cancel();
    this.#timer = null;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
    this.#at = now;
  }

  #arm(): void {
    if (this.#timer) return;
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#rate));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#refill();
      while (this.#waiters.length > 0 && this.#tokens >= 1) {
        this.#tokens -= 1;
        this.#waiters.shift()!();
      }
      if (this.#waiters.length > 0) this.#arm();
    }, wait);
  }
}
