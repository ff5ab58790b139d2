/**
 * `sluice <command>`: the command-line entry. Each command lives in its own module, loaded only
 * when asked for, and returns the process exit code.
 */

import { VERSION } from '../version.js';

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  run: {
    summary: 'run the gateway (embedded defaults without --config)',
    load: async () => (await import('./run.js')).command,
  },
  sim: {
    summary: 'run the SMSC simulator',
    load: async () => (await import('./sim.js')).command,
  },
  segments: {
    summary: 'preview the encoding and parts of a text',
    load: async () => (await import('./segments.js')).command,
  },
  bench: {
    summary: 'run a benchmark from bench/ (a checkout): smpp, codec, e2e, optouts, optouts-http, ratelimit',
    load: async () => (await import('./bench.js')).command,
  },
};

function usage(): string {
  const lines = ['usage: sluice <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `sluice <command> --help` for its options; `sluice --version` for the version.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log(`sluice ${VERSION} (node ${process.versions.node})`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`sluice: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const command = await entry.load();
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`sluice: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
