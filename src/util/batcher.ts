/**
 * Collects the items added during one turn of the event loop and hands them to `flush` as one
 * batch (one store round trip and one command instead of one per message), resolving each
 * caller's promise with its own result. Flushed on setImmediate: after the I/O callbacks of the
 * turn, so a burst of receipts read from one socket chunk lands in one batch.
 */
export class TickBatcher<I, O> {
  readonly #flush: (items: I[]) => Promise<O[]>;
  #items: I[] = [];
  #waiters: Array<{ resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  #scheduled = false;

  /** `flush` must return one result per item, in order. */
  constructor(flush: (items: I[]) => Promise<O[]>) {
    this.#flush = flush;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#items.push(item);
      this.#waiters.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => void this.#run());
      }
    });
  }

  async #run(): Promise<void> {
    const items = this.#items;
    const waiters = this.#waiters;
    this.#items = [];
    this.#waiters = [];
    this.#scheduled = false;
    try {
      const results = await this.#flush(items);
      for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(results[i] as O);
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}
