/**
 * Whether a Redis server can keep what sluice writes there.
 *
 * sluice answers 202 once a message's record and queue entry are in Redis, and promises never to
 * lose it afterwards. A Redis that evicts keys under memory pressure breaks that silently: under a
 * `volatile-*` policy (ElastiCache's default is volatile-lru) exactly the keys with a TTL go
 * (message records, correlations, idempotency keys), so an accepted message is acknowledged away
 * unsent, its receipts never match and a retry with the same Idempotency-Key sends it again; under
 * `allkeys-*` the queue itself goes. So while Redis has a memory limit and a policy other than
 * `noeviction`, the store takes no message (the answer is 503, and /readyz says not ready), and
 * says why in the log. (With no limit, maxmemory 0, nothing is evicted whatever the policy.)
 *
 * A Redis with no append-only file loses everything since its last snapshot when it restarts: a
 * warning, not a refusal, since replication or snapshots may be the operator's informed choice.
 */
import type { Redis } from 'ioredis';
import { SluiceError } from '../../errors.js';
import type { Logger } from '../../logger.js';

/** The store refuses writes: Redis may drop what it is given (the message says why). */
export class StoreUnsafeError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_STORE_UNSAFE', message);
  }
}

/** What INFO says of eviction and persistence. */
export interface RedisDurability {
  /** maxmemory_policy; null when INFO does not say (an old or restricted server). */
  evictionPolicy: string | null;
  /** maxmemory in bytes: 0 is no limit (nothing is ever evicted); null when INFO does not say. */
  maxMemory: number | null;
  /** aof_enabled; null when INFO does not say. */
  appendOnly: boolean | null;
}

/** Reads the two fields from INFO's text (`field:value` lines, CRLF). */
export function readDurability(info: string): RedisDurability {
  const field = (name: string) => new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1]?.trim() ?? null;
  const aof = field('aof_enabled');
  const max = field('maxmemory');
  return {
    evictionPolicy: field('maxmemory_policy'),
    maxMemory: max === null || !/^\d+$/.test(max) ? null : Number(max),
    appendOnly: aof === null ? null : aof === '1',
  };
}

/** Why this Redis may drop accepted messages, or null when it keeps them. */
export function evictionProblem(d: RedisDurability): string | null {
  if (d.evictionPolicy === null || d.evictionPolicy === 'noeviction' || d.maxMemory === 0) return null;
  return (
    `Redis maxmemory-policy is ${d.evictionPolicy} with maxmemory ${d.maxMemory ?? 'set'}: when full, ` +
    'Redis would delete accepted messages; set it to noeviction (CONFIG SET maxmemory-policy ' +
    'noeviction, and in redis.conf or the managed service parameter group)'
  );
}

/**
 * Checks a Redis when its connection becomes ready and every `everyMs` after; `problem` is the
 * last check's verdict. A check that fails (Redis down, INFO refused) leaves the verdict as it
 * was: an unreachable Redis fails writes by itself.
 */
export class DurabilityCheck {
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout;
  #problem: string | null = null;
  #checked = false;
  #warnedNoAof = false;
  #warnedNoInfo = false;
  #running: Promise<void> | null = null;

  constructor(redis: Redis, logger: Logger, everyMs = 60_000) {
    this.#redis = redis;
    this.#log = logger;
    // Each connection may reach another server (a failover): writes wait for its verdict.
    redis.on('ready', () => {
      this.#checked = false;
      void this.check();
    });
    this.#timer = setInterval(() => void this.check(), everyMs);
    this.#timer.unref();
  }

  get problem(): string | null {
    return this.#problem;
  }

  /** One check; concurrent calls share it. */
  check(): Promise<void> {
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #run(): Promise<void> {
    let info: string;
    try {
      info = await this.#redis.info();
    } catch (err) {
      // Refused (an ACL without @dangerous, a managed service that renames INFO) while the
      // connection is up: the check cannot be made, and saying so once beats asking on every
      // write. Unreachable: the writes fail by themselves, and the next 'ready' checks again.
      if (this.#redis.status === 'ready') {
        this.#checked = true;
        if (!this.#warnedNoInfo) {
          this.#warnedNoInfo = true;
          this.#log.warn(
            { err },
            'redis store: INFO is refused, so the eviction policy cannot be checked; make sure it is noeviction',
          );
        }
      }
      return;
    }
    this.#checked = true;
    const d = readDurability(info);
    const problem = evictionProblem(d);
    if (problem !== null && problem !== this.#problem) {
      this.#log.error(
        { maxmemoryPolicy: d.evictionPolicy },
        `redis store: ${problem}; taking no messages until then`,
      );
    } else if (problem === null && this.#problem !== null) {
      this.#log.info(
        { maxmemoryPolicy: d.evictionPolicy },
        'redis store: eviction is off; taking messages again',
      );
    }
    this.#problem = problem;
    if (d.appendOnly === false && !this.#warnedNoAof) {
      this.#warnedNoAof = true;
      this.#log.warn(
        'redis store: Redis keeps no append-only file (appendonly no): a Redis restart loses the messages ' +
          'accepted since its last snapshot; use appendonly yes (appendfsync everysec) in production',
      );
    }
  }

  /**
   * Rejects with StoreUnsafeError while the last check found a problem; before any check has
   * answered (the first moments of a connection), waits for one. Null when there is nothing to
   * wait for: the write path stays synchronous.
   */
  whenSafe(): Promise<void> | null {
    if (!this.#checked) return this.check().then(() => this.#assert());
    this.#assert();
    return null;
  }

  #assert(): void {
    if (this.#problem !== null) throw new StoreUnsafeError(this.#problem);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
