/**
 * ${VAR} references in configuration values. Only the braced form is recognised, so a password
 * that merely contains '$' needs no escaping; '$${' is the escape for a literal '${'. Values taken
 * from the environment are not scanned again: a secret that contains '${' stays as it is.
 */
import { indexPath, keyPath } from './reader.js';

/** A reference, the escape, or a '${' that starts neither (reported rather than kept literally). */
const TOKEN = /\$\$\{|\$\{([A-Z_][A-Z0-9_]*)\}|\$\{/g;

export interface Interpolation {
  /** The configuration with every reference replaced. */
  value: unknown;
  /**
   * Key path → the variables its value came from. Validation shows none of these values in its
   * messages: a variable usually holds a secret, and a message ends up in logs.
   */
  fromEnv: Map<string, string[]>;
  /** Key paths whose value has a reference that could not be resolved (each already a problem). */
  unresolved: Set<string>;
  problems: string[];
}

export function interpolate(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
): Interpolation {
  const fromEnv = new Map<string, string[]>();
  const unresolved = new Set<string>();
  const problems: string[] = [];

  const resolveString = (text: string, path: string): string => {
    if (!text.includes('${')) return text;
    const names: string[] = [];
    const out = text.replace(TOKEN, (token: string, name: string | undefined) => {
      if (token === '$${') return '${';
      if (name === undefined) {
        // Not echoed: the text around it may be a secret written in the file.
        unresolved.add(path);
        problems.push(
          `${label(path)}: '\${' must start a \${NAME} reference (NAME of A-Z, 0-9 and _, not starting with a digit); write '$\${' for a literal '\${'`,
        );
        return token;
      }
      names.push(name);
      const resolved = env[name];
      if (resolved === undefined) {
        unresolved.add(path);
        problems.push(`${label(path)}: \${${name}} is not set`);
        return token;
      }
      return resolved;
    });
    if (names.length > 0) fromEnv.set(path, names);
    return out;
  };

  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') return resolveString(v, path);
    if (Array.isArray(v)) return v.map((item, i) => walk(item, indexPath(path, i)));
    if (v !== null && typeof v === 'object') {
      // fromEntries defines own properties, so a '__proto__' key stays a key (reported as unknown).
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, keyPath(path, k))]));
    }
    return v;
  };

  return { value: walk(value, ''), fromEnv, unresolved, problems };
}

function label(path: string): string {
  return path === '' ? 'the configuration' : path;
}
