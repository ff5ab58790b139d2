/**
 * One case per validation rule: the base configuration with one value changed must be rejected
 * with exactly this problem, and the boundary values must be accepted.
 */
import { describe, expect, it } from 'vitest';
import { baseTree, parseTree, problemsIn, withValue, withValues } from './helpers.js';

const KNOWN_SENDERS = '12345, Acme, 447700900123, 18005550199';
const MIB = 1024 * 1024;

/** [key path, value (undefined: removed), the one problem expected]. */
type Case = [string, unknown, string];

function rejects(cases: Case[]): void {
  it.each(cases)('%s = %j', (path, value, message) => {
    expect(problemsIn(withValue(baseTree(), path, value))).toEqual([message]);
  });
}

function accepts(cases: Array<[string, unknown]>): void {
  it.each(cases)('accepts %s = %j', (path, value) => {
    expect(() => parseTree(withValue(baseTree(), path, value))).not.toThrow();
  });
}

describe('the base configuration', () => {
  it('is valid, so that each case below fails for its own reason', () => {
    expect(() => parseTree(baseTree())).not.toThrow();
  });
});

describe('ports', () => {
  rejects([
    ['http.port', 65_536, 'http.port must be an integer 0..65535, got 65536'],
    ['http.port', -1, 'http.port must be an integer 0..65535, got -1'],
    ['connectors[0].port', 70_000, 'connectors[0].port must be an integer 0..65535, got 70000'],
    ['connectors[0].port', 'smpp', "connectors[0].port must be an integer 0..65535, got 'smpp'"],
    ['connectors[0].port', 2775.5, 'connectors[0].port must be an integer 0..65535, got 2775.5'],
    ['simulator.port', 65_536, 'simulator.port must be an integer 0..65535, got 65536'],
  ]);
  accepts([
    ['http.port', 0],
    ['http.port', 65_535],
    ['connectors[0].port', '3550'],
  ]);
});

