import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddedConfig, loadConfigFile, parseConfig } from '../../src/config/index.js';
import { editDistance, suggestKey } from '../../src/config/reader.js';
import { ConfigError } from '../../src/errors.js';
import {
  baseTree,
  errorOf,
  parseTree,
  problemsIn,
  problemsOf,
  withValue,
  withValues,
  yamlOf,
} from './helpers.js';

const MINIMAL = `
connectors:
  - { name: carrier-a, host: smsc.example, systemId: acme, password: pw }
senders:
  - { address: '12345', type: shortcode }
routes:
  - connector: carrier-a
apiKeys:
  - { name: web, key: 0123456789abcdef, senders: ['*'] }
`;

describe('all problems at once', () => {
  it('reports every problem, each on its own line with its key path, in one ConfigError', () => {
    const tree = withValues(baseTree(), {
      'connectors[1].window': 0,
      'routes[2].connector': 'carrier-x',
      'senders[0].type': 'vanity',
      'http.port': 99_999,
      'apiKeys[0].senders': ['nobody'],
    });
    const error = errorOf(() => parseTree(tree));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('SLUICE_ERR_CONFIG');
    expect(error.message.split('\n')[0]).toBe('test.yaml: 5 problems in the configuration:');
    expect(problemsOf(() => parseTree(tree))).toEqual([
      'http.port must be an integer 0..65535, got 99999',
      'connectors[1].window must be an integer 1..10000, got 0',
      "senders[0].type must be one of shortcode, longcode, tollfree, alphanumeric, got 'vanity'",
      "routes[2].connector 'carrier-x' is not a connector (known: carrier-a, sim)",
      "apiKeys[0].senders[0] 'nobody' is not a configured sender (known: 12345, Acme, 447700900123, 18005550199)",
    ]);
  });

  it('says "1 problem" for one', () => {
    expect(errorOf(() => parseTree(withValue(baseTree(), 'http.port', -1))).message).toMatch(
      /^test\.yaml: 1 problem in the configuration:\n {2}- http\.port /,
    );
  });

  it('names <config> when no source is given', () => {
    expect(errorOf(() => parseConfig('http: {port: x}', {})).message).toMatch(/^<config>: /);
  });

  it('reports everything that is missing from an empty file', () => {
    expect(problemsOf(() => parseConfig('', {}))).toEqual([
      'connectors must list at least one connector',
      'senders must list at least one sender',
      'routes must list at least one route (the last one, with only a connector, is the default route)',
      'apiKeys must list at least one API key',
    ]);
  });

  it('refuses a document that is not a mapping', () => {
    expect(problemsOf(() => parseConfig('- connectors', {}))).toEqual([
      'the configuration must be a mapping of settings (role, http, store, connectors, routes, senders, apiKeys, messages, queue, callbacks, ttl, simulator, log, shutdownTimeoutSeconds), got a list',
    ]);
  });

  it('reports a section that is not a mapping once, not once per setting in it', () => {
    expect(problemsIn(withValue(baseTree(), 'http', 8080))).toEqual([
      'http must be a mapping (key: value lines), got 8080',
    ]);
    expect(problemsIn(withValue(baseTree(), 'connectors[0].source', '1/1'))).toEqual([
      "connectors[0].source must be a mapping (key: value lines), got '1/1'",
    ]);
  });

  it('does not blame a route for naming a connector whose own name has a problem', () => {
    const tree = withValues(baseTree(), {
      'connectors[0].name': 'carrier a',
      'routes[2].connector': 'carrier a',
    });
    expect(problemsIn(tree)).toEqual([
      "connectors[0].name must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit, got 'carrier a'",
      "routes[0].connector 'carrier-a' is not a connector (known: carrier a, sim)",
      "routes[1].connector 'carrier-a' is not a connector (known: carrier a, sim)",
    ]);
  });
});

