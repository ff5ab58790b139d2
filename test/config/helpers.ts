import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { SluiceConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

/** A configuration tree as YAML would give it, before validation. */
export type Tree = Record<string, unknown>;

/**
 * A valid production-shaped configuration, small enough that each test changes one thing.
 * Connectors carrier-a and sim; four senders, one of each type; three routes, the last the default.
 */
export function baseTree(): Tree {
  return {
    store: { kind: 'redis', url: 'redis://localhost:6379' },
    connectors: [
      { name: 'carrier-a', host: 'smsc-a.example', systemId: 'acme', password: 'secret' },
      { name: 'sim', host: '127.0.0.1', systemId: 'sluice', password: 'sluice' },
    ],
    senders: [
      { address: '12345', type: 'shortcode' },
      { address: 'Acme', type: 'alphanumeric' },
      { address: '447700900123', type: 'longcode' },
      { address: '18005550199', type: 'tollfree' },
    ],
    // Nothing refers to 'sim' or to a sender, so that changing those affects nothing else.
    routes: [
      { connector: 'carrier-a', prefixes: ['1'] },
      { connector: 'carrier-a', prefixes: ['44'] },
      { connector: 'carrier-a' },
    ],
    apiKeys: [{ name: 'web', key: 'k'.repeat(24), senders: ['*'] }],
  };
}

/**
 * A copy of `tree` with the value at `path` (e.g. "connectors[1].window") replaced; `undefined`
 * removes the key. Intermediate mappings and lists are created as needed.
 */
export function withValue(tree: Tree, path: string, value: unknown): Tree {
  const copy = structuredClone(tree);
  const steps = path.split(/\.|(?=\[)/).map((s) => (s.startsWith('[') ? Number(s.slice(1, -1)) : s));
  let node: unknown = copy;
  for (let i = 0; i < steps.length - 1; i++) {
    const step = steps[i]!;
    const container = node as Record<string | number, unknown>;
    if (container[step] === undefined || container[step] === null) {
      container[step] = typeof steps[i + 1] === 'number' ? [] : {};
    }
    node = container[step];
  }
  const last = steps[steps.length - 1]!;
  const container = node as Record<string | number, unknown>;
  if (value === undefined) {
    if (Array.isArray(container) && typeof last === 'number') container.splice(last, 1);
    else delete container[last];
  } else {
    container[last] = value;
  }
  return copy;
}

/** Applies several changes in order. */
export function withValues(tree: Tree, changes: Record<string, unknown>): Tree {
  return Object.entries(changes).reduce((t, [path, value]) => withValue(t, path, value), tree);
}

/** YAML text for a tree, as a user would write it. */
export function yamlOf(tree: Tree): string {
  return stringify(tree);
}

/** Parses a tree through YAML, as a file would be. */
export function parseTree(tree: Tree, env: Record<string, string | undefined> = {}): SluiceConfig {
  return parseConfig(yamlOf(tree), env, 'test.yaml');
}

/** The problems a ConfigError lists, one per line; fails the test when nothing is thrown. */
export function problemsOf(run: () => unknown): string[] {
  return errorOf(run)
    .message.split('\n')
    .slice(1)
    .map((line) => line.replace(/^ {2}- /, ''));
}

/** The ConfigError `run` throws; fails the test when it throws nothing or something else. */
export function errorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

/** Problems found in `tree` (parsed through YAML). */
export function problemsIn(tree: Tree, env: Record<string, string | undefined> = {}): string[] {
  return problemsOf(() => parseTree(tree, env));
}
