import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopeGlobal, scopeProgram, scopeSender } from '../../src/policy/optouts.js';
import { MemoryOptOutStore } from '../../src/store/memory/optouts.js';
import { RedisOptOutStore } from '../../src/store/redis/optouts.js';
import { redisForFile } from '../support/redis-server.js';
import { describeOptOutStoreContract, optOut } from './optouts.contract.js';

const redisServer = redisForFile();
/** The stores' connection, as RedisStore makes it: auto-pipelining on, RESP2. */
let redis: Redis;
let prefixes = 0;

beforeAll(() => {
  redis = new Redis(redisServer.url, { enableAutoPipelining: true, protocol: 2 });
});

afterAll(async () => {
  await redis?.quit();
});

describeOptOutStoreContract('memory', async () => ({
  store: new MemoryOptOutStore(),
  cleanup: async () => {},
}));

describeOptOutStoreContract('redis', async () => ({
  store: new RedisOptOutStore(redis, `oo${++prefixes}`),
  cleanup: async () => {},
}));

/** The hash tag of a key as Redis Cluster reads it: what decides the slot. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

async function scanAll(store: RedisOptOutStore, pageSize = 10): Promise<string[]> {
  const out: string[] = [];
  for await (const page of store.scan(null, pageSize))
    for (const e of page) out.push(`${e.number} ${e.scope}`);
  return out.sort();
}

describe('RedisOptOutStore', () => {
  it('lays out keys with the documented names, types, hash tags and compact values', async () => {
    const store = new RedisOptOutStore(redis, 'layout:');
    const keyword = optOut('447700900123', scopeSender('12345'), {
      source: 'keyword',
      keyword: 'STOP',
      sender: '12345',
      at: 1767225600000,
    });
    await store.add([
      keyword,
      optOut('447700900123', scopeGlobal(), { source: 'import', at: 1767225600001 }),
    ]);
    await store.remove([optOut('447700900123', scopeGlobal(), { reason: 'consent', at: 1767225600002 })]);

    const entries = 'layout:o:{447700900123}';
    const audit = 'layout:oh:{447700900123}';
    expect(store.entriesKey('447700900123')).toBe(entries);
    expect(store.historyKey('447700900123')).toBe(audit);
    expect((await redisServer.admin.keys('layout:*')).sort()).toEqual([entries, audit]);
    expect(await redisServer.admin.type(entries)).toBe('hash');
    expect(await redisServer.admin.type(audit)).toBe('list');
    // The entry and its audit list share a slot: one script writes both, also under Cluster.
    expect(hashTag(entries)).toBe(hashTag(audit));
    expect(hashTag(entries)).toBe('447700900123');

    expect(await redisServer.admin.hgetall(entries)).toEqual({
      'sender:12345': '[1767225600000,"keyword","STOP",null,"12345"]',
    });
    // Values under 64 bytes: the hash keeps Redis's compact encoding.
    expect(await redisServer.admin.object('ENCODING', entries)).toBe('listpack');
    expect(await redisServer.admin.lrange(audit, 0, -1)).toEqual([
      '["opt_out","sender:12345",1767225600000,"keyword","STOP",null,"12345"]',
      '["opt_out","global",1767225600001,"import"]',
      '["opt_in","global",1767225600002,"api",null,"consent"]',
    ]);
  });

  it('scans only its own entries keys: not the audit lists, other prefixes, or foreign keys', async () => {
    // Glob metacharacters in a prefix are matched literally.
    const star = new RedisOptOutStore(redis, 'g*[x]?');
    const plain = new RedisOptOutStore(redis, 'gAx');
    const nested = new RedisOptOutStore(redis, 'g*[x]?:o');
    await star.add([optOut('447700900001', scopeGlobal()), optOut('447700900002', scopeProgram('p'))]);
    await plain.add([optOut('447700900003', scopeGlobal())]);
    await nested.add([optOut('447700900004', scopeGlobal())]);
    await redisServer.admin.hset('g*[x]?:o:{notanumber}', 'global', '[1,"api"]');
    await redisServer.admin.hset('g*[x]?:o:{447700900005}:extra', 'global', '[1,"api"]');

    expect(await scanAll(star)).toEqual(['447700900001 global', '447700900002 program:p']);
    expect(await scanAll(plain)).toEqual(['447700900003 global']);
    expect(await scanAll(nested)).toEqual(['447700900004 global']);
  });

  it('sees what another instance wrote', async () => {
    const first = new RedisOptOutStore(redis, 'shared');
    const other = new Redis(redisServer.url, { enableAutoPipelining: true, protocol: 2 });
    try {
      const second = new RedisOptOutStore(other, 'shared');
      await first.add([optOut('447700900001', scopeGlobal())]);
      expect(await second.add([optOut('447700900001', scopeGlobal())])).toEqual([false]);
      expect(await second.check([{ number: '447700900001', scopes: [scopeGlobal()] }])).toEqual([
        optOut('447700900001', scopeGlobal()),
      ]);
      expect((await first.history('447700900001', 10)).length).toBe(2);
    } finally {
      await other.quit();
    }
  });

  it('recovers when the server lost its script cache', async () => {
    const store = new RedisOptOutStore(redis, 'flushed');
    await store.add([optOut('447700900001', scopeGlobal())]);
    await redisServer.admin.script('FLUSH');
    expect(
      await store.add([optOut('447700900002', scopeGlobal()), optOut('447700900001', scopeGlobal())]),
    ).toEqual([true, false]);
    await redisServer.admin.script('FLUSH');
    expect(await store.remove([optOut('447700900001', scopeGlobal())])).toEqual([true]);
  });

  it('sends a batch as one write: a thousand entries cost one round trip and two script calls', async () => {
    const conn = new Redis(redisServer.url, { enableAutoPipelining: true, protocol: 2 });
    try {
      const store = new RedisOptOutStore(conn, 'trips');
      // The scripts are cached and the connection is up before counting.
      const warm = [optOut('447700000000', scopeGlobal()), optOut('447700000000', scopeGlobal())];
      await store.add(warm);
      await store.check(warm.map((e) => ({ number: e.number, scopes: [scopeGlobal()] })));
      await store.remove(warm);
      const batch = Array.from({ length: 1_000 }, (_, i) => optOut(String(447700000001 + i), scopeGlobal()));
      const queries = batch.map((e) => ({ number: e.number, scopes: [scopeProgram('p'), scopeGlobal()] }));
      const socket = conn.stream;
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      let writes = 0;
      socket.write = ((...args: unknown[]) => {
        writes++;
        return write(...args);
      }) as typeof socket.write;
      expect(await store.add(batch)).toEqual(batch.map(() => true));
      expect(writes).toBe(1);
      expect(await store.check(queries)).toEqual(batch);
      expect(writes).toBe(2);
      expect(await store.remove(batch)).toEqual(batch.map(() => true));
      expect(writes).toBe(3);
    } finally {
      await conn.quit();
    }
  });
});
