// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${VAR} references in configuration text, not templates.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { embeddedConfig, loadConfigFile } from '../../src/config/index.js';
import { problemsOf } from './helpers.js';

const example = fileURLToPath(new URL('../../config/sluice.example.yaml', import.meta.url));
const dev = fileURLToPath(new URL('../../config/sluice.dev.yaml', import.meta.url));

/** Every ${VAR} the example references, with a value that passes. */
const EXAMPLE_ENV = {
  REDIS_URL: 'rediss://:redis-password@redis.internal:6380/0',
  CARRIER_A_PASSWORD: 'a-pw',
  CARRIER_B_PASSWORD: 'b-pw',
  API_KEY_WEBSHOP: 'webshop-0123456789abcdef',
  API_KEY_CRM: 'crm-0123456789abcdef',
};

describe('config/sluice.example.yaml', () => {
  it('references exactly the variables its header lists', () => {
    const text = readFileSync(example, 'utf8');
    const used = new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]));
    // The header comment names ${NAME} itself as an illustration.
    used.delete('NAME');
    expect([...used].sort()).toEqual(Object.keys(EXAMPLE_ENV).sort());
  });

  it('parses with those variables set', () => {
    const config = loadConfigFile(example, EXAMPLE_ENV);
    expect(config.store).toEqual({
      kind: 'redis',
      url: EXAMPLE_ENV.REDIS_URL,
      keyPrefix: 'sluice:',
      commandTimeoutMs: 5_000,
    });
    expect(config.connectors.map((c) => [c.name, c.bind, c.binds, c.concatenation, c.tls !== null])).toEqual([
      ['carrier-a', 'transceiver', 4, 'udh8', true],
      ['carrier-b', 'transmitter+receiver', 2, 'sar', false],
    ]);
    expect(config.connectors[0]!.password).toBe('a-pw');
    expect(new Set(config.senders.map((s) => s.type))).toEqual(
      new Set(['shortcode', 'longcode', 'tollfree', 'alphanumeric']),
    );
    expect(config.routes.some((r) => r.senders.length > 0)).toBe(true);
    expect(config.routes.some((r) => r.prefixes.length > 0)).toBe(true);
    expect(config.routes.at(-1)).toEqual({ connector: 'carrier-a', senders: [], prefixes: [] });
    expect(config.apiKeys.map((k) => k.key)).toEqual([EXAMPLE_ENV.API_KEY_WEBSHOP, EXAMPLE_ENV.API_KEY_CRM]);
    expect(config.simulator.enabled).toBe(false);
  });

  it('reports each variable that is not set, and only those', () => {
    const { CARRIER_B_PASSWORD: _, API_KEY_CRM: __, ...partial } = EXAMPLE_ENV;
    expect(problemsOf(() => loadConfigFile(example, partial))).toEqual([
      'connectors[1].password: ${CARRIER_B_PASSWORD} is not set',
      'apiKeys[1].key: ${API_KEY_CRM} is not set',
    ]);
  });
});

describe('config/sluice.dev.yaml', () => {
  it('is the embedded default, written out', () => {
    expect(loadConfigFile(dev, {})).toEqual(embeddedConfig());
  });

  it('needs no variables', () => {
    expect(readFileSync(dev, 'utf8')).not.toMatch(/\$\{/);
  });
});
