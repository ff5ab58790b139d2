/**
 * The Redis key layout. The part in braces is the Redis Cluster hash tag: keys with the same tag
 * share a slot, which is what lets one Lua script or MGET touch them together. So a connector's
 * stream and deferred zset share `{q:<connector>}`, its correlation keys share `{c:<connector>}`,
 * and a message record is alone in `{<id>}` (records spread over the cluster).
 */
import { StoreArgumentError } from '../errors.js';

/** The consumer group every dispatcher reads the connector streams through. */
export const GROUP = 'dispatch';

export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    // A brace in the prefix would become the hash tag of every key and put them all in one slot.
    if (prefix.length === 0 || /[{}]/.test(prefix)) {
      throw new StoreArgumentError(`Redis key prefix must be non-empty and without braces, got '${prefix}'`);
    }
    // The keys add their own ':' after the prefix; one written with it ('sluice:', the
    // configuration's default) must not give 'sluice::m:...'.
    this.prefix = prefix.endsWith(':') ? prefix.slice(0, -1) : prefix;
    if (this.prefix.length === 0) throw new StoreArgumentError(`Redis key prefix must not be ':' alone`);
  }

  /** String: the MessageRecord in the layout of record.ts (a JSON array), with a TTL. */
  message(id: string): string {
    return `${this.prefix}:m:{${id}}`;
  }

  /** Stream of the connector's queue: one entry per queued message, field `m` = message id. */
  stream(connector: string): string {
    return `${this.prefix}:{q:${connector}}:s`;
  }

  /** The connector whose queue stream `key` is, or null when it is not one. */
  streamConnector(key: string): string | null {
    const head = `${this.prefix}:{q:`;
    if (!key.startsWith(head) || !key.endsWith('}:s')) return null;
    return key.slice(head.length, -'}:s'.length);
  }

  /** Zset of deferred message ids, scored by notBefore (ms since the epoch). */
  deferred(connector: string): string {
    return `${this.prefix}:{q:${connector}}:d`;
  }

  /** String: the message id an account's idempotency key is bound to, with a TTL. */
  idempotency(account: string, key: string): string {
    return `${this.prefix}:i:{${account}}:${key}`;
  }

  /**
   * String, with a TTL: `<part>:<messageId>` of the part an SMSC id points at, or `~` and a
   * receipt that arrived before that was written (taken when it is).
   */
  correlation(connector: string, smscId: string): string {
    return `${this.prefix}:{c:${connector}}:${smscId}`;
  }
}
