/**
 * The Dockerfile's runtime stage deletes every uWebSockets.js binary but the one the image's Node
 * loads. No Docker daemon runs here, so this checks the name it keeps against what uWS's loader
 * asks for: a uWS release that renamed its binaries would otherwise ship an image that cannot
 * start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

/** The file name the Dockerfile's `find … ! -name "…"` keeps, with each $(node -p X) evaluated here. */
function keptName(): string {
  const m = /! -name "(uws_[^"]+\.node)"/.exec(dockerfile);
  if (!m) throw new Error('the Dockerfile keeps no uws_*.node binary');
  const values: Record<string, string> = {
    'process.platform': process.platform,
    'process.arch': process.arch,
    'process.versions.modules': process.versions.modules,
  };
  return m[1]!.replace(/\$\(node -p ([\w.]+)\)/g, (_, expr: string) => {
    const v = values[expr];
    if (v === undefined) throw new Error(`unexpected expression in the Dockerfile: ${expr}`);
    return v;
  });
}

describe('Dockerfile', () => {
  const dist = fileURLToPath(new URL('../../node_modules/uWebSockets.js/dist/', import.meta.url));
  const bin = join(dist, 'bin');

  it('keeps the uWebSockets.js binary this Node loads, by the name the loader asks for', () => {
    const name = keptName();
    expect(name).toBe(`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
    expect(existsSync(join(bin, name))).toBe(true);
    const loader = readFileSync(join(dist, 'uws.mjs'), 'utf8');
    expect(loader).toMatch(
      /\.\/bin\/uws_\$\{process\.platform\}_\$\{process\.arch\}_\$\{process\.versions\.modules\}\.node/,
    );
  });

  it('prunes only inside that package, after the production install, and runs as node', () => {
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(
      /npm install --omit=dev[^\n]*\\\n\s*&& find node_modules\/uWebSockets\.js\/dist\/bin /,
    );
    expect(runtime).toMatch(/^USER node$/m);
  });
});
