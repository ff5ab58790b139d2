/**
 * The routes the HTTP API serves, as data: the server registers exactly these, metrics label by
 * their templates, and the OpenAPI test checks openapi.yaml against this table.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';

export const ROUTE = {
  messages: '/v1/messages',
  batch: '/v1/messages/batch',
  message: '/v1/messages/{id}',
  segments: '/v1/segments',
  optout: '/v1/optouts/{number}',
  optoutHistory: '/v1/optouts/{number}/history',
  optoutImport: '/v1/optouts/import',
  optoutExport: '/v1/optouts/export',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
} as const;
export type RouteTemplate = (typeof ROUTE)[keyof typeof ROUTE];

/** The metrics label for requests that match no route (a bounded value, never the raw URL). */
export const UNMATCHED_ROUTE = 'unmatched';

export const HTTP_METHODS = ['get', 'post', 'put', 'delete'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface RouteSpec {
  template: RouteTemplate;
  method: HttpMethod;
  /** Needs `Authorization: Bearer <key>`. */
  auth: boolean;
  /** Takes a body: JSON, except the opt-out import's CSV. */
  body: boolean;
}

export const ROUTES: readonly RouteSpec[] = [
  { template: ROUTE.messages, method: 'post', auth: true, body: true },
  { template: ROUTE.batch, method: 'post', auth: true, body: true },
  { template: ROUTE.message, method: 'get', auth: true, body: false },
  { template: ROUTE.segments, method: 'post', auth: true, body: true },
  { template: ROUTE.optout, method: 'get', auth: true, body: false },
  { template: ROUTE.optout, method: 'put', auth: true, body: true },
  { template: ROUTE.optout, method: 'delete', auth: true, body: false },
  { template: ROUTE.optoutHistory, method: 'get', auth: true, body: false },
  { template: ROUTE.optoutImport, method: 'post', auth: true, body: true },
  { template: ROUTE.optoutExport, method: 'get', auth: true, body: false },
  { template: ROUTE.healthz, method: 'get', auth: false, body: false },
  { template: ROUTE.readyz, method: 'get', auth: false, body: false },
  { template: ROUTE.metrics, method: 'get', auth: false, body: false },
];

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/**
 * GET routes answer HEAD too (RFC 9110 §9.3.2), as GET without the content, except the export,
 * which streams what it reads and so has no length to state before it has read it all.
 */
export function answersHead(template: RouteTemplate): boolean {
  return template !== ROUTE.optoutExport && ROUTES.some((r) => r.template === template && r.method === 'get');
}

let answeringHead = false;

/** True while the handler of a HEAD request runs: the exchange it begins answers without content. */
export function isHeadRequest(): boolean {
  return answeringHead;
}

function run(head: boolean, handler: Handler, res: HttpResponse, req: HttpRequest): void {
  answeringHead = head;
  try {
    handler(res, req);
  } finally {
    answeringHead = false;
  }
}

/** A handler that may see HEAD among other methods (`any`): it answers HEAD without content. */
export function headAware(handler: Handler): Handler {
  return (res, req) => run(req.getMethod() === 'head', handler, res, req);
}

/**
 * Registers a handler for one method of a template (uWS names DELETE `del`); a GET handler
 * answers HEAD too where the template does (answersHead).
 */
export function on(app: TemplatedApp, method: HttpMethod, template: RouteTemplate, handler: Handler): void {
  const pattern = uwsPattern(template);
  switch (method) {
    case 'get':
      app.get(pattern, handler);
      if (answersHead(template)) app.head(pattern, (res, req) => run(true, handler, res, req));
      break;
    case 'post':
      app.post(pattern, handler);
      break;
    case 'put':
      app.put(pattern, handler);
      break;
    case 'delete':
      app.del(pattern, handler);
      break;
  }
}

/** The uWS pattern of a template: `{id}` becomes `:id`. */
export function uwsPattern(template: string): string {
  return template.replace(/\{([^}]+)\}/g, ':$1');
}

/** The Allow header of a template: its methods, upper case. */
export function allowHeader(template: RouteTemplate): string {
  return ROUTES.filter((r) => r.template === template)
    .map((r) => (r.method === 'get' && answersHead(template) ? 'GET, HEAD' : r.method.toUpperCase()))
    .join(', ');
}
