import type { Command } from './main.js';

export const command: Command = {
  summary: 'run a benchmark from bench/',
  async run(argv) {
    // bench/ ships with the repository, not the built package: run it from a checkout.
    // A variable specifier: bench/ is outside the compiled package, so tsc must not resolve it.
    const specifier = '../../bench/main.js';
    const bench = (await import(specifier)) as { main(argv: string[]): Promise<number> };
    return bench.main(argv);
  },
};