describe('unknown keys', () => {
  it('suggests the key within edit distance 2', () => {
    expect(problemsIn(withValue(baseTree(), 'connectors[1].windw', 5))).toEqual([
      "connectors[1].windw is an unknown key (did you mean 'window'?)",
    ]);
    expect(problemsIn(withValue(baseTree(), 'htpp', { port: 1 }))).toEqual([
      "htpp is an unknown key (did you mean 'http'?)",
    ]);
    expect(problemsIn(withValue(baseTree(), 'apiKeys[0].sender', ['*']))).toContain(
      "apiKeys[0].sender is an unknown key (did you mean 'senders'?)",
    );
  });

  it('suggests the camelCase key for snake_case and other spellings', () => {
    expect(problemsIn(withValue(baseTree(), 'http.max_body_bytes', 2048))).toEqual([
      "http.max_body_bytes is an unknown key (did you mean 'maxBodyBytes'?)",
    ]);
    expect(problemsIn(withValue(baseTree(), 'connectors[0].SYSTEM_TYPE', 'x'))).toEqual([
      "connectors[0].SYSTEM_TYPE is an unknown key (did you mean 'systemType'?)",
    ]);
  });

  it('lists the known keys when nothing is close', () => {
    expect(problemsIn(withValue(baseTree(), 'ttl.forever', true))).toEqual([
      'ttl.forever is an unknown key (known: messageSeconds, correlationSeconds, idempotencySeconds)',
    ]);
  });

  it('reports unknown keys at every level, together with other problems', () => {
    const tree = withValues(baseTree(), {
      'connectors[0].tls': { ca: null, rejectUnauthorised: false },
      'routes[0].prefix': ['1'],
      'log.levle': 'debug',
    });
    expect(problemsIn(tree)).toEqual([
      "connectors[0].tls.rejectUnauthorised is an unknown key (did you mean 'rejectUnauthorized'?)",
      "routes[0].prefix is an unknown key (did you mean 'prefixes'?)",
      "log.levle is an unknown key (did you mean 'level'?)",
    ]);
  });

  it("keeps a '__proto__' key a key, reported like any other", () => {
    const text = `${yamlOf(baseTree())}\nhttp:\n  __proto__: { polluted: true }\n`;
    expect(problemsOf(() => parseConfig(text, {}))).toEqual([
      'http.__proto__ is an unknown key (known: host, port, maxBodyBytes)',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('edit distance and suggestions', () => {
    expect(editDistance('window', 'window')).toBe(0);
    expect(editDistance('windw', 'window')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(suggestKey('tsp', ['tps', 'host'])).toBe('tps');
    expect(suggestKey('xyzzy', ['tps', 'host'])).toBeUndefined();
  });
});

describe('YAML', () => {
  it('reports syntax errors with line and column, without quoting the source', () => {
    const text = 'connectors:\n  - name: a\n    password: hunter2 [\nroutes: [\n';
    const error = errorOf(() => parseConfig(text, {}, 'bad.yaml'));
    expect(error.message).toMatch(/^bad\.yaml: not valid YAML:\n {2}- line \d+, column \d+: /);
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses a tag it does not know, which would read as an empty value, without quoting it', () => {
    const text = `${MINIMAL}x-secret: !Pw1x\n`;
    const error = errorOf(() => parseConfig(text, {}, 'tags.yaml'));
    expect(error.message).toMatch(
      /^tags\.yaml: not valid YAML:\n {2}- line \d+, column \d+: a YAML tag sluice does not know/,
    );
    expect(error.message).not.toContain('Pw1x');
  });

  it('refuses duplicate keys', () => {
    expect(errorOf(() => parseConfig('http: {}\nhttp: {}\n', {})).message).toContain(
      'Map keys must be unique',
    );
  });

  it('refuses more than one document', () => {
    expect(errorOf(() => parseConfig(`${MINIMAL}\n---\n${MINIMAL}`, {})).message).toContain('not valid YAML');
  });

  it('refuses a document whose aliases explode', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      lines.push(
        `${next}: &${next} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`,
      );
    }
    expect(errorOf(() => parseConfig(lines.join('\n'), {})).message).toMatch(/^<config>: not usable YAML: /);
  });

  it('reads numbers and booleans written as YAML scalars or quoted', () => {
    const text = `${MINIMAL}http: { port: '9090', maxBodyBytes: 2048 }\nsimulator: { enabled: True }\n`;
    const config = parseConfig(text, {});
    expect(config.http.port).toBe(9090);
    expect(config.http.maxBodyBytes).toBe(2048);
    expect(config.simulator.enabled).toBe(true);
  });

  it('keeps the leading zero of an unquoted address', () => {
    const text = MINIMAL.replace("address: '12345'", 'address: 012345');
    expect(parseConfig(text, {}).senders[0]!.address).toBe('012345');
  });

  it('refuses YAML 1.1 booleans', () => {
    expect(problemsOf(() => parseConfig(`${MINIMAL}simulator: { enabled: yes }\n`, {}))).toEqual([
      "simulator.enabled must be true or false, got 'yes'",
    ]);
  });

  it('reads an empty value, ~ and null as "use the default"', () => {
    const text = `${MINIMAL}http:\n  port:\n  host: ~\n  maxBodyBytes: null\n`;
    expect(parseConfig(text, {}).http).toEqual({ host: '127.0.0.1', port: 8080, maxBodyBytes: 1_048_576 });
  });

  it("takes '' as empty text and an empty value as unset", () => {
    expect(parseConfig(MINIMAL.replace('password: pw', "password: ''"), {}).connectors[0]!.password).toBe('');
    expect(problemsOf(() => parseConfig(MINIMAL.replace('password: pw', 'password: '), {}))).toEqual([
      'connectors[0].password is required (at most 8 printable ASCII characters (an SMPP C-string))',
    ]);
  });

  it('ignores top-level x- keys and merges anchors with <<', () => {
    const text = `
x-smpp: &smpp { host: smsc.example, systemId: acme, password: pw, window: 42 }
connectors:
  - { <<: *smpp, name: a }
  - { <<: *smpp, name: b, window: 7 }
senders: [{ address: '12345', type: shortcode }]
routes: [{ connector: a, prefixes: ['1'] }, { connector: b }]
apiKeys: [{ name: web, key: 0123456789abcdef, senders: ['*'] }]
`;
    const config = parseConfig(text, {});
    expect(config.connectors.map((c) => [c.name, c.host, c.window])).toEqual([
      ['a', 'smsc.example', 42],
      ['b', 'smsc.example', 7],
    ]);
  });
});

describe('defaults', () => {
  it('fills in every optional setting', () => {
    const config = parseConfig(MINIMAL, {});
    expect(config).toEqual({
      http: { host: '127.0.0.1', port: 8080, maxBodyBytes: 1_048_576 },
      store: { kind: 'memory' },
      connectors: [
        {
          name: 'carrier-a',
          host: 'smsc.example',
          port: 2775,
          tls: null,
          systemId: 'acme',
          password: 'pw',
          systemType: '',
          bind: 'transceiver',
          binds: 1,
          window: 10,
          tps: 0,
          concatenation: 'udh8',
          source: { ton: 1, npi: 1 },
          destination: { ton: 1, npi: 1 },
          registeredDelivery: true,
          requestTimeoutMs: 10_000,
          enquireLinkIntervalMs: 30_000,
        },
      ],
      routes: [{ connector: 'carrier-a', senders: [], prefixes: [] }],
      senders: [
        {
          address: '12345',
          type: 'shortcode',
          smartEncoding: true,
          nationalLanguages: [],
          program: null,
          optOutScope: 'sender',
          rateLimit: 100,
          rateBurst: 10,
          maxQueueAgeSeconds: 3600,
          quietHours: null,
          keywords: { optOut: [], optIn: [], help: [], custom: {} },
          replies: { optOut: null, optIn: null, help: null },
        },
      ],
      apiKeys: [
        {
          name: 'web',
          key: '0123456789abcdef',
          senders: ['*'],
          rateLimit: 0,
          rateBurst: 1,
          callbackSecret: null,
        },
      ],
      messages: { defaultValiditySeconds: 172_800, maxParts: 10 },
      queue: { reclaimSeconds: 30 },
      callbacks: { enabled: true, timeoutMs: 5_000, concurrency: 32, maxAgeSeconds: 86_400 },
      ttl: { messageSeconds: 604_800, correlationSeconds: 259_200, idempotencySeconds: 86_400 },
      simulator: {
        enabled: false,
        host: '127.0.0.1',
        port: 2775,
        systemId: 'sluice',
        password: 'sluice',
        dlrDelayMs: 100,
      },
      log: { level: 'info' },
      shutdownTimeoutSeconds: 20,
      role: 'all',
    });
  });

  it('defaults the Redis key prefix', () => {
    const config = parseTree(baseTree());
    expect(config.store).toEqual({
      kind: 'redis',
      url: 'redis://localhost:6379',
      keyPrefix: 'sluice:',
      commandTimeoutMs: 5_000,
    });
  });

  it('reads tls: true as TLS with the system CAs, false as plain TCP, and fills in a mapping', () => {
    const tls = (value: unknown) =>
      parseTree(withValue(baseTree(), 'connectors[0].tls', value)).connectors[0]!.tls;
    expect(tls(true)).toEqual({ ca: null, rejectUnauthorized: true });
    expect(tls(false)).toBeNull();
    expect(tls({ ca: '/etc/ca.pem' })).toEqual({ ca: '/etc/ca.pem', rejectUnauthorized: true });
    expect(tls({ rejectUnauthorized: false })).toEqual({ ca: null, rejectUnauthorized: false });
  });

  it('drops repeated national languages', () => {
    const tree = withValue(baseTree(), 'senders[1].nationalLanguages', ['spanish', 'spanish']);
    expect(parseTree(tree).senders[1]!.nationalLanguages).toEqual(['spanish']);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));

  it('reads a file', () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, MINIMAL);
    expect(loadConfigFile(path, {}).connectors[0]!.name).toBe('carrier-a');
  });

  it('names the file in validation problems', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, `${MINIMAL}http: { port: -1 }\n`);
    expect(errorOf(() => loadConfigFile(path, {})).message).toBe(
      `${path}: 1 problem in the configuration:\n  - http.port must be an integer 0..65535, got -1`,
    );
  });

  it('refuses a file that is not UTF-8, rather than read its accents as U+FFFD', () => {
    const path = join(dir, 'latin1.yaml');
    writeFileSync(path, Buffer.from(`${MINIMAL}x-note: caf\u00e9\n`, 'latin1'));
    expect(errorOf(() => loadConfigFile(path, {})).message).toBe(
      `${path}: not UTF-8 text; save the configuration as UTF-8`,
    );
    // The same text in UTF-8, with a byte order mark, is read.
    writeFileSync(path, `\ufeff${MINIMAL}x-note: caf\u00e9\n`);
    expect(loadConfigFile(path, {}).connectors.length).toBeGreaterThan(0);
  });

  it('names the file it cannot read', () => {
    const path = join(dir, 'missing.yaml');
    const error = errorOf(() => loadConfigFile(path, {}));
    expect(error.message).toContain(`cannot read the configuration file ${path}: ENOENT`);
  });
});

