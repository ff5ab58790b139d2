/**
 * The compliance and flow policy, from the configuration: which opt-out scopes silence a sender,
 * where a keyword opt-out is recorded, the rate limits of senders, connectors and API keys, and
 * the quiet hours of a message. Intake (IntakePolicy) and the dispatcher ask it; the opt-out list
 * and the rate-limit state live in the store, shared by every instance.
 */
import type { SenderConfig } from '../config/types.js';
import {
  type OptOutScope,
  type OptOutStore,
  scopeGlobal,
  scopeProgram,
  scopeSender,
} from '../policy/optouts.js';
import type { MessageRecord } from './types.js';

/** The configured senders, with the opt-out scopes each one answers to. */
export class SenderPolicy {
  readonly list: readonly SenderConfig[];
  readonly #byAddress: Map<string, SenderConfig>;
  readonly #checkScopes = new Map<string, readonly OptOutScope[]>();

  constructor(senders: readonly SenderConfig[]) {
    this.list = senders;
    this.#byAddress = new Map(senders.map((s) => [s.address, s]));
    for (const s of senders) {
      // Most specific first, so the entry reported is the one closest to the sender.
      const scopes: OptOutScope[] = [scopeSender(s.address)];
      if (s.program !== null) scopes.push(scopeProgram(s.program));
      scopes.push(scopeGlobal());
      this.#checkScopes.set(s.address, scopes);
    }
  }

  get(address: string): SenderConfig | undefined {
    return this.#byAddress.get(address);
  }

  /**
   * The scopes whose opt-outs silence this sender: its own, its program's, and the global list.
   * Whatever scope a sender records STOP in, a message is blocked by an opt-out in any of these.
   */
  checkScopes(address: string): readonly OptOutScope[] {
    return this.#checkScopes.get(address) ?? [scopeGlobal()];
  }

  /** Where an opt-out keyword sent to this sender is recorded (its configured optOutScope). */
  recordScope(sender: SenderConfig): OptOutScope {
    switch (sender.optOutScope) {
      case 'sender':
        return scopeSender(sender.address);
      case 'program':
        // Config validation guarantees a program when the scope is 'program'.
        return sender.program === null ? scopeSender(sender.address) : scopeProgram(sender.program);
      case 'global':
        return scopeGlobal();
    }
  }

  /**
   * For each record, the scope of the opt-out that blocks it, or null: one store call for all of
   * them. Keyword replies are never blocked (STOP's confirmation goes to an opted-out number).
   */
  async blockedBy(optouts: OptOutStore, records: readonly MessageRecord[]): Promise<Array<string | null>> {
    const asked: number[] = [];
    const queries = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.keywordReply) continue;
      asked.push(i);
      queries.push({ number: r.to, scopes: this.checkScopes(r.from) });
    }
    const out: Array<string | null> = records.map(() => null);
    if (queries.length === 0) return out;
    const found = await optouts.check(queries);
    for (let j = 0; j < asked.length; j++) out[asked[j]!] = found[j]?.scope ?? null;
    return out;
  }
}