describe('connectors', () => {
  rejects([
    ['connectors[1].window', 0, 'connectors[1].window must be an integer 1..10000, got 0'],
    ['connectors[1].window', 10_001, 'connectors[1].window must be an integer 1..10000, got 10001'],
    ['connectors[0].binds', 0, 'connectors[0].binds must be an integer 1..64, got 0'],
    ['connectors[0].binds', 65, 'connectors[0].binds must be an integer 1..64, got 65'],
    ['connectors[0].tps', -1, 'connectors[0].tps must be a number 0..1000000, got -1'],
    ['connectors[0].tps', 'fast', "connectors[0].tps must be a number 0..1000000, got 'fast'"],
    ['connectors[0].tps', 1e7, 'connectors[0].tps must be a number 0..1000000, got 10000000'],
    [
      'connectors[0].concatenation',
      'udh',
      "connectors[0].concatenation must be one of udh8, udh16, sar, payload, got 'udh'",
    ],
    [
      'connectors[0].bind',
      'trx',
      "connectors[0].bind must be one of transceiver, transmitter, receiver, transmitter+receiver, got 'trx'",
    ],
    ['connectors[0].source.ton', 7, 'connectors[0].source.ton must be an integer 0..6, got 7'],
    ['connectors[0].destination.ton', -1, 'connectors[0].destination.ton must be an integer 0..6, got -1'],
    [
      'connectors[0].source.npi',
      2,
      'connectors[0].source.npi must be one of 0, 1, 3, 4, 6, 8, 9, 10, 14, 18, got 2',
    ],
    [
      'connectors[0].destination.npi',
      5,
      'connectors[0].destination.npi must be one of 0, 1, 3, 4, 6, 8, 9, 10, 14, 18, got 5',
    ],
    [
      'connectors[0].systemId',
      'a'.repeat(16),
      'connectors[0].systemId must be at most 15 characters (an SMPP C-string), got 16',
    ],
    ['connectors[0].systemId', '', "connectors[0].systemId must not be empty, got ''"],
    [
      'connectors[0].systemId',
      'acmé',
      "connectors[0].systemId must be printable ASCII (an SMPP C-string), got 'acmé'",
    ],
    [
      'connectors[0].password',
      'secret-9c',
      'connectors[0].password must be at most 8 characters (an SMPP C-string), got 9',
    ],
    ['connectors[0].password', 'pässwd', 'connectors[0].password must be printable ASCII (an SMPP C-string)'],
    [
      'connectors[0].systemType',
      'a'.repeat(13),
      'connectors[0].systemType must be at most 12 characters (an SMPP C-string), got 13',
    ],
    [
      'connectors[0].registeredDelivery',
      'yes',
      "connectors[0].registeredDelivery must be true or false, got 'yes'",
    ],
    [
      'connectors[0].tls',
      'on',
      "connectors[0].tls must be true, false or a mapping with ca and rejectUnauthorized, got 'on'",
    ],
    [
      'connectors[0].tls.rejectUnauthorized',
      'no',
      "connectors[0].tls.rejectUnauthorized must be true or false, got 'no'",
    ],
    [
      'connectors[0].tls.ca',
      ['a.pem'],
      'connectors[0].tls.ca must be the path of a PEM file or null, got a list',
    ],
    [
      'connectors[0].requestTimeoutMs',
      0,
      'connectors[0].requestTimeoutMs must be an integer 1..3600000, got 0',
    ],
    [
      'connectors[0].enquireLinkIntervalMs',
      -1,
      'connectors[0].enquireLinkIntervalMs must be an integer 0..86400000, got -1',
    ],
    [
      'connectors[1].name',
      'carrier-a',
      "connectors[1].name 'carrier-a' is already used by connectors[0].name: each connector name must be different",
    ],
    [
      'connectors[1].name',
      'carrier a',
      "connectors[1].name must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit, got 'carrier a'",
    ],
    ['connectors[0].host', undefined, 'connectors[0].host is required (a host name or IP address)'],
    ['connectors[0].host', 'smsc a', "connectors[0].host must be a host name or IP address, got 'smsc a'"],
    [
      'connectors[0].systemId',
      undefined,
      'connectors[0].systemId is required (at most 15 printable ASCII characters (an SMPP C-string))',
    ],
    [
      'connectors[0].password',
      undefined,
      'connectors[0].password is required (at most 8 printable ASCII characters (an SMPP C-string))',
    ],
  ]);
  accepts([
    ['connectors[0].window', 1],
    ['connectors[0].window', 10_000],
    ['connectors[0].binds', 64],
    ['connectors[0].tps', 0],
    ['connectors[0].tps', 0.5],
    ['connectors[0].source.ton', 0],
    ['connectors[0].source.ton', 6],
    ...[0, 1, 3, 4, 6, 8, 9, 10, 14, 18].map((npi): [string, unknown] => [
      'connectors[0].destination.npi',
      npi,
    ]),
    ['connectors[0].systemId', 'a'.repeat(15)],
    ['connectors[0].password', ''],
    ['connectors[0].password', 'a'.repeat(8)],
    ['connectors[0].systemType', 'a'.repeat(12)],
    ...['udh8', 'udh16', 'sar', 'payload'].map((m): [string, unknown] => ['connectors[0].concatenation', m]),
    ...['transceiver', 'transmitter', 'receiver', 'transmitter+receiver'].map((b): [string, unknown] => [
      'connectors[0].bind',
      b,
    ]),
    ['connectors[0].tls', true],
    ['connectors[0].tls', { ca: '/etc/ca.pem', rejectUnauthorized: false }],
  ]);

  it('requires at least one connector, as a list of mappings', () => {
    expect(problemsIn(withValue(baseTree(), 'connectors', []))).toContain(
      'connectors must list at least one connector',
    );
    expect(problemsIn(withValue(baseTree(), 'connectors', undefined))).toContain(
      'connectors must list at least one connector',
    );
    expect(problemsIn(withValue(baseTree(), 'connectors', 'carrier-a'))).toContain(
      "connectors must be a list, got 'carrier-a'",
    );
    expect(problemsIn(withValue(baseTree(), 'connectors[1]', 'sim'))).toContain(
      "connectors[1] must be a mapping (key: value lines), got 'sim'",
    );
  });
});

