import type { Command } from './main.js';

export const command: Command = {
  summary: 'run a benchmark from bench/',
  async run(argv) {
    // bench/ ships with the repository, not the built package: run it from a checkout.
    const bench = (await import('../../bench/main.js')) as { main(argv: string[]): Promise<number> };
    return bench.main(argv);
  },
};
