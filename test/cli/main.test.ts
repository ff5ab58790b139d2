/**
 * The command line as a user runs it: `sluice` from the repository (the TypeScript sources
 * through tsx), its output and exit code.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);

function sluice(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout, err: stderr });
      },
    );
  });
}

describe('sluice', () => {
  it('--version names the package version and the node it runs on', async () => {
    const { version } = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
      version: string;
    };
    const { code, out } = await sluice('--version');
    expect(code).toBe(0);
    expect(out.trim()).toBe(`sluice ${version} (node ${process.versions.node})`);
  });

  it('refuses an unknown log level of the simulator in its own words', async () => {
    const { code, err } = await sluice('sim', '--log-level', 'loud');
    expect(code).toBe(2);
    expect(err).toMatch(
      /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'/,
    );
  });
});