describe('routes', () => {
  rejects([
    [
      'routes[2].connector',
      'carrier-x',
      "routes[2].connector 'carrier-x' is not a connector (known: carrier-a, sim)",
    ],
    ['routes[2].connector', undefined, 'routes[2].connector is required (the name of a connector)'],
    ['routes[2].connector', '', "routes[2].connector '' is not a connector (known: carrier-a, sim)"],
    [
      'routes[0].senders',
      ['99999'],
      `routes[0].senders[0] '99999' is not a configured sender (known: ${KNOWN_SENDERS})`,
    ],
    [
      'routes[1].prefixes',
      ['44', '+33'],
      "routes[1].prefixes[1] must be 1..15 digits (an E.164 prefix without '+'), got +33",
    ],
    [
      'routes[1].prefixes[0]',
      '4a',
      "routes[1].prefixes[0] must be 1..15 digits (an E.164 prefix without '+'), got '4a'",
    ],
    [
      'routes[2].prefixes',
      ['1'],
      'routes[2] is the last route, the default route, and must have no senders or prefixes: end the list with a route that has only a connector',
    ],
    [
      'routes[1].prefixes',
      [],
      'routes[1] has no senders or prefixes, so it matches every message and the routes after it are never used: only the last route (the default) may be without filters',
    ],
  ]);
  accepts([
    ['routes[1].prefixes', ['1', '44', '351']],
    ['routes[0].senders', ['12345', 'Acme']],
    ['routes[2].prefixes', []],
  ]);

  it('requires at least one route', () => {
    expect(problemsIn(withValue(baseTree(), 'routes', []))).toEqual([
      'routes must list at least one route (the last one, with only a connector, is the default route)',
    ]);
  });

  it('takes a single filter-less route as the default', () => {
    const config = parseTree(withValue(baseTree(), 'routes', [{ connector: 'sim' }]));
    expect(config.routes).toEqual([{ connector: 'sim', senders: [], prefixes: [] }]);
  });
});

describe('senders', () => {
  rejects([
    [
      'senders[1]',
      { address: '12345', type: 'shortcode' },
      "senders[1].address '12345' is already used by senders[0].address: each sender address must be different",
    ],
    [
      'senders[0].type',
      'vanity',
      "senders[0].type must be one of shortcode, longcode, tollfree, alphanumeric, got 'vanity'",
    ],
    [
      'senders[0].type',
      undefined,
      'senders[0].type is required (one of shortcode, longcode, tollfree, alphanumeric)',
    ],
    ['senders[0].address', '12', 'senders[0].address must be 3..8 digits for a shortcode, got 12'],
    [
      'senders[0].address',
      '123456789',
      'senders[0].address must be 3..8 digits for a shortcode, got 123456789',
    ],
    [
      'senders[2].address',
      '+447700900123',
      "senders[2].address must be E.164 digits without '+' (7..15 digits, not starting with 0) for a longcode, got +447700900123",
    ],
    [
      'senders[2].address',
      '07700900123',
      "senders[2].address must be E.164 digits without '+' (7..15 digits, not starting with 0) for a longcode, got 07700900123",
    ],
    [
      'senders[3].address',
      '1800',
      "senders[3].address must be E.164 digits without '+' (7..15 digits, not starting with 0) for a tollfree, got 1800",
    ],
    [
      'senders[3].address',
      '1'.repeat(16),
      `senders[3].address must be E.164 digits without '+' (7..15 digits, not starting with 0) for a tollfree, got ${'1'.repeat(16)}`,
    ],
    [
      'senders[1].address',
      'AcmeCorporation',
      "senders[1].address must be 1..11 GSM-safe characters (letters, digits, space, '.', '-', '&'), with at least one letter, for an alphanumeric sender, got 'AcmeCorporation'",
    ],
    [
      'senders[1].address',
      'Acme!',
      "senders[1].address must be 1..11 GSM-safe characters (letters, digits, space, '.', '-', '&'), with at least one letter, for an alphanumeric sender, got 'Acme!'",
    ],
    [
      'senders[1].address',
      'Åcme',
      "senders[1].address must be 1..11 GSM-safe characters (letters, digits, space, '.', '-', '&'), with at least one letter, for an alphanumeric sender, got 'Åcme'",
    ],
    [
      'senders[1].address',
      '555',
      "senders[1].address must be 1..11 GSM-safe characters (letters, digits, space, '.', '-', '&'), with at least one letter, for an alphanumeric sender, got 555",
    ],
    [
      'senders[1].nationalLanguages',
      ['spanish', 'klingon'],
      "senders[1].nationalLanguages[1] must be one of turkish, spanish, portuguese, got 'klingon'",
    ],
    ['senders[1].smartEncoding', 'maybe', "senders[1].smartEncoding must be true or false, got 'maybe'"],
  ]);
  accepts([
    ['senders[0].address', '123'],
    ['senders[0].address', '12345678'],
    ['senders[1].address', 'Acme & Co.1'],
    ['senders[1].address', 'A-1'],
    ['senders[2].address', '1234567'],
    ['senders[2].address', '123456789012345'],
    ['senders[1].nationalLanguages', ['turkish', 'spanish', 'portuguese']],
  ]);

  it('requires at least one sender', () => {
    const problems = problemsIn(withValues(baseTree(), { senders: [], routes: [{ connector: 'sim' }] }));
    expect(problems).toEqual(['senders must list at least one sender']);
  });
});

