/** A FIFO on a growable ring buffer: O(1) push, shift and unshift, for queues that grow large. */
export class Fifo<T> {
  #items: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
  }

  /** Puts an item back at the front (a retry keeps its place in line). */
  unshift(item: T): void {
    this.#grow();
    this.#head = (this.#head - 1) & (this.#items.length - 1);
    this.#items[this.#head] = item;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length--;
    return item;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  #grow(): void {
    const cap = this.#items.length;
    if (this.#length < cap) return;
    const next: (T | undefined)[] = new Array(cap * 2);
    for (let i = 0; i < this.#length; i++) next[i] = this.#items[(this.#head + i) & (cap - 1)];
    this.#items = next;
    this.#head = 0;
  }
}
