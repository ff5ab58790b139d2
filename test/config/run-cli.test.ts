/**
 * `sluice run`'s own arguments, refused before anything starts: exit 2 and one line saying why.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command } from '../../src/cli/run.js';

afterEach(() => {
  vi.restoreAllMocks();
});

async function refused(argv: string[]): Promise<{ code: number; said: string }> {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  const code = await command.run(argv);
  return { code, said: lines.join('\n') };
}

describe('sluice run --role', () => {
  it('refuses a role it does not know', async () => {
    expect(await refused(['--role', 'smsbox'])).toEqual({
      code: 2,
      said: "sluice run: --role must be one of all, api, dispatch, got 'smsbox'",
    });
  });

  it('refuses api or dispatch on the embedded default, whose memory store no other process shares', async () => {
    for (const role of ['api', 'dispatch']) {
      const { code, said } = await refused(['--role', role]);
      expect(code).toBe(2);
      expect(said).toBe(
        `sluice run: --role '${role}' needs store kind: redis (api and dispatch processes share their queue through it; a memory store is one process's own)`,
      );
    }
  });
});

describe('sluice run --config, --http-host and --http-port', () => {
  it('refuses an empty --config (an unset "$CONFIG"), which would start the embedded dev setup', async () => {
    const { code, said } = await refused(['--config', '']);
    expect(code).toBe(2);
    expect(said).toMatch(/^sluice run: --config needs a file path, got ''/);
  });

  it('refuses an --http-host the configuration would refuse (empty: every interface)', async () => {
    expect(await refused(['--http-host', ''])).toEqual({
      code: 2,
      said: "sluice run: --http-host must be a host name or IP address, got ''",
    });
  });

  it('takes --http-port in digits only', async () => {
    for (const port of ['', ' ', '0x4E20', '1e4', '65536', '80.5']) {
      expect(await refused(['--http-port', port])).toEqual({
        code: 2,
        said: `sluice run: --http-port must be an integer 0..65535, got '${port}'`,
      });
    }
  });
});