describe('API keys', () => {
  rejects([
    [
      'apiKeys[0].key',
      'short-key',
      'apiKeys[0].key must be at least 16 characters, got 9 (shorter keys are allowed only in dev mode: memory store with the simulator enabled)',
    ],
    [
      'apiKeys[0].key',
      'has a space in it, sixteen+',
      'apiKeys[0].key must be visible ASCII characters (no spaces): it is sent in an HTTP header',
    ],
    ['apiKeys[0].key', 'k'.repeat(257), 'apiKeys[0].key must be at most 256 characters, got 257'],
    ['apiKeys[0].key', undefined, 'apiKeys[0].key is required (a secret of visible ASCII characters)'],
    [
      'apiKeys[0].senders',
      ['Acme', '54321'],
      `apiKeys[0].senders[1] '54321' is not a configured sender (known: ${KNOWN_SENDERS})`,
    ],
    [
      'apiKeys[0].senders',
      ['*', 'Acme'],
      "apiKeys[0].senders must be ['*'] alone or a list of senders, not both",
    ],
    [
      'apiKeys[0].senders',
      undefined,
      "apiKeys[0].senders must list the senders this key may use, or ['*'] for all",
    ],
    ['apiKeys[0].senders', [], "apiKeys[0].senders must list the senders this key may use, or ['*'] for all"],
    [
      'apiKeys[0].name',
      'web shop',
      "apiKeys[0].name must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit, got 'web shop'",
    ],
  ]);
  rejects([
    [
      'apiKeys[0].name',
      '',
      "apiKeys[0].name must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit, got ''",
    ],
  ]);
  accepts([
    ['apiKeys[0].key', 'k'.repeat(16)],
    ['apiKeys[0].senders', ['Acme', '12345']],
  ]);

  it('requires at least one API key', () => {
    expect(problemsIn(withValue(baseTree(), 'apiKeys', []))).toEqual([
      'apiKeys must list at least one API key',
    ]);
  });

  it('requires unique names, and unique keys without showing them', () => {
    const key = 'Zq8-unique-secret-value';
    const tree = withValue(baseTree(), 'apiKeys', [
      { name: 'web', key, senders: ['*'] },
      { name: 'web', key: 'another-key-of-enough-length', senders: ['*'] },
      { name: 'crm', key, senders: ['Acme'] },
    ]);
    const problems = problemsIn(tree);
    expect(problems).toEqual([
      "apiKeys[1].name 'web' is already used by apiKeys[0].name: each API key name must be different",
      'apiKeys[2].key is the same as apiKeys[0].key: each API key must be different',
    ]);
    expect(problems.join('\n')).not.toContain(key);
  });

  it('never shows a key that is too short', () => {
    expect(problemsIn(withValue(baseTree(), 'apiKeys[0].key', 'hunter2')).join('\n')).not.toContain(
      'hunter2',
    );
  });

  describe('short keys in dev mode (memory store and the simulator enabled)', () => {
    const dev = { store: { kind: 'memory' }, 'simulator.enabled': true, 'apiKeys[0].key': 'dev' };

    it('are accepted', () => {
      expect(parseTree(withValues(baseTree(), dev)).apiKeys[0]!.key).toBe('dev');
    });

    it('are refused with the simulator disabled', () => {
      const tree = withValues(baseTree(), { ...dev, 'simulator.enabled': false });
      expect(problemsIn(tree)).toEqual([
        'apiKeys[0].key must be at least 16 characters, got 3 (shorter keys are allowed only in dev mode: memory store with the simulator enabled)',
      ]);
    });

    it('are refused with the Redis store', () => {
      const tree = withValues(baseTree(), { ...dev, store: { kind: 'redis', url: 'redis://r' } });
      expect(problemsIn(tree)).toHaveLength(1);
    });
  });
});