describe('embeddedConfig', () => {
  it('is the documented development default', () => {
    const config = embeddedConfig();
    expect(config.store).toEqual({ kind: 'memory' });
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(config.simulator).toEqual({
      enabled: true,
      host: '127.0.0.1',
      port: 2775,
      systemId: 'sluice',
      password: 'sluice',
      dlrDelayMs: 100,
    });
    expect(config.connectors).toHaveLength(1);
    expect(config.connectors[0]).toMatchObject({
      name: 'sim',
      host: '127.0.0.1',
      port: 2775,
      systemId: 'sluice',
      password: 'sluice',
      bind: 'transceiver',
      binds: 1,
      window: 100,
      concatenation: 'udh8',
      registeredDelivery: true,
    });
    expect(config.senders.map((s) => [s.address, s.type])).toEqual([
      ['12345', 'shortcode'],
      ['sluice', 'alphanumeric'],
    ]);
    expect(config.routes).toEqual([{ connector: 'sim', senders: [], prefixes: [] }]);
    expect(config.apiKeys).toEqual([
      { name: 'dev', key: 'dev-key', senders: ['*'], rateLimit: 0, rateBurst: 1, callbackSecret: null },
    ]);
    expect(config.log.level).toBe('info');
  });

  it('passes the same validation as a file (its short key only because it is dev mode)', () => {
    const asYaml = yamlOf(embeddedConfig() as unknown as Record<string, unknown>);
    expect(parseConfig(asYaml, {})).toEqual(embeddedConfig());
    const production = yamlOf({
      ...(embeddedConfig() as unknown as Record<string, unknown>),
      simulator: { ...embeddedConfig().simulator, enabled: false },
    });
    expect(problemsOf(() => parseConfig(production, {}))).toEqual([
      'apiKeys[0].key must be at least 16 characters, got 7 (shorter keys are allowed only in dev mode: memory store with the simulator enabled)',
    ]);
  });

  it('returns a fresh object each time', () => {
    const a = embeddedConfig();
    a.connectors[0]!.window = 1;
    expect(embeddedConfig().connectors[0]!.window).toBe(100);
  });
});
