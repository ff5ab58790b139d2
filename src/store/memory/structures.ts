/** The two containers the memory store is built from: a map whose entries expire, and a min-heap. */

interface Slot<V> {
  value: V;
  /** ms since the epoch (the store's clock) at which the entry stops being found. */
  expiresAt: number;
}

/**
 * A Map whose entries expire by the injected clock. Expired entries are simply not found (lazy
 * expiry: no timers, which would keep the process alive or need a real clock). Memory is
 * reclaimed by sweeping a few entries from the front on each write: keys are re-inserted when
 * their TTL is reset, so the Map's insertion order is close to expiry order, and each entry is
 * swept at most once, so the cost is amortised O(1) per write.
 */
export class ExpiringMap<V> {
  readonly #slots = new Map<string, Slot<V>>();

  get size(): number {
    return this.#slots.size;
  }

  get(key: string, now: number): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt <= now) {
      this.#slots.delete(key);
      return undefined;
    }
    return slot.value;
  }

  /** Sets the value with a new expiry (like SET ... EX). */
  set(key: string, value: V, expiresAt: number, now: number): void {
    // Delete first so the key moves to the end: insertion order keeps tracking expiry order.
    this.#slots.delete(key);
    this.#slots.set(key, { value, expiresAt });
    this.#sweep(now);
  }

  /** Replaces the value of a live key and keeps its expiry (like SET ... KEEPTTL); false if absent. */
  replace(key: string, value: V, now: number): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined || slot.expiresAt <= now) return false;
    slot.value = value;
    return true;
  }

  delete(key: string): boolean {
    return this.#slots.delete(key);
  }

  /** Drops up to 8 expired entries from the front: enough to outpace one insertion per call. */
  #sweep(now: number): void {
    let budget = 8;
    for (const [key, slot] of this.#slots) {
      if (budget-- === 0 || slot.expiresAt > now) return;
      this.#slots.delete(key);
    }
  }
}

/** A binary min-heap ordered by `less`. */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && this.#less(items[l]!, items[m]!)) m = l;
      if (r < items.length && this.#less(items[r]!, items[m]!)) m = r;
      if (m === i) break;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
    return top;
  }
}
