/**
 * The compliance and flow policy, from the configuration: which opt-out scopes silence a sender,
 * where a keyword opt-out is recorded, the rate limits of senders, connectors and API keys, and
 * the quiet hours of a message. Intake (IntakePolicy) and the dispatcher ask it; the opt-out list
 * and the rate-limit state live in the store, shared by every instance.
 */
import type { SenderConfig, SluiceConfig } from '../config/types.js';
import { ApiError } from '../errors.js';
import { type TokenLeaser, TokenLeaserClosedError, type TryTakeResult } from '../policy/leaser.js';
import {
  type OptOutEntry,
  type OptOutQuery,
  type OptOutScope,
  type OptOutStore,
  scopeGlobal,
  scopeProgram,
  scopeSender,
} from '../policy/optouts.js';
import { nextAllowedAt, zonesForNumber } from '../policy/quiet-hours.js';
import type { RateLimit } from '../policy/ratelimit.js';
import { TickBatcher } from '../util/batcher.js';
import type { Account, IntakePolicy } from './api.js';
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

export interface FlowPolicyOptions {
  config: SluiceConfig;
  senders: SenderPolicy;
  optouts: OptOutStore;
  leaser: TokenLeaser;
}

/**
 * Longest an HTTP request waits for its API key's rate before it is answered 429, far shorter than
 * a client notices. The store's answers to this process's refills are waited for besides.
 */
const INTAKE_WAIT_MS = 50;

/**
 * The policy as intake and the dispatcher ask it. Rate-limit keys are namespaced by what they
 * limit (sender:, connector:, key:), so a sender and a connector of the same name never share.
 */
export class FlowPolicy implements IntakePolicy {
  readonly senders: SenderPolicy;
  readonly #o: FlowPolicyOptions;
  readonly #keyLimits: Map<string, RateLimit>;
  readonly #senderLimits = new Map<string, RateLimit>();
  readonly #connectorLimits = new Map<string, RateLimit>();
  readonly #singles: TickBatcher<OptOutQuery, OptOutEntry | null>;

  constructor(options: FlowPolicyOptions) {
    this.#o = options;
    this.senders = options.senders;
    this.#singles = new TickBatcher((queries) => options.optouts.check(queries));
    this.#keyLimits = new Map(
      options.config.apiKeys.flatMap((k) =>
        k.rateLimit > 0 ? [[k.name, { perSecond: k.rateLimit, burst: k.rateBurst }] as const] : [],
      ),
    );
    for (const s of options.config.senders) {
      if (s.rateLimit > 0) this.#senderLimits.set(s.address, { perSecond: s.rateLimit, burst: s.rateBurst });
    }
    for (const c of options.config.connectors) {
      // One second of the carrier's TPS as burst: what "per second" allows.
      if (c.tps > 0)
        this.#connectorLimits.set(c.name, { perSecond: c.tps, burst: Math.max(1, Math.ceil(c.tps)) });
    }
  }

  get leaser(): TokenLeaser {
    return this.#o.leaser;
  }

  async admit(account: Account, count: number): Promise<void> {
    const limit = this.#keyLimits.get(account.name);
    if (!limit) return;
    if (count > limit.burst) {
      // The key never holds that many tokens: a 429 would promise a retry that cannot succeed.
      throw new ApiError(
        413,
        'payload-too-large',
        `API key '${account.name}' takes at most ${limit.burst} messages per request (its rateBurst); split the batch`,
      );
    }
    const key = `key:${account.name}`;
    const leaser = this.#o.leaser;
    if (leaser.tryTake(key, limit, count).ok) return;
    // Most often this process's lease of the key ran out and the next is being fetched: wait for
    // it, and for the limit itself up to INTAKE_WAIT_MS. The fetch's round trip is not counted
    // (see takeWithin): a slow answer under load must not turn into 429s far below the rate.
    let result: TryTakeResult;
    try {
      result = await leaser.takeWithin(key, limit, count, INTAKE_WAIT_MS);
    } catch (err) {
      if (err instanceof TokenLeaserClosedError)
        throw new ApiError(503, 'unavailable', 'the server is shutting down', [], { retryAfterSeconds: 1 });
      throw err;
    }
    if (result.ok) return;
    // No tokens because the store does not answer: that is the store's outage, not the client's
    // rate, and the answer says so (a 429 would have the client slow down for nothing).
    if (result.storeFailing)
      throw new ApiError(503, 'unavailable', 'the rate limit store is unavailable; retry later', [], {
        retryAfterSeconds: 1,
      });
    // The store's hint, or at least the time the rate takes to earn this many tokens.
    const retry = Math.max(result.waitMs, (count / limit.perSecond) * 1000);
    throw new ApiError(
      429,
      'too-many-requests',
      `API key '${account.name}' is over its rate of ${limit.perSecond} messages/s; retry later`,
      [],
      { retryAfterSeconds: retry / 1000 },
    );
  }

  async blockedBy(records: readonly MessageRecord[]): Promise<Array<string | null>> {
    const only = records.length === 1 ? records[0]! : null;
    if (only && !only.keywordReply) {
      // Single-message requests arriving in one turn share one store call.
      const entry = await this.#singles.add({ number: only.to, scopes: this.senders.checkScopes(only.from) });
      return [entry?.scope ?? null];
    }
    return this.senders.blockedBy(this.#o.optouts, records);
  }

  /** Parts per second the sender may send across every instance; null: no limit. */
  senderLimit(address: string): RateLimit | null {
    return this.#senderLimits.get(address) ?? null;
  }

  /** The connector's TPS across every instance; null: no ceiling. */
  connectorLimit(name: string): RateLimit | null {
    return this.#connectorLimits.get(name) ?? null;
  }

  /**
   * When the message may go as far as quiet hours are concerned: `now` when it may go now, a later
   * instant when the recipient's window opens then, or null when no window opens in every one of
   * the number's possible time zones within the next days (the caller expires the message rather
   * than send it at an hour that may be forbidden). Keyword replies are exempt.
   */
  quietHoursRelease(record: MessageRecord, sender: SenderConfig, now: number): number | null {
    if (record.keywordReply || record.quietHours === false) return now;
    const window = record.quietHours ?? sender.quietHours;
    if (window === null) return now;
    return nextAllowedAt(zonesForNumber(record.to), window, now);
  }
}
