/**
 * Routes as data (STYLE: Jasmin's routing): an ordered table of (sender, destination prefix) →
 * connector, first match wins, the last route matches anything. The table is validated when the
 * configuration loads; here it is only matched.
 */
import type { RouteConfig } from '../config/types.js';

interface CompiledRoute {
  connector: string;
  senders: ReadonlySet<string> | null;
  prefixes: readonly string[] | null;
}

export class Router {
  readonly #routes: CompiledRoute[];

  constructor(routes: readonly RouteConfig[]) {
    this.#routes = routes.map((r) => ({
      connector: r.connector,
      senders: r.senders.length > 0 ? new Set(r.senders) : null,
      // Longest prefix first inside a route, so the check can stop at the first hit.
      prefixes: r.prefixes.length > 0 ? [...r.prefixes].sort((a, b) => b.length - a.length) : null,
    }));
  }

  /** The connector for a message from `from` to `to` (E.164 digits), or null if no route matches. */
  route(from: string, to: string): string | null {
    for (const r of this.#routes) {
      if (r.senders && !r.senders.has(from)) continue;
      if (r.prefixes && !r.prefixes.some((p) => to.startsWith(p))) continue;
      return r.connector;
    }
    return null;
  }
}
