/**
 * The shared, durable store: Redis (≥ 7.0: SET NX GET, GETDEL, XAUTOCLAIM) through ioredis with
 * auto-pipelining, so that the many small commands issued in one tick (putFinal's SETs, many
 * callers' reads) leave as one write and cost one round trip. The enqueues and the
 * compare-and-sets of one tick go further: one script run each, whoever the callers. Every
 * read-modify-write is a Lua script (lua.ts); the key layout is in keys.ts.
 *
 * Written for one Redis primary. Under Redis Cluster the per-connector scripts stay valid (their
 * keys share a hash tag), but the enqueue and compare-and-set scripts and getMany's MGET touch
 * records in many slots and would need splitting per slot, which gives up enqueue's atomicity
 * across records.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { type Clock, systemClock } from '../../clock.js';
import { DEFAULT_REDIS_COMMAND_TIMEOUT_MS } from '../../config/types.js';
import { copyRecord, type MessageRecord, type PartRef } from '../../core/types.js';
import { type Logger, silentLogger } from '../../logger.js';
import { TickBatcher } from '../../util/batcher.js';
import { DuplicateMessageError, ttlSeconds } from '../errors.js';
import { encodeBinding, parseBinding } from '../idempotency.js';
import { retentionSeconds } from '../retention.js';
import {
  type CorrelationStore,
  type IdempotencyBinding,
  type IdempotencyClaim,
  type MessageStore,
  OUTBOX,
  type QueueEntry,
  type QueueStore,
  type Store,
} from '../types.js';
import { GROUP, RedisKeys } from './keys.js';
import {
  ACK,
  CLAIM,
  COMPARE_AND_SET,
  CONFIRM_IF,
  CORRELATE,
  DEFER,
  DELETE_IF_EQUAL,
  ENQUEUE,
  evalScript,
  KEEP,
  PRUNE_CONSUMERS,
  RELEASE_IF,
  runScript,
  SETTLE_IF,
  STASH_UNLESS_CORRELATED,
} from './lua.js';
import { RedisOptOutStore } from './optouts.js';
import { RedisRateLimitStore } from './ratelimit.js';
import { decodeRecord, encodeRecord } from './record.js';
import { DurabilityCheck } from './safety.js';

export { GROUP, RedisKeys } from './keys.js';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  url: string;
  /** Prefix of every key; default 'sluice'. */
  keyPrefix?: string;
  /** How long a message record is kept after enqueue or putFinal wrote it. */
  messageTtlSeconds: number;
  /** Decides when deferred entries are due. */
  clock?: Clock;
  logger?: Logger;
  /**
   * Whether this process claims from the queue (default true). False (role api): the records it
   * enqueues are not kept for a first claim here that never comes.
   */
  claims?: boolean;
  /**
   * How long a command may go unanswered before it fails (default 5,000 ms): a Redis that hangs
   * turns into errors (HTTP 503) instead of requests that never end. While the connection is
   * down, commands fail after one reconnection attempt instead of waiting through twenty.
   */
  commandTimeoutMs?: number;
  /**
   * Consumers of a connector's group (one per process that ever read it) with nothing pending
   * and no read for this long are deleted (default 600,000 ms): see PRUNE_CONSUMERS.
   */
  pruneConsumersIdleMs?: number;
  /** ioredis options laid over the store's own (auto-pipelining stays on). */
  redisOptions?: RedisOptions;
}

/** How often a process looks for stopped processes' consumers, per connector. */
const PRUNE_EVERY_MS = 60_000;

/** How soon after a scan that reached the end of the pending list the next one may start. */
function rescanMs(reclaimIdleMs: number): number {
  return Math.min(reclaimIdleMs / 10, 5_000);
}

/** Most deferred entries one claim moves back to the stream: bounds the script's run time. */
const MAX_DUE_MOVED = 1000;