describe('store', () => {
  rejects([
    ['store.kind', 'postgres', "store.kind must be one of memory, redis, got 'postgres'"],
    ['store.url', undefined, 'store.url is required (a redis:// or rediss:// URL)'],
    ['store.url', 'localhost:6379', 'store.url must be a redis:// or rediss:// URL'],
    ['store.url', '', 'store.url must be a redis:// or rediss:// URL'],
    ['store.url', 'redis://[::1', 'store.url must be a redis:// or rediss:// URL'],
    ['store.commandTimeoutMs', 99, 'store.commandTimeoutMs must be an integer 100..60000, got 99'],
    ['store.commandTimeoutMs', 60_001, 'store.commandTimeoutMs must be an integer 100..60000, got 60001'],
  ]);
  accepts([
    ['store.url', 'rediss://:pw@redis.internal:6380/2'],
    ['store.keyPrefix', 'tenant-a:'],
    ['store.commandTimeoutMs', 100],
    ['store.commandTimeoutMs', 60_000],
    ['store', undefined],
  ]);

  it('never shows the URL, which carries the password', () => {
    const problems = problemsIn(withValue(baseTree(), 'store.url', 'http://user:pa55word@redis'));
    expect(problems).toEqual(['store.url must be a redis:// or rediss:// URL']);
    expect(problems.join('\n')).not.toContain('pa55word');
  });

  it('refuses Redis settings for the memory store', () => {
    const tree = withValue(baseTree(), 'store', {
      kind: 'memory',
      url: 'redis://r',
      keyPrefix: 'x:',
      commandTimeoutMs: 1000,
    });
    expect(problemsIn(tree)).toEqual([
      'store.url applies only to kind: redis (this store is kind: memory)',
      'store.keyPrefix applies only to kind: redis (this store is kind: memory)',
      'store.commandTimeoutMs applies only to kind: redis (this store is kind: memory)',
    ]);
  });
});

