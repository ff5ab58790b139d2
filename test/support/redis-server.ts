/**
 * A real redis-server for one test file: spawned on a free port with persistence off, ready once
 * it logs "Ready to accept connections" (an event, not a polling loop), stopped in afterAll.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './processes.js';

export interface RedisServer {
  url: string;
  port: number;
  /** SIGTERM, resolved once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL at once: a crash, for durability tests. */
  kill9(): void;
  /** SIGSTOP: the server hangs (connections stay open, nothing is answered), as in a stall. */
  pause(): void;
  /** SIGCONT after pause(): it answers again, the commands sent meanwhile first. */
  resume(): void;
}

/** Starts redis-server on `port` (one a stopped server had: its clients reconnect to this one). */
export function startRedisOn(port: number): Promise<RedisServer> {
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let exited = child.exitCode !== null;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  return new Promise<RedisServer>((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer): void => {
      log += chunk.toString('utf8');
      if (!log.includes('Ready to accept connections')) return;
      child.stdout?.off('data', onData);
      // Keep draining: a full pipe would stall the server.
      child.stdout?.resume();
      child.off('exit', onEarlyExit);
      resolve({
        url: `redis://127.0.0.1:${port}`,
        port,
        async stop() {
          if (!exited) child.kill('SIGTERM');
          await exit;
        },
        kill9() {
          if (!exited) child.kill('SIGKILL');
        },
        pause() {
          if (!exited) child.kill('SIGSTOP');
        },
        resume() {
          if (!exited) child.kill('SIGCONT');
        },
      });
    };
    const onEarlyExit = (code: number | null, signal: string | null): void => {
      reject(
        new Error(`redis-server on port ${port} exited (${code ?? signal}) before it was ready:\n${log}`),
      );
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
    });
    child.once('exit', onEarlyExit);
    // ENOENT: redis-server is not installed (.ci/run installs it).
    child.once('error', reject);
  });
}

/** Starts redis-server; tries another port if the chosen one was taken in between. */
export async function startRedis(): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startRedisOn(await freePort());
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 'ENOENT') throw err;
      lastError = err;
    }
  }
  throw lastError;
}

/** The redis-server of one test file (redisForFile): read its fields in tests and hooks. */
export interface RedisFixture {
  readonly url: string;
  /** A plain connection (RESP2, as the store speaks) for looking at what was written. */
  readonly admin: Redis;
}

/**
 * Starts a redis-server for the calling test file in beforeAll, with an admin connection, and
 * stops both in afterAll. Hooks the file registers after this call run after the server is up.
 */
export function redisForFile(): RedisFixture {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url, { protocol: 2 });
  });
  afterAll(async () => {
    await admin?.quit();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('redisForFile: read before its beforeAll ran');
    return value;
  };
  return {
    get url() {
      return started(server).url;
    },
    get admin() {
      return started(admin);
    },
  };
}
