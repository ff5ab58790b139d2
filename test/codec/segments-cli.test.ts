import { describe, expect, it } from 'vitest';
import { runSegments, type SegmentsIo } from '../../src/cli/segments.js';
import { previewMessage } from '../../src/codec/index.js';

async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: SegmentsIo = {
    out: (t) => {
      out += `${t}\n`;
    },
    err: (t) => {
      err += `${t}\n`;
    },
    readStdin: async () => stdin,
  };
  const code = await runSegments(argv, io);
  return { code, out, err };
}

describe('previewMessage', () => {
  it('reports encoding, parts, forcing characters, replacements and warnings', () => {
    const p = previewMessage(`“Hi” ${'я'.repeat(70)} 😀`);
    expect(p.encoding).toBe('ucs2');
    expect(p.partCount).toBe(2);
    expect(p.parts.map((x) => x.units)).toEqual([67, 11]);
    expect(p.parts[0]!.hex.startsWith('050003000201')).toBe(true);
    // The quotes could have been replaced; the Cyrillic letter and the emoji are what forced UCS-2.
    expect(p.forcedUcs2.map((c) => [c.char, c.codePoint, c.count])).toEqual([
      ['я', 'U+044F', 70],
      ['😀', 'U+1F600', 1],
    ]);
    expect(p.replacements).toEqual([]);
  });

  it('lists nothing as forcing UCS-2 when the caller asked for it', () => {
    expect(previewMessage('plain', { encoding: 'ucs2' }).forcedUcs2).toEqual([]);
  });
});

describe('sluice segments', () => {
  it('prints a table', async () => {
    const r = await run(['It’s ok']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('GSM-7 (data_coding 0x00)');
    expect(r.out).toMatch(/#1 +7\/160 +"It's ok"/);
    expect(r.out).toContain('(U+2019) -> "\'"');
  });

  it('prints one JSON object with --json, options applied', async () => {
    const r = await run(['--json', '--mode', 'udh16', '--no-smart', 'It’s ok']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { encoding: string; mode: string; forcedUcs2: { codePoint: string }[] };
    expect(j.encoding).toBe('ucs2');
    expect(j.mode).toBe('udh16');
    expect(j.forcedUcs2.map((c) => c.codePoint)).toEqual(['U+2019']);
  });

  it('reads standard input for -, dropping the one trailing line break', async () => {
    const r = await run(['--json', '-'], 'line one\r\nline two\n');
    expect(JSON.parse(r.out).parts[0].text).toBe('line one\r\nline two');
  });

  it('uses national tables when asked', async () => {
    const r = await run(['--json', '--national', 'tr', 'ğ'.repeat(100)]);
    expect(JSON.parse(r.out).national).toEqual({ locking: 'turkish', single: null });
  });

  it('exits 1 with a clear message for text that cannot be sent as asked', async () => {
    const r = await run(['--encoding', 'gsm7', 'snow ☃']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("'☃' U+2603 at 5");
    const long = await run(['--max-parts', '2', 'x'.repeat(400)]);
    expect(long.code).toBe(1);
    expect(long.err).toContain('needs 3 parts');
  });

  it('exits 2 on usage errors', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['a', 'b'])).err).toContain('quote the text');
    expect((await run(['--mode', 'smoke', 'x'])).code).toBe(2);
    expect((await run(['--max-parts', '0', 'x'])).code).toBe(2);
    expect((await run(['--national', 'xx', 'x'])).code).toBe(2);
    expect((await run(['--bogus', 'x'])).code).toBe(2);
    expect((await run(['--help'])).code).toBe(0);
  });
});