describe('HTTP, messages, TTLs, log, simulator, shutdown', () => {
  rejects([
    ['http.maxBodyBytes', 1023, 'http.maxBodyBytes must be an integer 1024..67108864, got 1023'],
    ['http.maxBodyBytes', 64 * MIB + 1, 'http.maxBodyBytes must be an integer 1024..67108864, got 67108865'],
    ['http.host', '', "http.host must be a host name or IP address, got ''"],
    ['messages.maxParts', 0, 'messages.maxParts must be an integer 1..255, got 0'],
    ['messages.maxParts', 256, 'messages.maxParts must be an integer 1..255, got 256'],
    [
      'messages.defaultValiditySeconds',
      0,
      'messages.defaultValiditySeconds must be an integer 1..2592000, got 0',
    ],
    // A request may ask for 30 days at most; the default no more (a larger one failed every request).
    [
      'messages.defaultValiditySeconds',
      2_592_001,
      'messages.defaultValiditySeconds must be an integer 1..2592000, got 2592001',
    ],
    ['ttl.messageSeconds', 0, 'ttl.messageSeconds must be an integer >= 1, got 0'],
    ['ttl.correlationSeconds', -5, 'ttl.correlationSeconds must be an integer >= 1, got -5'],
    ['ttl.idempotencySeconds', 1.5, 'ttl.idempotencySeconds must be an integer >= 1, got 1.5'],
    [
      'log.level',
      'verbose',
      "log.level must be one of fatal, error, warn, info, debug, trace, silent, got 'verbose'",
    ],
    ['simulator.enabled', 'yes', "simulator.enabled must be true or false, got 'yes'"],
    ['simulator.dlrDelayMs', -1, 'simulator.dlrDelayMs must be an integer 0..3600000, got -1'],
    [
      'simulator.systemId',
      's'.repeat(16),
      'simulator.systemId must be at most 15 characters (an SMPP C-string), got 16',
    ],
    [
      'simulator.password',
      'sluice-sim',
      'simulator.password must be at most 8 characters (an SMPP C-string), got 10',
    ],
    ['simulator.systemId', '', "simulator.systemId must not be empty, got ''"],
    ['shutdownTimeoutSeconds', 0, 'shutdownTimeoutSeconds must be an integer 1..3600, got 0'],
    ['role', 'smsbox', "role must be one of all, api, dispatch, got 'smsbox'"],
    ['queue.reclaimSeconds', 0, 'queue.reclaimSeconds must be an integer 1..3600, got 0'],
    ['queue.reclaimSeconds', 3601, 'queue.reclaimSeconds must be an integer 1..3600, got 3601'],
  ]);
  accepts([
    ['http.maxBodyBytes', 1024],
    ['http.maxBodyBytes', 64 * MIB],
    ['messages.maxParts', 1],
    ['messages.maxParts', 255],
    ['ttl.messageSeconds', 1],
    ...['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l): [string, unknown] => [
      'log.level',
      l,
    ]),
  ]);
});

