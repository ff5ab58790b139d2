/**
 * `bench optouts [--json] [--count N] [--batch N] [--concurrency N] [--store redis|memory] [--url URL]`
 *
 * The opt-out import path: N numbers go through OptOutStore.add() in batches, as a CSV import
 * feeds them (one batch in flight by default, like the import), then every number is looked up
 * again through check() in the same batches, as the send path does. Reports entries/s for both
 * and, on Redis, the memory each number costs (entry hash + one-event audit list).
 *
 * Redis: the server at --url (its keys go under a prefix of their own, deleted afterwards), or
 * else a redis-server started for the run on a free port, persistence off.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { type OptOutEntry, type OptOutStore, scopeGlobal, scopeProgram } from '../src/policy/optouts.js';
import { MemoryOptOutStore } from '../src/store/memory/optouts.js';
import { RedisOptOutStore } from '../src/store/redis/optouts.js';
import { startRedis } from '../test/support/redis-server.js';

const USAGE =
  'usage: bench optouts [--json] [--count N (default 1000000)] [--batch 1..10000 (default 1000)] [--concurrency 1..64 (default 1)] [--store redis|memory] [--url redis://…]';

/** The first number imported; the rest follow it (12 digits each, all distinct). */
const FIRST_NUMBER = 447_000_000_000;

interface PhaseResult {
  entries: number;
  seconds: number;
  entriesPerSecond: number;
}

interface BenchResult {
  store: 'redis' | 'memory';
  count: number;
  batch: number;
  concurrency: number;
  add: PhaseResult;
  check: PhaseResult;
  /** Redis used_memory growth per number imported; null for memory. */
  redisBytesPerNumber: number | null;
}

function entryAt(i: number, at: number): OptOutEntry {
  return {
    number: String(FIRST_NUMBER + i),
    scope: scopeGlobal(),
    at,
    source: 'import',
    keyword: null,
    reason: null,
    sender: null,
  };
}

/** Runs `batches` batches of work, `concurrency` of them in flight at a time. */
async function inBatches(
  count: number,
  batch: number,
  concurrency: number,
  run: (from: number, to: number) => Promise<void>,
): Promise<PhaseResult> {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + batch);
      await run(from, next);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { entries: count, seconds, entriesPerSecond: Math.round(count / seconds) };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
}

/** Deletes the run's keys from a server that is not the bench's own. */
async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

async function measure(
  store: OptOutStore,
  count: number,
  batch: number,
  concurrency: number,
): Promise<{ add: PhaseResult; check: PhaseResult }> {
  const at = Date.now();
  const add = await inBatches(count, batch, concurrency, async (from, to) => {
    const entries: OptOutEntry[] = [];
    for (let i = from; i < to; i++) entries.push(entryAt(i, at));
    const fresh = await store.add(entries);
    if (fresh.some((f) => !f))
      throw new Error('bench optouts: a number was already opted out: not a clean store');
  });
  const scopes = [scopeProgram('bench'), scopeGlobal()];
  const check = await inBatches(count, batch, concurrency, async (from, to) => {
    const queries = [];
    for (let i = from; i < to; i++) queries.push({ number: String(FIRST_NUMBER + i), scopes });
    const found = await store.check(queries);
    if (found.some((f) => f === null)) throw new Error('bench optouts: an imported number was not found');
  });
  return { add, check };
}

export async function runOptOutBench(argv: string[]): Promise<number> {
  let values: {
    json?: boolean;
    count?: string;
    batch?: string;
    concurrency?: string;
    store?: string;
    url?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        count: { type: 'string' },
        batch: { type: 'string' },
        concurrency: { type: 'string' },
        store: { type: 'string' },
        url: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`bench optouts: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const count = Number(values.count ?? 1_000_000);
  const batch = Number(values.batch ?? 1_000);
  const concurrency = Number(values.concurrency ?? 1);
  const kind = values.store ?? 'redis';
  if (
    !(Number.isInteger(count) && count >= 1 && count <= 100_000_000) ||
    !(Number.isInteger(batch) && batch >= 1 && batch <= 10_000) ||
    !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64) ||
    (kind !== 'redis' && kind !== 'memory') ||
    (kind === 'memory' && values.url !== undefined)
  ) {
    console.error(USAGE);
    return 2;
  }

  let result: BenchResult;
  if (kind === 'memory') {
    const phases = await measure(new MemoryOptOutStore(), count, batch, concurrency);
    result = { store: 'memory', count, batch, concurrency, ...phases, redisBytesPerNumber: null };
  } else {
    const own = values.url === undefined ? await startRedis() : null;
    const url = values.url ?? own!.url;
    // As RedisStore makes its connection: auto-pipelining, RESP2.
    const redis = new Redis(url, { enableAutoPipelining: true, protocol: 2 });
    const prefix = `bench-optouts-${process.pid}-${Date.now()}`;
    try {
      const before = await usedMemory(redis);
      const phases = await measure(new RedisOptOutStore(redis, prefix), count, batch, concurrency);
      const after = await usedMemory(redis);
      result = {
        store: 'redis',
        count,
        batch,
        concurrency,
        ...phases,
        redisBytesPerNumber: Math.round((after - before) / count),
      };
      if (own === null) await deleteKeys(redis, `${prefix}:*`);
    } finally {
      await redis.quit();
      await own?.stop();
    }
  }

  if (values.json) {
    console.log(JSON.stringify({ bench: 'optouts', environment: { node: process.version }, ...result }));
    return 0;
  }
  const fmt = (n: number): string => n.toLocaleString('en-US');
  console.log(
    `optouts bench: ${result.store}, ${fmt(count)} numbers, batches of ${fmt(batch)}, ${concurrency} in flight, node ${process.version}\n`,
  );
  for (const [name, p] of [
    ['add (import)', result.add],
    ['check', result.check],
  ] as const) {
    console.log(
      `${name.padEnd(14)} ${fmt(p.entriesPerSecond).padStart(10)} entries/s  (${p.seconds.toFixed(2)} s)`,
    );
  }
  if (result.redisBytesPerNumber !== null) {
    console.log(
      `redis memory   ${fmt(result.redisBytesPerNumber).padStart(10)} bytes per number (entry + audit)`,
    );
  }
  return 0;
}
