import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { MESSAGE_STATUSES, type MessageRecord } from '../../src/core/types.js';
import { createLogger } from '../../src/logger.js';
import { createStore, RedisStore, type RedisStoreOptions } from '../../src/store/index.js';
import { GROUP } from '../../src/store/redis/index.js';
import { decodeRecord, encodeRecord } from '../../src/store/redis/record.js';
import { evictionProblem, readDurability, StoreUnsafeError } from '../../src/store/redis/safety.js';
import { redisForFile } from '../support/redis-server.js';
import { describeStoreContract, makeRecord } from './contract.js';

const TTL_SECONDS = 3600;

// Its admin connection speaks RESP2, like the store: the reply shapes below are RESP2's.
const redisServer = redisForFile();
let prefixes = 0;

function newStore(
  clock: ManualClock,
  keyPrefix = `t${++prefixes}`,
  options: Partial<RedisStoreOptions> = {},
): RedisStore {
  return new RedisStore({
    url: redisServer.url,
    keyPrefix,
    clock,
    messageTtlSeconds: TTL_SECONDS,
    ...options,
  });
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * What time passing does to pending entries on the server: their idle time grows. Redis measures
 * it by its own clock, so the test sets it with XCLAIM IDLE (same owner, same delivery count,
 * JUSTID so nothing else changes) rather than waiting it out.
 */
async function agePending(prefix: string, ms: number): Promise<void> {
  for (const key of await redisServer.admin.keys(`${prefix}:{q:*}:s`)) {
    const groups = asArray(await redisServer.admin.call('XINFO', 'GROUPS', key));
    if (groups.length === 0) continue;
    for (const row of asArray(await redisServer.admin.call('XPENDING', key, GROUP, '-', '+', 10_000))) {
      const [id, consumer, idle, count] = asArray(row);
      await redisServer.admin.call(
        'XCLAIM',
        key,
        GROUP,
        String(consumer),
        0,
        String(id),
        'IDLE',
        Number(idle) + ms,
        'RETRYCOUNT',
        Number(count),
        'JUSTID',
      );
    }
  }
}

describeStoreContract(
  'redis',
  async () => {
    const clock = new ManualClock();
    const store = newStore(clock);
    const prefix = store.keys.prefix;
    return {
      store,
      clock,
      messageTtlSeconds: TTL_SECONDS,
      advance: async (ms) => {
        clock.advance(ms);
        await agePending(prefix, ms);
      },
      cleanup: () => store.close(),
    };
  },
  { ttlFollowsClock: false },
);

/** The hash tag of a key as Redis Cluster reads it: what decides the slot. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/**
 * Resolves once Redis reports `n` clients blocked. There is no event for "a command is now
 * blocking on the server", so this asks INFO, one round trip at a time (no timer).
 */
async function blockedClients(n: number): Promise<void> {
  for (let i = 0; i < 5_000; i++) {
    const info = await redisServer.admin.info('clients');
    if (Number(/blocked_clients:(\d+)/.exec(info)?.[1]) >= n) return;
  }
  throw new Error(`never saw ${n} blocked clients`);
}

describe('RedisStore', () => {
  it('lays out keys with the documented names, types, TTLs and hash tags', async () => {
    const clock = new ManualClock();
    const store = newStore(clock, 'layout');
    try {
      // a: valid until a day ago, kept for the TTL; b: valid for ten days more, kept until a day after.
      const a = makeRecord({ connector: 'smsc-a', validUntil: clock.now() - 86_400_000 });
      const b = makeRecord({ connector: 'smsc-a', validUntil: clock.now() + 10 * 86_400_000 });
      await store.messages.enqueue([a, b]);
      const [, eb] = await store.queue.claim('smsc-a', 'w1', 2, 0, 60_000);
      await store.queue.defer('smsc-a', [eb!], clock.now() + 5_000);
      await store.messages.claimIdempotencyKey(
        'acme',
        'order-1',
        { messageId: a.id, fingerprint: 'fp' },
        600,
      );
      await store.correlation.correlate(
        'smsc-a',
        [{ smscIds: ['0A1B'], ref: { messageId: a.id, part: 0 } }],
        300,
      );
      expect(await store.correlation.stashReceipt('smsc-a', ['0A1C'], 'r', 200)).toBeNull();

      const keys = {
        recordA: `layout:m:{${a.id}}`,
        recordB: `layout:m:{${b.id}}`,
        stream: 'layout:{q:smsc-a}:s',
        deferred: 'layout:{q:smsc-a}:d',
        idempotency: 'layout:i:{acme}:order-1',
        correlation: 'layout:{c:smsc-a}:0A1B',
        stash: 'layout:{c:smsc-a}:0A1C',
      };
      expect((await redisServer.admin.keys('layout:*')).sort()).toEqual(Object.values(keys).sort());
      const types = await Promise.all(Object.values(keys).map((k) => redisServer.admin.type(k)));
      expect(types).toEqual(['string', 'string', 'stream', 'zset', 'string', 'string', 'string']);

      const recordJson = await redisServer.admin.get(keys.recordA);
      // The record's layout (src/store/redis/record.ts): layout 1, then the version.
      expect(recordJson!.startsWith('[1,1,')).toBe(true);
      expect(decodeRecord(recordJson!)).toEqual(a);
      const ttl = async (k: string): Promise<number> => redisServer.admin.pttl(k);
      expect(await ttl(keys.recordA)).toBeGreaterThan((TTL_SECONDS - 5) * 1000);
      expect(await ttl(keys.recordA)).toBeLessThanOrEqual(TTL_SECONDS * 1000);
      expect(await ttl(keys.recordB)).toBeGreaterThan((11 * 86_400 - 5) * 1000);
      expect(await ttl(keys.recordB)).toBeLessThanOrEqual(11 * 86_400 * 1000);
      expect(await ttl(keys.idempotency)).toBeGreaterThan(595_000);
      expect(await ttl(keys.idempotency)).toBeLessThanOrEqual(600_000);
      expect(await ttl(keys.correlation)).toBeGreaterThan(295_000);
      expect(await ttl(keys.correlation)).toBeLessThanOrEqual(300_000);
      expect(await ttl(keys.stash)).toBeGreaterThan(195_000);
      expect(await ttl(keys.stash)).toBeLessThanOrEqual(200_000);
      // Queue keys live as long as the connector does.
      expect(await ttl(keys.stream)).toBe(-1);
      expect(await ttl(keys.deferred)).toBe(-1);

      // Pending ('?') until confirmed; the message id, then the request's fingerprint.
      expect(await redisServer.admin.get(keys.idempotency)).toBe(`?${a.id} fp`);
      expect(await redisServer.admin.call('ZRANGE', keys.deferred, 0, -1, 'WITHSCORES')).toEqual([
        b.id,
        String(clock.now() + 5_000),
      ]);
      const entries = asArray(await redisServer.admin.call('XRANGE', keys.stream, '-', '+'));
      expect(entries.map((e) => asArray(e)[1])).toEqual([['m', a.id]]);
      const groups = asArray(await redisServer.admin.call('XINFO', 'GROUPS', keys.stream)).map(
        (g) => asArray(g)[1],
      );
      expect(groups).toEqual([GROUP]);

      // A stashed receipt: '~' and the receipt, in the correlation key of its id.
      expect(await redisServer.admin.get(keys.stash)).toBe('~r');
      // One connector's queue keys share a slot, as do its correlation keys; records spread out.
      expect(hashTag(keys.stream)).toBe(hashTag(keys.deferred));
      expect(hashTag(keys.correlation)).toBe(hashTag(keys.stash));
      expect(hashTag(keys.recordA)).not.toBe(hashTag(keys.recordB));
    } finally {
      await store.close();
    }
  });

  it('a record written as a JSON object (the layout before) is still read and compare-and-set', async () => {
    const store = newStore(new ManualClock());
    try {
      const a = makeRecord({ reason: 'quiet_hours', heldUntil: 5 });
      // As that layout wrote it: the version first.
      const { version, ...rest } = a;
      await redisServer.admin.set(store.keys.message(a.id), JSON.stringify({ version, ...rest }));
      expect(await store.messages.getMany([a.id])).toEqual([a]);
      // The body holds "version":99: only the leading version counts.
      expect(await store.messages.compareAndSet({ ...a, version: 100 }, 99)).toBe(false);
      expect(await store.messages.compareAndSet({ ...a, version: 2, status: 'sending' }, 1)).toBe(true);
      const [now] = await store.messages.getMany([a.id]);
      expect(now).toMatchObject({ version: 2, status: 'sending' });
      expect((await redisServer.admin.get(store.keys.message(a.id)))!.startsWith('[1,2,')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('reads a record it cannot decode as missing, says so, and still reads the others', async () => {
    const errors: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
    const store = newStore(new ManualClock(), undefined, { logger });
    try {
      const [a, b, c] = [makeRecord(), makeRecord(), makeRecord()];
      await store.messages.enqueue([a]);
      await redisServer.admin.set(store.keys.message(b.id), '[1,"cut off');
      await redisServer.admin.set(store.keys.message(c.id), '[9,"a layout to come"]');
      // One bad record used to fail the whole read: every other message of a claimed batch with it.
      expect(await store.messages.getMany([b.id, a.id, c.id])).toEqual([null, a, null]);
      const said = errors.map((l) => JSON.parse(l) as { msg: string; messageId: string });
      expect(said.map((l) => l.messageId).sort()).toEqual([b.id, c.id].sort());
      expect(said.every((l) => l.msg.includes('cannot be read'))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('compareAndSet keeps the record TTL', async () => {
    const store = newStore(new ManualClock());
    try {
      const a = makeRecord();
      await store.messages.enqueue([a]);
      const key = store.keys.message(a.id);
      await redisServer.admin.pexpire(key, 500_000);
      expect(await store.messages.compareAndSet({ ...a, version: 2 }, 1)).toBe(true);
      const ttl = await redisServer.admin.pttl(key);
      expect(ttl).toBeGreaterThan(490_000);
      expect(ttl).toBeLessThanOrEqual(500_000);
    } finally {
      await store.close();
    }
  });

  it('a second instance sees the same data and reclaims the first one’s pending entries', async () => {
    const clock = new ManualClock();
    const first = newStore(clock, 'shared');
    const second = newStore(clock, 'shared');
    try {
      const [a, b] = [makeRecord(), makeRecord()];
      await first.messages.enqueue([a, b]);
      await first.correlation.correlate('c1', [{ smscIds: ['X1'], ref: { messageId: a.id, part: 0 } }], 60);
      expect(await second.messages.getMany([a.id, b.id])).toEqual([a, b]);
      expect(await second.correlation.getCorrelations('c1', ['X1'])).toEqual([{ messageId: a.id, part: 0 }]);
      expect(
        await second.messages.claimIdempotencyKey('acme', 'k', { messageId: 'm2', fingerprint: 'f' }, 60),
      ).toBeNull();
      expect(
        await first.messages.claimIdempotencyKey('acme', 'k', { messageId: 'm1', fingerprint: 'f' }, 60),
      ).toEqual({
        messageId: 'm2',
        fingerprint: 'f',
        pending: true,
      });

      const handed = (await first.queue.claim('c1', 'instance-1', 10, 0, 60_000)).map(
        ({ record, ...entry }) => entry,
      );
      expect(handed.map((e) => e.messageId)).toEqual([a.id, b.id]);
      // The first instance dies with both entries pending.
      await first.close();
      expect(await second.queue.claim('c1', 'instance-2', 10, 0, 60_000)).toEqual([]);
      await agePending('shared', 60_000);
      clock.advance(60_000);
      const reclaimed = await second.queue.claim('c1', 'instance-2', 10, 0, 60_000);
      expect(reclaimed).toEqual(handed.map((e) => ({ ...e, deliveries: 1 })));
      await second.queue.ack(
        'c1',
        reclaimed.map((e) => e.entryId),
      );
      expect(await second.queue.depth('c1')).toBe(0);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('hands out a record with an entry only to the enqueuing instance, and only the first time', async () => {
    const clock = new ManualClock();
    const first = newStore(clock, 'handoff');
    const second = newStore(clock, 'handoff');
    try {
      const [a, b] = [makeRecord(), makeRecord()];
      await first.messages.enqueue([a, b]);
      // The second instance claims a; it reads the record (no copy of its own).
      const [ea] = await second.queue.claim('c1', 'instance-2', 1, 0, 60_000);
      expect(ea).toMatchObject({ messageId: a.id, deliveries: 0 });
      expect(ea!.record).toBeUndefined();
      // It sends a's part, then is throttled and defers the entry; a comes back as a new entry.
      const sent = { ...a, version: 2, status: 'sent' as const };
      sent.parts = [{ ...a.parts[0]!, smscId: 'S1', state: 'submitted', submittedAt: clock.now() }];
      expect(await second.messages.compareAndSet(sent, 1)).toBe(true);
      await second.queue.defer('c1', [ea!], clock.now() + 1000);
      clock.advance(1000);
      // The first instance claims both: b with the copy it enqueued, a without its stale copy.
      const both = await first.queue.claim('c1', 'instance-1', 10, 0, 60_000);
      expect(both.map((e) => [e.messageId, e.deliveries])).toEqual([
        [b.id, 0],
        [a.id, 0],
      ]);
      expect(both[0]!.record).toEqual(b);
      expect(both[1]!.record).toBeUndefined();
      // A reclaimed entry never carries one.
      await agePending('handoff', 60_000);
      clock.advance(60_000);
      const reclaimed = await first.queue.claim('c1', 'instance-1', 10, 0, 60_000);
      expect(reclaimed.map((e) => [e.messageId, e.deliveries, e.record])).toEqual([
        [b.id, 1, undefined],
        [a.id, 1, undefined],
      ]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('keeps no copies in a process that does not claim (role api): its claims come without records', async () => {
    const clock = new ManualClock();
    const store = newStore(clock, undefined, { claims: false });
    try {
      const a = makeRecord();
      await store.messages.enqueue([a]);
      const [e] = await store.queue.claim('c1', 'w1', 10, 0, 60_000);
      expect(e).toMatchObject({ messageId: a.id, deliveries: 0 });
      expect(e!.record).toBeUndefined();
      expect(await store.messages.getMany([a.id])).toEqual([a]);
    } finally {
      await store.close();
    }
  });

  it('scans the pending list for idle entries at most every tenth of the reclaim time', async () => {
    const clock = new ManualClock();
    const store = newStore(clock);
    try {
      const a = makeRecord();
      await store.messages.enqueue([a]);
      // Handed out to a process that then dies; the scan of this claim found nothing idle.
      expect(await store.queue.claim('c1', 'crashed', 10, 0, 30_000)).toHaveLength(1);
      // On the server the entry is now long idle, but the last scan was a moment ago.
      await agePending(store.keys.prefix, 60_000);
      expect(await store.queue.claim('c1', 'w2', 10, 0, 30_000)).toEqual([]);
      clock.advance(2_999);
      expect(await store.queue.claim('c1', 'w2', 10, 0, 30_000)).toEqual([]);
      clock.advance(1);
      const reclaimed = await store.queue.claim('c1', 'w2', 10, 0, 30_000);
      expect(reclaimed.map((e) => [e.messageId, e.deliveries])).toEqual([[a.id, 1]]);
    } finally {
      await store.close();
    }
  });

  it('deletes the consumers of stopped processes once nothing is pending for them, and only those', async () => {
    const clock = new ManualClock();
    const store = newStore(clock, undefined, { pruneConsumersIdleMs: 0 });
    const consumers = async () =>
      asArray(await redisServer.admin.call('XINFO', 'CONSUMERS', store.keys.stream('c1'), GROUP))
        .map((c) => String(asArray(c)[1]))
        .sort();
    try {
      await store.messages.enqueue([makeRecord(), makeRecord()]);
      expect(await store.queue.claim('c1', 'crashed', 1, 0, 30_000)).toHaveLength(1);
      await agePending(store.keys.prefix, 60_000);
      clock.advance(60_000);
      // Its entry taken over, the stopped process's name goes; the new holder's stays.
      expect(await store.queue.claim('c1', 'slow', 1, 0, 30_000)).toMatchObject([{ deliveries: 1 }]);
      expect(await consumers()).toEqual(['slow']);
      expect(await store.queue.claim('c1', 'w3', 1, 0, 30_000)).toMatchObject([{ deliveries: 0 }]);
      clock.advance(60_000);
      expect(await store.queue.claim('c1', 'w3', 1, 0, 30_000)).toEqual([]);
      // 'slow' still holds its entry: kept, however long idle.
      expect(await consumers()).toEqual(['slow', 'w3']);
    } finally {
      await store.close();
    }
    // The default spares any consumer that read in the last ten minutes.
    const otherClock = new ManualClock();
    const other = newStore(otherClock);
    try {
      await other.messages.enqueue([makeRecord()]);
      const [entry] = await other.queue.claim('c1', 'a', 1, 0, 30_000);
      await other.queue.ack('c1', [entry!.entryId]);
      // A minute on, 'b' scans and prunes: 'a' holds nothing, but read a moment ago.
      otherClock.advance(60_000);
      await other.messages.enqueue([makeRecord()]);
      expect(await other.queue.claim('c1', 'b', 1, 0, 30_000)).toHaveLength(1);
      const names = asArray(
        await redisServer.admin.call('XINFO', 'CONSUMERS', other.keys.stream('c1'), GROUP),
      );
      expect(names.map((c) => String(asArray(c)[1])).sort()).toEqual(['a', 'b']);
    } finally {
      await other.close();
    }
  });

  it('a blocked claim holds only its own connection and wakes on another instance’s enqueue', async () => {
    const clock = new ManualClock();
    const consumerSide = newStore(clock, 'blocking');
    const producerSide = newStore(clock, 'blocking');
    try {
      const baseline = Number(/blocked_clients:(\d+)/.exec(await redisServer.admin.info('clients'))?.[1]);
      const waiting = consumerSide.queue.claim('c1', 'w1', 10, 20_000, 60_000);
      await blockedClients(baseline + 1);
      // The shared connection still answers while the claim blocks.
      await consumerSide.ping();
      expect(await consumerSide.messages.getMany(['nothing'])).toEqual([null]);
      const a = makeRecord();
      await producerSide.messages.enqueue([a]);
      const got = await waiting;
      expect(got.map((e) => e.messageId)).toEqual([a.id]);
    } finally {
      await consumerSide.close();
      await producerSide.close();
    }
  });

  it('close ends a claim blocked on the server with no entries', async () => {
    const store = newStore(new ManualClock());
    const baseline = Number(/blocked_clients:(\d+)/.exec(await redisServer.admin.info('clients'))?.[1]);
    const waiting = store.queue.claim('c1', 'w1', 10, 60_000, 60_000);
    await blockedClients(baseline + 1);
    await store.close();
    expect(await waiting).toEqual([]);
  });

  it('a blocked claim ends early when a deferred entry falls due by the real clock', async () => {
    const store = new RedisStore({
      url: redisServer.url,
      keyPrefix: 'realtime',
      messageTtlSeconds: TTL_SECONDS,
    });
    try {
      const a = makeRecord();
      await store.messages.enqueue([a]);
      const [e] = await store.queue.claim('c1', 'w1', 1, 0, 60_000);
      const notBefore = Date.now() + 100;
      await store.queue.defer('c1', [e!], notBefore);
      const got = await store.queue.claim('c1', 'w1', 1, 20_000, 60_000);
      expect(got.map((x) => x.messageId)).toEqual([a.id]);
      expect(Date.now()).toBeGreaterThanOrEqual(notBefore);
    } finally {
      await store.close();
    }
  });

  it('recovers when the consumer group and the script cache are lost', async () => {
    const store = newStore(new ManualClock(), 'lost');
    try {
      await store.queue.claim('c1', 'w1', 1, 0, 60_000);
      await redisServer.admin.flushdb();
      await redisServer.admin.script('FLUSH');
      const a = makeRecord();
      await store.messages.enqueue([a]);
      expect((await store.queue.claim('c1', 'w1', 1, 0, 60_000)).map((e) => e.messageId)).toEqual([a.id]);
      expect(await store.messages.compareAndSet({ ...a, version: 2 }, 1)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('takes no message while Redis may evict keys, and takes them again once it may not', async () => {
    const store = newStore(new ManualClock(), 'evict');
    const admin = redisServer.admin;
    try {
      await admin.config('SET', 'maxmemory', '1gb');
      await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
      await store.durabilityCheck();
      const a = makeRecord();
      await expect(store.messages.enqueue([a])).rejects.toThrow(StoreUnsafeError);
      await expect(store.ping()).rejects.toThrow(/maxmemory-policy is volatile-lru .*set it to noeviction/);
      expect(await admin.exists(`evict:m:{${a.id}}`)).toBe(0);
      // Fixed on the server: the next readiness check sees it at once.
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await store.ping();
      await store.messages.enqueue([a]);
      expect(await admin.exists(`evict:m:{${a.id}}`)).toBe(1);
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '0');
      await store.close();
    }
  });

  it('takes messages when INFO is refused to it, and says once that it cannot check eviction', async () => {
    const admin = redisServer.admin;
    await admin.call('ACL', 'SETUSER', 'no-info', 'on', '>secret-pass', '~*', '&*', '+@all', '-info');
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const url = redisServer.url.replace('redis://', 'redis://no-info:secret-pass@');
    const store = new RedisStore({ url, keyPrefix: 'no-info', messageTtlSeconds: 60, logger });
    try {
      const [a, b] = [makeRecord(), makeRecord()];
      await store.messages.enqueue([a]);
      await store.messages.enqueue([b]);
      await store.ping();
      expect(await admin.exists(`no-info:m:{${a.id}}`, `no-info:m:{${b.id}}`)).toBe(2);
      const said = warnings.map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(said.filter((m) => m.includes('INFO is refused'))).toHaveLength(1);
    } finally {
      await store.close();
      await admin.call('ACL', 'DELUSER', 'no-info');
    }
  });

  it('never logs the password of a refused AUTH (ioredis errors carry the command and its arguments)', async () => {
    const admin = redisServer.admin;
    await admin.call('ACL', 'SETUSER', 'pw-user', 'on', '>RightPass123', '~*', '&*', '+@all');
    let said!: (line: string) => void;
    const refused = new Promise<string>((resolve) => {
      said = resolve;
    });
    const logger = createLogger(
      { level: 'warn' },
      {
        write: (line: string) => {
          if (line.includes('WRONGPASS')) said(line);
        },
      },
    );
    const url = redisServer.url.replace('redis://', 'redis://pw-user:WrongPw999@');
    const store = new RedisStore({ url, keyPrefix: 'pw', messageTtlSeconds: 60, logger });
    try {
      const line = await refused;
      expect(line).not.toContain('WrongPw999');
      expect(JSON.parse(line).err.command).toEqual({ name: 'auth' });
    } finally {
      await store.close();
      await admin.call('ACL', 'DELUSER', 'pw-user');
    }
  });

  it('waits for the first durability check before its first enqueue', async () => {
    const admin = redisServer.admin;
    await admin.config('SET', 'maxmemory', '1gb');
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    // Enqueued at once, before the connection's check has answered.
    const store = newStore(new ManualClock(), 'evict-first');
    try {
      await expect(store.messages.enqueue([makeRecord()])).rejects.toThrow(StoreUnsafeError);
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '0');
      await store.close();
    }
  });

  it('createStore builds it for { kind: redis } with the configured prefix', async () => {
    const store = createStore(
      { kind: 'redis', url: redisServer.url, keyPrefix: 'configured', commandTimeoutMs: 5_000 },
      { ttl: { messageSeconds: 60 } },
    );
    try {
      expect(store).toBeInstanceOf(RedisStore);
      expect(store.kind).toBe('redis');
      const a = makeRecord();
      await store.messages.putFinal([a]);
      expect(await redisServer.admin.exists(`configured:m:{${a.id}}`)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('refuses a key prefix with braces, which would put every key in one slot', () => {
    expect(() => new RedisStore({ url: redisServer.url, keyPrefix: 'a{b}', messageTtlSeconds: 60 })).toThrow(
      /without braces/,
    );
  });
});

describe('the Redis record layout', () => {
  it('round-trips every field, telling null from absent', () => {
    const bare = makeRecord();
    expect(decodeRecord(encodeRecord(bare))).toStrictEqual(bare);
    const full = makeRecord({
      status: 'undelivered',
      error: { code: 'UNDELIV', message: 'part 2: UNDELIV err:001' },
      attempts: 3,
      parts: [
        { index: 0, units: 153, smscId: 'a1', state: 'delivered', submittedAt: 1, finalAt: 2, error: null },
        {
          index: 1,
          units: 7,
          smscId: '0x2',
          state: 'undelivered',
          submittedAt: 1,
          finalAt: 3,
          error: 'UNDELIV',
        },
      ],
      plan: { encoding: 'gsm7', smartEncoding: true },
      reason: null,
      heldUntil: null,
      quietHours: false,
      eligibleAt: 0,
      keywordReply: true,
      reference: null,
      campaignId: 'spring',
      callbackUrl: 'https://example.com/cb',
    });
    expect(decodeRecord(encodeRecord(full))).toStrictEqual(full);
    const held = makeRecord({
      reason: 'rate_limit',
      heldUntil: 99,
      quietHours: { start: '21:00', end: '08:00' },
    });
    expect(decodeRecord(encodeRecord(held))).toStrictEqual(held);
  });

  it('round-trips any record (property)', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 40 });
    // Plain objects, as JSON.parse makes them (fast-check also makes null-prototype ones).
    const plain = { noNullPrototype: true };
    const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
    const part = fc.record(
      {
        index: fc.nat(255),
        units: fc.nat(160),
        smscId: nullable(text),
        state: fc.constantFrom('pending', 'submitted', 'delivered', 'undelivered', 'failed', 'expired'),
        submittedAt: nullable(fc.nat()),
        finalAt: nullable(fc.nat()),
        error: nullable(text),
      },
      plain,
    );
    const record = fc.record(
      {
        version: fc.integer({ min: 1, max: 1_000_000 }),
        body: text,
        from: text,
        reference: nullable(text),
        status: fc.constantFrom(...MESSAGE_STATUSES),
        error: nullable(fc.record({ code: text, message: text }, plain)),
        attempts: fc.nat(),
        parts: fc.array(part, { maxLength: 10 }),
        events: fc.array(fc.record({ status: fc.constantFrom(...MESSAGE_STATUSES), at: fc.nat() }, plain)),
        plan: fc.record(
          { encoding: fc.constantFrom('auto', 'gsm7', 'ucs2'), smartEncoding: fc.boolean() },
          plain,
        ),
        reason: nullable(fc.constantFrom('opted_out', 'quiet_hours', 'rate_limit')),
        heldUntil: nullable(fc.nat()),
        quietHours: fc.oneof(fc.constant(false as const), fc.record({ start: text, end: text }, plain)),
        eligibleAt: fc.nat(),
        keywordReply: fc.boolean(),
      },
      {
        ...plain,
        requiredKeys: [
          'version',
          'body',
          'from',
          'reference',
          'status',
          'error',
          'attempts',
          'parts',
          'events',
        ],
      },
    );
    fc.assert(
      fc.property(record, (fields) => {
        const r = makeRecord(fields as Partial<MessageRecord>);
        expect(decodeRecord(encodeRecord(r))).toStrictEqual(r);
      }),
    );
  });

  it('refuses a layout it does not know, rather than misreading it', () => {
    expect(() => decodeRecord('[2,1,"x"]')).toThrow(/unknown layout/);
  });
});

describe('what INFO says of durability', () => {
  const info = (fields: Record<string, string>) =>
    `# Memory\r\n${Object.entries(fields)
      .map(([k, v]) => `${k}:${v}\r\n`)
      .join('')}# Persistence\r\nloading:0\r\n`;

  it('reads maxmemory, its policy and aof_enabled', () => {
    expect(
      readDurability(info({ maxmemory: '104857600', maxmemory_policy: 'volatile-lru', aof_enabled: '1' })),
    ).toEqual({
      evictionPolicy: 'volatile-lru',
      maxMemory: 104857600,
      appendOnly: true,
    });
    expect(readDurability('# Server\r\nredis_version:7.0.15\r\n')).toEqual({
      evictionPolicy: null,
      maxMemory: null,
      appendOnly: null,
    });
  });

  it('finds a problem only in a memory limit with a policy that evicts', () => {
    const verdict = (maxMemory: number | null, evictionPolicy: string | null) =>
      evictionProblem({ evictionPolicy, maxMemory, appendOnly: true }) !== null;
    expect(verdict(1 << 30, 'volatile-lru')).toBe(true);
    expect(verdict(1 << 30, 'allkeys-lfu')).toBe(true);
    expect(verdict(null, 'volatile-ttl')).toBe(true);
    expect(verdict(1 << 30, 'noeviction')).toBe(false);
    expect(verdict(0, 'allkeys-lru')).toBe(false);
    expect(verdict(1 << 30, null)).toBe(false);
  });
});