describe('sender policy', () => {
  rejects([
    [
      'senders[0].optOutScope',
      'program',
      "senders[0].optOutScope is program, so the sender needs a program: set `program`, got 'program'",
    ],
    [
      'senders[0].optOutScope',
      'tenant',
      "senders[0].optOutScope must be one of sender, program, global, got 'tenant'",
    ],
    [
      'senders[0].program',
      'acme alerts',
      "senders[0].program must be 1..64 letters, digits, '.', '_' or '-', starting with a letter or digit, got 'acme alerts'",
    ],
    ['senders[0].rateLimit', -1, 'senders[0].rateLimit must be a number 0..1000000, got -1'],
    ['senders[0].rateBurst', 0, 'senders[0].rateBurst must be an integer 1..1000000000, got 0'],
    ['senders[0].maxQueueAgeSeconds', 0, 'senders[0].maxQueueAgeSeconds must be an integer >= 1, got 0'],
    [
      'senders[0].quietHours',
      { start: '8:00', end: '21:00' },
      "senders[0].quietHours.start quiet hours start must be a time of day 'HH:MM' (00:00..23:59), got '8:00'",
    ],
    ['apiKeys[0].rateLimit', 'fast', "apiKeys[0].rateLimit must be a number 0..1000000, got 'fast'"],
    // Beyond what the limiter holds, every request failed with 500.
    ['apiKeys[0].rateLimit', 1e300, 'apiKeys[0].rateLimit must be a number 0..1000000, got 1e+300'],
  ]);
  accepts([
    ['senders[0].rateLimit', 0],
    ['senders[0].rateLimit', 0.5],
    ['senders[0].quietHours', { start: '21:00', end: '08:00', days: ['mon', 'fri'] }],
    ['senders[0].keywords', { optOut: ['BAJA', 'ARRÊT'], custom: { HOURS: 'Mon-Fri 9-17' } }],
  ]);

  it('takes the rate limit of the sender type by default, and a tenth of it as burst', () => {
    const config = parseTree(baseTree());
    expect(config.senders.map((s) => [s.type, s.rateLimit, s.rateBurst])).toEqual([
      ['shortcode', 100, 10],
      ['alphanumeric', 0, 1],
      ['longcode', 1, 1],
      ['tollfree', 3, 1],
    ]);
  });

  it('gives an API key one second of its rate as burst by default', () => {
    const config = parseTree(withValue(baseTree(), 'apiKeys[0].rateLimit', 2.5));
    expect([config.apiKeys[0]!.rateLimit, config.apiKeys[0]!.rateBurst]).toEqual([2.5, 3]);
    expect(parseTree(baseTree()).apiKeys[0]!.rateBurst).toBe(1);
  });

  it('refuses a keyword with two meanings, the standard ones included', () => {
    const problems = problemsIn(withValue(baseTree(), 'senders[0].keywords', { optIn: ['STOP'] }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^senders\[0\]\.keywords .*STOP/);
  });
});

describe('role', () => {
  accepts([
    ['role', 'all'],
    ['role', 'api'],
    ['role', 'dispatch'],
  ]);

  it.each(['api', 'dispatch'])(
    'refuses %s with the memory store, which no other process can share',
    (role) => {
      const tree = withValues(baseTree(), { role, store: { kind: 'memory' } });
      expect(problemsIn(tree)).toEqual([
        `role '${role}' needs store kind: redis (api and dispatch processes share their queue through it; a memory store is one process's own)`,
      ]);
    },
  );

  it('defaults to all, also with the memory store', () => {
    expect(parseTree(baseTree()).role).toBe('all');
    expect(parseTree(withValue(baseTree(), 'store', { kind: 'memory' })).role).toBe('all');
  });
});

describe('callbacks', () => {
  rejects([
    // A third of queue.reclaimSeconds (30 s by default): a POST must end before its event is reclaimed.
    ['callbacks.timeoutMs', 10_001, 'callbacks.timeoutMs must be an integer 1..10000, got 10001'],
    ['callbacks.timeoutMs', 0, 'callbacks.timeoutMs must be an integer 1..10000, got 0'],
    ['callbacks.concurrency', 0, 'callbacks.concurrency must be an integer 1..1000, got 0'],
    [
      'callbacks.maxAgeSeconds',
      2_592_001,
      'callbacks.maxAgeSeconds must be an integer 1..2592000, got 2592001',
    ],
    ['callbacks.enabled', 'yes', "callbacks.enabled must be true or false, got 'yes'"],
    [
      'callbacks.retries',
      3,
      'callbacks.retries is an unknown key (known: enabled, timeoutMs, concurrency, maxAgeSeconds)',
    ],
    // Told by length only, as the API key itself.
    ['apiKeys[0].callbackSecret', 'short', 'apiKeys[0].callbackSecret must be 16 to 256 characters, got 5'],
    [
      'apiKeys[0].callbackSecret',
      'has a space in it, somewhere',
      'apiKeys[0].callbackSecret must be visible ASCII characters (no spaces)',
    ],
    // A number is read as the string it spells, and that is too short.
    ['apiKeys[0].callbackSecret', 42, 'apiKeys[0].callbackSecret must be 16 to 256 characters, got 2'],
    [
      'apiKeys[0].callbackSecret',
      ['a', 'list'],
      'apiKeys[0].callbackSecret must be a secret of visible ASCII characters or null, got a list',
    ],
  ]);
  accepts([
    ['callbacks.timeoutMs', 10_000],
    ['callbacks.enabled', false],
    ['apiKeys[0].callbackSecret', 'whsec-0123456789abcdef'],
    ['apiKeys[0].callbackSecret', null],
  ]);

  it('defaults to on, 5 s, 32 at once, a day; a timeout bounded by a third of queue.reclaimSeconds', () => {
    expect(parseTree(baseTree()).callbacks).toEqual({
      enabled: true,
      timeoutMs: 5_000,
      concurrency: 32,
      maxAgeSeconds: 86_400,
    });
    expect(parseTree(withValue(baseTree(), 'queue.reclaimSeconds', 6)).callbacks.timeoutMs).toBe(2_000);
    expect(
      problemsIn(withValues(baseTree(), { 'queue.reclaimSeconds': 3, 'callbacks.timeoutMs': 1_500 })),
    ).toEqual(['callbacks.timeoutMs must be an integer 1..1000, got 1500']);
  });
});
