/**
 * Processes the tests and the bench start: a free TCP port to give them, and sluice itself as a
 * child process (`sluice run --config FILE`), ready once its HTTP API listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const ROOT = new URL('../../', import.meta.url).pathname;

/** A port free right now (the OS picks it); the caller's server binds it a moment later. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/**
 * Starts `sluice run --config FILE` from the repository (its log level must be info or lower:
 * readiness is its "HTTP API listening" line). `stderr` 'inherit' shows its errors; `nodeArgs`
 * go to node itself (the bench gives the flags `npm start` uses, or --cpu-prof).
 */
export async function startSluice(
  config: string,
  stderr: 'pipe' | 'inherit' = 'pipe',
  nodeArgs: readonly string[] = [],
): Promise<ChildProcess> {
  const args = [...nodeArgs, '--import', 'tsx', 'src/cli/main.ts', 'run', '--config', config];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', stderr],
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`sluice exited with ${code} before listening`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      if (line.includes('"HTTP API listening"')) {
        child.off('exit', onExit);
        resolve();
      }
    });
  });
  return child;
}
