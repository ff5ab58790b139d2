/**
 * Processes the tests and the bench start: a free TCP port to give them, and sluice itself as a
 * child process (`sluice run --config FILE`), ready once its HTTP API listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll } from 'vitest';

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
 * readiness is its HTTP listening line). `stderr` 'inherit' shows its errors; `nodeArgs`
 * go to node itself (the bench gives the flags `npm start` uses, or --cpu-prof). `compiled`: the
 * directory of a build of src/ (buildSluice) to run instead of the sources through tsx.
 */
export async function startSluice(
  config: string,
  stderr: 'pipe' | 'inherit' = 'pipe',
  nodeArgs: readonly string[] = [],
  compiled?: string,
  runArgs: readonly string[] = [],
): Promise<ChildProcess> {
  const entry = compiled ? [join(compiled, 'cli', 'main.js')] : ['--import', 'tsx', 'src/cli/main.ts'];
  return startListening([...nodeArgs, ...entry, 'run', '--config', config, ...runArgs], stderr);
}

/**
 * Runs node with `args` from the repository and resolves once the process logs that its HTTP port
 * listens ("HTTP API listening", which the bench's floor gateway prints too, or a dispatch
 * process's "HTTP listening (health and metrics only)").
 */
export async function startListening(
  args: readonly string[],
  stderr: 'pipe' | 'inherit' = 'pipe',
): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', stderr],
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`${args.join(' ')} exited with ${code} before listening`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      if (/"msg":"HTTP (API )?listening/.test(line)) {
        child.off('exit', onExit);
        resolve();
      }
    });
  });
  return child;
}

/**
 * Compiles src/ as `npm run build` does, into `outDir` (inside the repository, so the build finds
 * node_modules): what a deployment runs, for the bench to measure.
 */
export async function buildSluice(outDir: string): Promise<string> {
  const tsc = spawn(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const [code] = (await once(tsc, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`tsc exited with ${code}`);
  // src/version.ts reads package.json one level above the compiled tree, as in a checkout and
  // in the image.
  copyFileSync(join(ROOT, 'package.json'), join(ROOT, outDir, '..', 'package.json'));
  return join(ROOT, outDir);
}

/**
 * A temporary directory for the calling test file (the sluice configurations it writes), made in
 * beforeAll and removed with its contents in afterAll.
 */
export function tmpDirForFile(prefix: string): { readonly path: string } {
  let path: string | undefined;
  beforeAll(() => {
    path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (path) rmSync(path, { recursive: true, force: true });
  });
  return {
    get path() {
      if (path === undefined) throw new Error('tmpDirForFile: read before its beforeAll ran');
      return path;
    },
  };
}

export interface CarrierConfig {
  httpPort: number;
  smscPort: number;
  redisUrl: string;
  keyPrefix: string;
  /** The connector's window. */
  window: number;
  apiKey: string;
  /** The API key's rateLimit (messages/s); none when absent. */
  apiKeyRateLimit?: number;
  /** store.commandTimeoutMs; the default when absent. */
  commandTimeoutMs?: number;
  /** YAML appended at the top level (queue, shutdownTimeoutSeconds, …). */
  extra?: string;
}

/**
 * Writes the configuration of a sluice process on Redis with one connector, 'carrier', at
 * 127.0.0.1:smscPort (account sluice/sluice), the sender 12345 and one API key; returns `file`.
 */
export function writeCarrierConfig(file: string, c: CarrierConfig): string {
  writeFileSync(
    file,
    `
http: { host: 127.0.0.1, port: ${c.httpPort} }
store: { kind: redis, url: '${c.redisUrl}', keyPrefix: ${c.keyPrefix}${c.commandTimeoutMs ? `, commandTimeoutMs: ${c.commandTimeoutMs}` : ''} }
simulator: { enabled: false }
connectors:
  - { name: carrier, host: 127.0.0.1, port: ${c.smscPort}, systemId: sluice, password: sluice, window: ${c.window}, enquireLinkIntervalMs: 0 }
senders: [{ address: '12345', type: shortcode }]
routes: [{ connector: carrier }]
apiKeys: [{ name: ${c.keyPrefix}, key: ${c.apiKey}, senders: ['*']${c.apiKeyRateLimit ? `, rateLimit: ${c.apiKeyRateLimit}` : ''} }]
log: { level: info }
${c.extra ?? ''}
`,
  );
  return file;
}