/**
 * Records this process enqueued, by stream entry id, until the entry is first handed out here:
 * the dispatcher then needs no read (QueueEntry.record). Only an entry's first hand-out may use
 * its copy: nothing changes a record before then, while a reclaimed entry's message may have been
 * partly sent by another process, and a deferred one comes back under a new entry id. Entries
 * another process claims are never taken here; the oldest go first beyond the bound.
 */
class RecentEnqueues {
  readonly #byEntry = new Map<string, MessageRecord>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** False when nothing is kept (max 0): the caller need not make copies. */
  get enabled(): boolean {
    return this.#max > 0;
  }

  /**
   * Keyed by connector and entry id: stream ids are per stream, and two connectors' entries
   * appended in one millisecond (one enqueue across routes) have the same one.
   */
  offer(connector: string, entryId: string, record: MessageRecord): void {
    this.#byEntry.set(`${connector} ${entryId}`, record);
    if (this.#byEntry.size > this.#max) {
      const oldest = this.#byEntry.keys().next().value;
      if (oldest !== undefined) this.#byEntry.delete(oldest);
    }
  }

  /** Gives each first hand-out of `connector`'s queue its record, when this process enqueued it. */
  attach(connector: string, entries: QueueEntry[]): QueueEntry[] {
    if (this.#byEntry.size === 0) return entries;
    for (const e of entries) {
      if (e.deliveries !== 0) continue;
      const key = `${connector} ${e.entryId}`;
      const record = this.#byEntry.get(key);
      if (record === undefined) continue;
      this.#byEntry.delete(key);
      // Never another message's record, whatever the ids.
      if (record.id === e.messageId) e.record = record;
    }
    return entries;
  }
}

/** Enqueued records kept for their first hand-out: a few hundred ms of traffic at full load. */
const RECENT_ENQUEUES = 4096;

/** A script's reply that must be an array of one item per input; anything else is a store fault. */
function replyPerItem(reply: unknown, items: number, script: string): unknown[] {
  if (!Array.isArray(reply) || reply.length !== items) {
    throw new Error(`redis store: unexpected ${script} script reply ${JSON.stringify(reply)}`);
  }
  return reply;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What the three parts of the store share. */
interface Context {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly recent: RecentEnqueues;
  readonly pruneConsumersIdleMs: number;
  /** Whether Redis keeps what it is given (eviction off): enqueue refuses while it does not. */
  readonly durability: DurabilityCheck;
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly keys: RedisKeys;
  readonly messages: RedisMessageStore;
  readonly queue: RedisQueueStore;
  readonly correlation: RedisCorrelationStore;
  readonly optouts: RedisOptOutStore;
  readonly limits: RedisRateLimitStore;
  readonly #redis: Redis;
  readonly #durability: DurabilityCheck;
  #closing: Promise<void> | null = null;

  constructor(options: RedisStoreOptions) {
    const logger = options.logger ?? silentLogger;
    this.keys = new RedisKeys(options.keyPrefix ?? 'sluice');
    const commandTimeout = options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    this.#redis = new Redis(options.url, {
      commandTimeout,
      // ioredis's default, 20, holds a command through about 70 s of reconnection attempts
      // while Redis is down: the HTTP request waiting on it would outlast any client's patience.
      maxRetriesPerRequest: 1,
      ...options.redisOptions,
      enableAutoPipelining: true,
      // RESP2, whatever ioredis defaults to (6 speaks RESP3): the reply shapes this store parses
      // from call() and scripts are RESP2's, and RESP3 buys nothing here.
      protocol: 2,
    });
    // Without a listener ioredis prints connection errors itself; they belong in the log.
    this.#redis.on('error', (err: unknown) => logger.warn({ err }, 'redis store: connection error'));
    this.#durability = new DurabilityCheck(this.#redis, logger);
    const ctx: Context = {
      redis: this.#redis,
      keys: this.keys,
      clock: options.clock ?? systemClock,
      logger,
      recent: new RecentEnqueues(options.claims === false ? 0 : RECENT_ENQUEUES),
      pruneConsumersIdleMs: options.pruneConsumersIdleMs ?? 600_000,
      durability: this.#durability,
    };
    this.messages = new RedisMessageStore(ctx, ttlSeconds('messageTtlSeconds', options.messageTtlSeconds));
    this.queue = new RedisQueueStore(ctx);
    this.correlation = new RedisCorrelationStore(ctx);
    this.optouts = new RedisOptOutStore(this.#redis, this.keys.prefix);
    this.limits = new RedisRateLimitStore(this.#redis, this.keys.prefix);
  }

  /** Runs the eviction check now (it runs by itself on connect and every minute). */
  durabilityCheck(): Promise<void> {
    return this.#durability.check();
  }

  /** Reachable, and keeping what it is given: a Redis found evicting is checked again at once. */
  async ping(): Promise<void> {
    await this.#redis.ping();
    if (this.#durability.problem !== null) await this.#durability.check();
    await this.#durability.whenSafe();
  }

  /** Ends waiting claims (they resolve with no entries), then quits after pending replies. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#durability.close();
      this.queue.close();
      await this.#redis.quit().catch(() => this.#redis.disconnect());
    })();
    return this.#closing;
  }
}

/** One caller's enqueue, encoded, waiting for the turn's script. */
interface EnqueueGroup {
  keys: string[];
  /** Message id, TTL in seconds and JSON of each record, in triples. */
  args: Array<string | number>;
}

/** A group's answer: the stream entry id of each record, or the id of a record that exists. */
type EnqueueAnswer = { entryIds: string[] } | { duplicate: string };

/** One caller's compare-and-set, encoded. */
interface CasItem {
  key: string;
  expected: string;
  json: string;
  outbox: readonly string[];
}

export class RedisMessageStore implements MessageStore {
  readonly #ctx: Context;
  readonly #ttl: number;
  /**
   * The enqueues and the compare-and-sets of one turn each go out as one script: many single
   * requests, and every update of a claimed batch or of a burst of receipts, cost Redis one script
   * run and ioredis one command instead of one each.
   */
  readonly #enqueues: TickBatcher<EnqueueGroup, EnqueueAnswer>;
  readonly #writes: TickBatcher<CasItem, boolean>;

  constructor(ctx: Context, ttl: number) {
    this.#ctx = ctx;
    this.#ttl = ttl;
    this.#enqueues = new TickBatcher((groups) => this.#enqueueGroups(groups));
    this.#writes = new TickBatcher((items) => this.#compareAndSetMany(items));
  }

  async enqueue(records: readonly MessageRecord[]): Promise<void> {
    if (records.length === 0) return;
    const unchecked = this.#ctx.durability.whenSafe();
    if (unchecked) await unchecked;
    const { keys } = this.#ctx;
    const now = this.#ctx.clock.now();
    const seen = new Set<string>();
    const group: EnqueueGroup = { keys: [], args: [] };
    // Taken with the encoding, so each copy is what was written; none in a process that claims
    // nothing (role api).
    const copies: MessageRecord[] | null = this.#ctx.recent.enabled ? [] : null;
    for (const r of records) {
      // The script checks the store; a batch that names one id twice is caught here.
      if (seen.has(r.id)) throw new DuplicateMessageError(r.id);
      seen.add(r.id);
      group.keys.push(keys.message(r.id), keys.stream(r.connector));
      group.args.push(r.id, retentionSeconds(this.#ttl, r.validUntil, now), encodeRecord(r));
      copies?.push(copyRecord(r));
    }
    const answer = await this.#enqueues.add(group);
    if ('duplicate' in answer) throw new DuplicateMessageError(answer.duplicate);
    if (copies === null) return;
    for (let i = 0; i < copies.length; i++)
      this.#ctx.recent.offer(copies[i]!.connector, answer.entryIds[i]!, copies[i]!);
  }

  /** One script for the turn's enqueues: atomic on one primary (see the note at the top of the file). */
  async #enqueueGroups(groups: readonly EnqueueGroup[]): Promise<EnqueueAnswer[]> {
    const scriptKeys: string[] = [];
    const args: Array<string | number> = [groups.length];
    for (const g of groups) args.push(g.args.length / 3);
    for (const g of groups) {
      for (const k of g.keys) scriptKeys.push(k);
      for (const a of g.args) args.push(a);
    }
    const reply = await runScript(this.#ctx.redis, ENQUEUE, scriptKeys, args);
    return replyPerItem(reply, groups.length, 'enqueue').map((answer, i) => {
      if (typeof answer === 'string') return { duplicate: answer };
      if (Array.isArray(answer) && answer.length === groups[i]!.args.length / 3)
        return { entryIds: answer.map(String) };
      throw new Error(`redis store: unexpected enqueue script answer ${JSON.stringify(answer)}`);
    });
  }

  async putFinal(records: readonly MessageRecord[], outbox: readonly string[] = []): Promise<void> {
    const { redis, keys } = this.#ctx;
    if (outbox.length === 0) {
      // Issued in one tick: auto-pipelining sends them as one write.
      await Promise.all(records.map((r) => redis.set(keys.message(r.id), encodeRecord(r), 'EX', this.#ttl)));
      return;
    }
    // The records and their events together (MULTI): never one without the other.
    const tx = redis.multi();
    for (const r of records) tx.set(keys.message(r.id), encodeRecord(r), 'EX', this.#ttl);
    for (const e of outbox) tx.xadd(keys.stream(OUTBOX), '*', 'm', e);
    const replies = await tx.exec();
    const failed = replies?.find(([err]) => err !== null)?.[0];
    if (!replies || failed) throw failed ?? new Error('redis store: the putFinal transaction was discarded');
  }

  async getMany(ids: readonly string[]): Promise<Array<MessageRecord | null>> {
    if (ids.length === 0) return [];
    const { redis, keys } = this.#ctx;
    const values = await redis.mget(ids.map((id) => keys.message(id)));
    return values.map((value, i) => {
      try {
        return decodeRecord(value);
      } catch (err) {
        // Corrupt, or in a layout this version does not know (a newer sluice's): read as missing,
        // so that the rest of a claimed batch goes on, and said. The record stays for a look.
        this.#ctx.logger.error({ err, messageId: ids[i] }, 'redis store: a message record cannot be read');
        return null;
      }
    });
  }

  compareAndSet(
    record: MessageRecord,
    expectedVersion: number,
    outbox: readonly string[] = [],
  ): Promise<boolean> {
    // Encoded now: the caller may change its copy once this resolves.
    return this.#writes.add({
      key: this.#ctx.keys.message(record.id),
      expected: String(expectedVersion),
      json: encodeRecord(record),
      outbox,
    });
  }

  async #compareAndSetMany(items: readonly CasItem[]): Promise<boolean[]> {
    const keys = new Array<string>(items.length + 1);
    const args: Array<string | number> = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      keys[i] = item.key;
      args.push(item.expected, item.json, item.outbox.length);
      for (const e of item.outbox) args.push(e);
    }
    keys[items.length] = this.#ctx.keys.stream(OUTBOX);
    const reply = await runScript(this.#ctx.redis, COMPARE_AND_SET, keys, args);
    return replyPerItem(reply, items.length, 'compare-and-set').map((r) => r === 1);
  }

  async claimIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    pendingSeconds: number,
  ): Promise<IdempotencyBinding | null> {
    const { redis, keys } = this.#ctx;
    // SET NX GET (Redis ≥ 7.0): binds the key and reports an earlier binding in one command.
    const reply = await redis.call(
      'SET',
      keys.idempotency(account, key),
      encodeBinding(claim, true),
      'NX',
      'GET',
      'EX',
      ttlSeconds('pendingSeconds', pendingSeconds),
    );
    return typeof reply === 'string' ? parseBinding(reply) : null;
  }

  async confirmIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    ttl: number,
  ): Promise<void> {
    const { redis, keys } = this.#ctx;
    await runScript(redis, CONFIRM_IF, [keys.idempotency(account, key)], bindingArgs(claim, ttl));
  }

  async releaseIdempotencyKey(account: string, key: string, messageId: string): Promise<void> {
    const { redis, keys } = this.#ctx;
    await runScript(redis, RELEASE_IF, [keys.idempotency(account, key)], [messageId]);
  }

  async settleIdempotencyKey(
    account: string,
    key: string,
    claim: IdempotencyClaim,
    ttl: number,
  ): Promise<void> {
    const { redis, keys } = this.#ctx;
    // Two slots (the key's account, the record's id): one primary, like enqueue. EVAL: it must
    // run right after the writes of the failed request, before a retry's claim.
    await evalScript(
      redis,
      SETTLE_IF,
      [keys.idempotency(account, key), keys.message(claim.messageId)],
      bindingArgs(claim, ttl),
    );
  }
}

/** CONFIRM_IF's and SETTLE_IF's arguments: the claim's pending binding, its confirmed one, the TTL. */
function bindingArgs(claim: IdempotencyClaim, ttl: number): [string, string, number] {
  return [encodeBinding(claim, true), encodeBinding(claim, false), ttlSeconds('ttlSeconds', ttl)];
}

interface ClaimReply {
  cursor: string;
  /** Earliest notBefore still deferred, when nothing was handed out; else null. */
  nextDue: number | null;
  entries: QueueEntry[];
}

function parseClaimReply(reply: unknown): ClaimReply {
  if (!Array.isArray(reply) || reply.length < 2 || (reply.length - 2) % 3 !== 0) {
    throw new Error(`redis store: unexpected claim script reply ${JSON.stringify(reply)}`);
  }
  const entries: QueueEntry[] = [];
  for (let i = 2; i < reply.length; i += 3) {
    entries.push({
      entryId: String(reply[i]),
      messageId: String(reply[i + 1]),
      deliveries: Number(reply[i + 2]),
    });
  }
  const due = String(reply[1]);
  return { cursor: String(reply[0]), nextDue: due === '' ? null : Number(due), entries };
}

/** XREADGROUP's reply for one stream: [[key, [[id, [field, value, ...]], ...]]], or null. */
function parseReadReply(reply: unknown): QueueEntry[] {
  if (reply === null) return [];
  const stream: unknown = Array.isArray(reply) ? reply[0] : undefined;
  const items: unknown = Array.isArray(stream) ? stream[1] : undefined;
  if (!Array.isArray(items))
    throw new Error(`redis store: unexpected XREADGROUP reply ${JSON.stringify(reply)}`);
  const entries: QueueEntry[] = [];
  for (const item of items) {
    if (!Array.isArray(item) || !Array.isArray(item[1])) continue;
    entries.push({ entryId: String(item[0]), messageId: String(item[1][1]), deliveries: 0 });
  }
  return entries;
}

export class RedisQueueStore implements QueueStore {
  readonly #ctx: Context;
  /** Connectors whose consumer group exists (or is being created). */
  readonly #groups = new Map<string, Promise<void>>();
  /** XAUTOCLAIM cursor per connector, so successive claims scan the whole pending list. */
  readonly #cursors = new Map<string, string>();
  /** When each connector's pending list was last scanned through to its end. */
  readonly #scannedAt = new Map<string, number>();
  /** When this process last pruned each connector's stopped consumers. */
  readonly #prunedAt = new Map<string, number>();
  /**
   * One connection per (connector, consumer) for blocking reads: a BLOCK holds its connection
   * until it returns, and the shared auto-pipelined one must never wait behind it.
   */
  readonly #blockers = new Map<string, Redis>();
  #closed = false;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  async claim(
    connector: string,
    consumer: string,
    count: number,
    blockMs: number,
    reclaimIdleMs: number,
  ): Promise<QueueEntry[]> {
    if (count <= 0) return [];
    const idle = Number.isFinite(reclaimIdleMs) && reclaimIdleMs >= 0 ? Math.floor(reclaimIdleMs) : -1;
    const { recent } = this.#ctx;
    try {
      const first = await this.#claimOnce(connector, consumer, count, idle);
      if (first.entries.length > 0 || blockMs <= 0 || this.#closed)
        return recent.attach(connector, first.entries);
      // A deferred entry that falls due during the wait ends it early: the server cannot know.
      let wait = blockMs;
      if (first.nextDue !== null) wait = Math.min(blockMs, first.nextDue - this.#ctx.clock.now());
      // BLOCK 0 would mean forever.
      wait = Math.max(1, Math.ceil(wait));
      this.#ctx.logger.debug({ connector, consumer, blockMs: wait }, 'claim: waiting for entries');
      const read = await this.#withGroup(connector, () =>
        this.#blockingRead(connector, consumer, count, wait),
      );
      if (read.length > 0 || wait >= blockMs || this.#closed) return recent.attach(connector, read);
      return recent.attach(connector, (await this.#claimOnce(connector, consumer, count, idle)).entries);
    } catch (err) {
      // close() came first: a consumer loop ends quietly. Nothing was handed out to this call
      // (or, if the reply was lost, it is reclaimed later), so no entry is lost.
      if (this.#closed) return [];
      throw err;
    }
  }

  async ack(connector: string, entryIds: readonly string[]): Promise<void> {
    if (entryIds.length === 0) return;
    await runScript(this.#ctx.redis, ACK, [this.#ctx.keys.stream(connector)], [GROUP, ...entryIds]);
  }

  async keep(connector: string, consumer: string, entryIds: readonly string[]): Promise<number> {
    if (entryIds.length === 0) return 0;
    // A group Redis lost (FLUSHDB) is made again, and then holds nothing of this consumer's.
    const reply = await this.#withGroup(connector, () =>
      runScript(this.#ctx.redis, KEEP, [this.#ctx.keys.stream(connector)], [GROUP, consumer, ...entryIds]),
    );
    return Number(reply);
  }

  async defer(connector: string, entries: readonly QueueEntry[], notBefore: number): Promise<void> {
    if (entries.length === 0) return;
    const { redis, keys } = this.#ctx;
    const args: Array<string | number> = [GROUP, Math.floor(notBefore)];
    for (const e of entries) args.push(e.entryId, e.messageId);
    await runScript(redis, DEFER, [keys.stream(connector), keys.deferred(connector)], args);
  }

  async depth(connector: string): Promise<number> {
    const { redis, keys } = this.#ctx;
    // Acked entries are deleted, so the stream's length is queued plus pending.
    const [queued, deferred] = await Promise.all([
      redis.xlen(keys.stream(connector)),
      redis.zcard(keys.deferred(connector)),
    ]);
    return queued + deferred;
  }

  async oldest(connector: string): Promise<number | null> {
    // A stream entry's id starts with the ms it was added (by Redis's clock).
    const [first] = await this.#ctx.redis.xrange(this.#ctx.keys.stream(connector), '-', '+', 'COUNT', 1);
    return first ? Number(first[0].slice(0, first[0].indexOf('-'))) : null;
  }

  async waiting(): Promise<Map<string, number>> {
    const { redis, keys } = this.#ctx;
    // SCAN walks the whole keyspace a batch at a time (records included): a start-time check.
    const connectors = new Set<string>();
    const stream = keys.stream('*');
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', stream, 'COUNT', 1000);
      cursor = next;
      for (const key of found) {
        const connector = keys.streamConnector(key);
        if (connector !== null) connectors.add(connector);
      }
    } while (cursor !== '0');
    const out = new Map<string, number>();
    for (const connector of connectors) {
      const n = await this.depth(connector);
      if (n > 0) out.set(connector, n);
    }
    return out;
  }

  /** Drops the blocking connections: a claim waiting on one resolves with no entries. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#blockers.values()) conn.disconnect();
    this.#blockers.clear();
  }

  async #pruneConsumers(connector: string, consumer: string): Promise<void> {
    const { redis, keys, logger, pruneConsumersIdleMs } = this.#ctx;
    try {
      const n = Number(
        await runScript(
          redis,
          PRUNE_CONSUMERS,
          [keys.stream(connector)],
          [GROUP, consumer, pruneConsumersIdleMs],
        ),
      );
      if (n > 0) logger.info({ connector, consumers: n }, 'deleted the consumers of stopped processes');
    } catch (err) {
      // Tidying only: the next pass tries again.
      logger.warn({ err, connector }, 'could not delete the consumers of stopped processes');
    }
  }

  async #claimOnce(connector: string, consumer: string, count: number, idle: number): Promise<ClaimReply> {
    const { redis, keys, clock } = this.#ctx;
    const now = clock.now();
    const cursor = this.#cursors.get(connector) ?? '0-0';
    // XAUTOCLAIM reads the pending list from the cursor on: with a thousand entries in flight a
    // scan costs Redis most of a millisecond, and a busy dispatcher claims dozens of times a
    // second. Once a scan has gone through to the end, the next starts only a tenth of the
    // reclaim time later (at most 5 s): an entry is reclaimed that much past its idle time.
    const scan =
      idle >= 0 && cursor === '0-0' && now - (this.#scannedAt.get(connector) ?? -Infinity) < rescanMs(idle)
        ? -1
        : idle;
    const reply = await this.#withGroup(connector, () =>
      runScript(
        redis,
        CLAIM,
        [keys.stream(connector), keys.deferred(connector)],
        [GROUP, consumer, count, Math.floor(now), scan, cursor, MAX_DUE_MOVED],
      ),
    );
    const parsed = parseClaimReply(reply);
    if (scan >= 0) {
      this.#cursors.set(connector, parsed.cursor);
      if (parsed.cursor === '0-0') {
        this.#scannedAt.set(connector, now);
        // The whole pending list reclaimed as far as it is due: stopped processes' names with
        // nothing left pending can go (one round trip a minute; it never fails the claim).
        if (now - (this.#prunedAt.get(connector) ?? -Infinity) >= PRUNE_EVERY_MS) {
          this.#prunedAt.set(connector, now);
          await this.#pruneConsumers(connector, consumer);
        }
      }
    }
    return parsed;
  }

  /**
   * Runs `fn` once the consumer group exists; if Redis lost it meanwhile (the stream was deleted:
   * FLUSHDB, a restore without it), creates it again and retries once.
   */
  async #withGroup<T>(connector: string, fn: () => Promise<T>): Promise<T> {
    await this.#ensureGroup(connector);
    try {
      return await fn();
    } catch (err) {
      if (!errorMessage(err).includes('NOGROUP')) throw err;
      this.#groups.delete(connector);
      await this.#ensureGroup(connector);
      return fn();
    }
  }

  #ensureGroup(connector: string): Promise<void> {
    let created = this.#groups.get(connector);
    if (created === undefined) {
      const { redis, keys, logger } = this.#ctx;
      // From id 0: entries enqueued before the group existed are read too.
      created = redis.call('XGROUP', 'CREATE', keys.stream(connector), GROUP, '0', 'MKSTREAM').then(
        () => logger.debug({ connector }, 'redis store: consumer group created'),
        (err: unknown) => {
          if (errorMessage(err).startsWith('BUSYGROUP')) return;
          this.#groups.delete(connector);
          throw err;
        },
      );
      this.#groups.set(connector, created);
    }
    return created;
  }

  async #blockingRead(connector: string, consumer: string, count: number, ms: number): Promise<QueueEntry[]> {
    const conn = this.#blocker(connector, consumer);
    const reply = await conn.call(
      'XREADGROUP',
      'GROUP',
      GROUP,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      ms,
      'STREAMS',
      this.#ctx.keys.stream(connector),
      '>',
    );
    return parseReadReply(reply);
  }

  #blocker(connector: string, consumer: string): Redis {
    const key = `${connector.length}:${connector}${consumer}`;
    let conn = this.#blockers.get(key);
    if (conn === undefined) {
      const { redis, logger } = this.#ctx;
      // One command at a time on it: pipelining buys nothing.
      // A blocking read waits as long as it asks to: the command timeout would cut it short.
      // ioredis's blocking timeout ends it that long after its BLOCK instead, should Redis hang.
      conn = redis.duplicate({
        enableAutoPipelining: false,
        protocol: 2,
        commandTimeout: undefined,
        blockingTimeout: redis.options.commandTimeout ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
      });
      conn.on('error', (err: unknown) =>
        logger.warn({ err, connector, consumer }, 'redis store: blocking connection error'),
      );
      this.#blockers.set(key, conn);
    }
    return conn;
  }
}

/**
 * What a correlation key holds: `<part>:<messageId>` (the part is digits, so the first ':'
 * splits), or STASHED and a receipt that came before the part's SMSC id was recorded.
 */
function encodeRef(ref: PartRef): string {
  return `${ref.part}:${ref.messageId}`;
}

/** The first character of a stashed receipt's value: never a digit, so never a part. */
const STASHED = '~';

function decodeRef(value: string | null): PartRef | null {
  if (value === null || value.startsWith(STASHED)) return null;
  const colon = value.indexOf(':');
  return { messageId: value.slice(colon + 1), part: Number(value.slice(0, colon)) };
}

export class RedisCorrelationStore implements CorrelationStore {
  readonly #ctx: Context;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  async correlate(
    connector: string,
    entries: ReadonlyArray<{ smscIds: readonly string[]; ref: PartRef }>,
    ttl: number,
  ): Promise<Array<string | null>> {
    const { keys } = this.#ctx;
    const scriptKeys: string[] = [];
    const args: Array<string | number> = [ttlSeconds('ttlSeconds', ttl)];
    for (const { smscIds, ref } of entries) {
      const value = encodeRef(ref);
      for (const id of smscIds) {
        scriptKeys.push(keys.correlation(connector, id));
        args.push(value);
      }
    }
    if (scriptKeys.length === 0) return entries.map(() => null);
    // One script, one slot ({c:<connector>}): valid under Cluster too.
    const reply = await runScript(this.#ctx.redis, CORRELATE, scriptKeys, args);
    const previous = replyPerItem(reply, scriptKeys.length, 'correlate');
    let at = 0;
    return entries.map(({ smscIds }) => {
      let taken: string | null = null;
      for (let i = 0; i < smscIds.length; i++, at++) {
        const old = previous[at];
        if (taken === null && typeof old === 'string' && old.startsWith(STASHED)) taken = old.slice(1);
      }
      return taken;
    });
  }

  async getCorrelations(connector: string, smscIds: readonly string[]): Promise<Array<PartRef | null>> {
    if (smscIds.length === 0) return [];
    const { redis, keys } = this.#ctx;
    // One slot ({c:<connector>}), so MGET is valid under Cluster too.
    const values = await redis.mget(smscIds.map((id) => keys.correlation(connector, id)));
    return values.map(decodeRef);
  }

  async stashReceipt(
    connector: string,
    smscIds: readonly string[],
    receipt: string,
    ttl: number,
  ): Promise<Array<PartRef | null> | null> {
    if (smscIds.length === 0) return null;
    const { redis, keys } = this.#ctx;
    const reply = await runScript(
      redis,
      STASH_UNLESS_CORRELATED,
      smscIds.map((id) => keys.correlation(connector, id)),
      [ttlSeconds('ttlSeconds', ttl), `${STASHED}${receipt}`],
    );
    if (reply === 0) return null;
    return replyPerItem(reply, smscIds.length, 'stash').map((v) =>
      decodeRef(typeof v === 'string' ? v : null),
    );
  }

  async dropStashed(connector: string, smscIds: readonly string[], receipt: string): Promise<void> {
    if (smscIds.length === 0) return;
    const { redis, keys } = this.#ctx;
    await runScript(
      redis,
      DELETE_IF_EQUAL,
      smscIds.map((id) => keys.correlation(connector, id)),
      [`${STASHED}${receipt}`],
    );
  }
}
