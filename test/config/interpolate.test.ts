// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${VAR} references in configuration text, not templates.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { interpolate } from '../../src/config/interpolate.js';
import { baseTree, errorOf, parseTree, problemsIn, withValue, withValues } from './helpers.js';

const SECRET = 'Zx9-very-secret-value';

describe('${VAR} references', () => {
  it('resolve in any string value, anywhere in the tree', () => {
    const tree = withValues(baseTree(), {
      'store.url': '${REDIS_URL}',
      'connectors[0].password': '${SMSC_PASSWORD}',
      'connectors[0].host': 'smsc.${DOMAIN}',
      'apiKeys[0].key': '${API_KEY}',
      'apiKeys[0].senders': ['${SENDER}'],
    });
    const config = parseTree(tree, {
      REDIS_URL: 'rediss://:pw@redis:6380',
      SMSC_PASSWORD: 'pw',
      DOMAIN: 'carrier.example',
      API_KEY: SECRET,
      SENDER: 'Acme',
    });
    expect(config.store).toEqual({
      kind: 'redis',
      url: 'rediss://:pw@redis:6380',
      keyPrefix: 'sluice:',
      commandTimeoutMs: 5_000,
    });
    expect(config.connectors[0]!.password).toBe('pw');
    expect(config.connectors[0]!.host).toBe('smsc.carrier.example');
    expect(config.apiKeys[0]).toMatchObject({ name: 'web', key: SECRET, senders: ['Acme'] });
  });

  it('resolve in numeric and boolean settings, which are then checked', () => {
    const tree = withValues(baseTree(), { 'http.port': '${PORT}', 'simulator.enabled': '${SIM}' });
    const config = parseTree(tree, { PORT: '9000', SIM: 'true' });
    expect(config.http.port).toBe(9000);
    expect(config.simulator.enabled).toBe(true);
  });

  it('can be several in one value', () => {
    const tree = withValue(baseTree(), 'store.url', 'redis://${USER_}:${PASS}@${HOST}:6379/0');
    const env = { USER_: 'u', PASS: 'p', HOST: 'h' };
    expect(parseTree(tree, env).store).toMatchObject({ url: 'redis://u:p@h:6379/0' });
  });

  it("take '$${' as a literal '${', and leave a lone '$' alone", () => {
    const tree = withValues(baseTree(), {
      'connectors[0].password': 'a$${B}',
      'connectors[1].password': 'pa$$w0rd',
      'apiKeys[0].key': '$${NOT_A_VAR}-and-$5-more-text',
    });
    const config = parseTree(tree);
    expect(config.connectors[0]!.password).toBe('a${B}');
    expect(config.connectors[1]!.password).toBe('pa$$w0rd');
    expect(config.apiKeys[0]!.key).toBe('${NOT_A_VAR}-and-$5-more-text');
  });

  it('are not resolved again inside a variable’s value', () => {
    const tree = withValue(baseTree(), 'apiKeys[0].key', '${API_KEY}');
    expect(parseTree(tree, { API_KEY: '${OTHER}-0123456789', OTHER: 'x' }).apiKeys[0]!.key).toBe(
      '${OTHER}-0123456789',
    );
  });

  it('may resolve to the empty string', () => {
    const tree = withValue(baseTree(), 'connectors[0].systemType', '${SYSTEM_TYPE}');
    expect(parseTree(tree, { SYSTEM_TYPE: '' }).connectors[0]!.systemType).toBe('');
  });

  it('report a missing variable with the key path and the variable, once per value', () => {
    const tree = withValues(baseTree(), {
      'connectors[0].password': '${SMSC_PASSWORD}',
      'http.port': '${PORT}',
      'store.url': 'redis://${REDIS_HOST}:${REDIS_PORT}',
    });
    // In the file's order (http comes last in this tree); nothing else is said about these values.
    expect(problemsIn(tree, { REDIS_HOST: 'h' })).toEqual([
      'store.url: ${REDIS_PORT} is not set',
      'connectors[0].password: ${SMSC_PASSWORD} is not set',
      'http.port: ${PORT} is not set',
    ]);
  });

  it('report a ${ that starts no reference, without showing the value', () => {
    const cases = ['pw${lower}', 'x${1ABC}', 'open${', 'a${A-B}'];
    for (const password of cases) {
      const problems = problemsIn(withValue(baseTree(), 'connectors[0].password', password));
      expect(problems).toEqual([
        "connectors[0].password: '${' must start a ${NAME} reference (NAME of A-Z, 0-9 and _, not starting with a digit); write '$${' for a literal '${'",
      ]);
    }
  });

  it('never put a variable’s value in a message, even when the value is wrong', () => {
    const env = {
      SMSC_PASSWORD: SECRET,
      API_KEY: SECRET.slice(0, 10),
      REDIS_URL: `http://:${SECRET}@r`,
      PORT: SECRET,
    };
    const tree = withValues(baseTree(), {
      'connectors[0].password': '${SMSC_PASSWORD}',
      'apiKeys[0].key': '${API_KEY}',
      'store.url': '${REDIS_URL}',
      'http.port': '${PORT}',
      'senders[1].address': '${PORT}',
    });
    const message = errorOf(() => parseTree(tree, env)).message;
    expect(message).not.toContain(SECRET.slice(0, 10));
    expect(message.split('\n').slice(1)).toEqual([
      '  - http.port must be an integer 0..65535, got the value of ${PORT} (not shown)',
      '  - store.url must be a redis:// or rediss:// URL',
      '  - connectors[0].password must be at most 8 characters (an SMPP C-string), got 21',
      "  - senders[1].address must be 1..11 GSM-safe characters (letters, digits, space, '.', '-', '&'), with at least one letter, for an alphanumeric sender, got the value of ${PORT} (not shown)",
      '  - apiKeys[0].key must be at least 16 characters, got 10 (shorter keys are allowed only in dev mode: memory store with the simulator enabled)',
    ]);
  });

  it('in a cross-reference are named by their variable', () => {
    const tree = withValue(baseTree(), 'routes[2].connector', '${CONNECTOR}');
    expect(problemsIn(tree, { CONNECTOR: 'carrier-x' })).toEqual([
      'routes[2].connector (the value of ${CONNECTOR}) is not a connector (known: carrier-a, sim)',
    ]);
  });

  it('are not resolved in keys', () => {
    const text = 'http: { "${KEY}": 1 }\n';
    expect(errorOf(() => parseConfig(text, { KEY: 'port' })).message).toContain(
      'http.${KEY} is an unknown key',
    );
  });
});

describe('interpolate', () => {
  it('records which paths came from which variables', () => {
    const result = interpolate({ a: ['x', '${A}${B}'], b: { c: '${C}' }, n: 5 }, { A: '1', B: '2' });
    expect(result.value).toEqual({ a: ['x', '12'], b: { c: '${C}' }, n: 5 });
    expect([...result.fromEnv]).toEqual([
      ['a[1]', ['A', 'B']],
      ['b.c', ['C']],
    ]);
    expect([...result.unresolved]).toEqual(['b.c']);
    expect(result.problems).toEqual(['b.c: ${C} is not set']);
  });

  it('leaves its input untouched', () => {
    const input = { a: '${A}' };
    interpolate(input, { A: 'x' });
    expect(input).toEqual({ a: '${A}' });
  });
});
