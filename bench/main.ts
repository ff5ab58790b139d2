/**
 * `npm run bench -- <name> [options]`: the benchmark suite. Each bench prints a table, or one JSON
 * object with --json.
 */
import { pathToFileURL } from 'node:url';

const benches: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  smpp: () => import('./smpp.js'),
  codec: () => import('./codec.js'),
  e2e: () => import('./e2e.js'),
  optouts: () => import('./optouts.js').then((m) => ({ main: m.runOptOutBench })),
  'optouts-http': () => import('./optouts-http.js'),
  ratelimit: () => import('./ratelimit.js'),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name ? benches[name] : undefined;
  if (!load) {
    const usage = `usage: npm run bench -- <${Object.keys(benches).join('|')}> [--json] [options]`;
    if (name === '--help' || name === '-h') {
      console.log(usage);
      return 0;
    }
    console.error(name ? `bench: unknown benchmark '${name}'\n${usage}` : usage);
    return 2;
  }
  return (await load()).main(rest);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
