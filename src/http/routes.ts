/**
 * The routes the HTTP API serves, as data: the server registers exactly these, metrics label by
 * their templates, and the OpenAPI test checks openapi.yaml against this table.
 */

export const ROUTE = {
  messages: '/v1/messages',
  batch: '/v1/messages/batch',
  message: '/v1/messages/{id}',
  segments: '/v1/segments',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
} as const;
export type RouteTemplate = (typeof ROUTE)[keyof typeof ROUTE];

/** The metrics label for requests that match no route (a bounded value, never the raw URL). */
export const UNMATCHED_ROUTE = 'unmatched';

export type HttpMethod = 'get' | 'post';

export interface RouteSpec {
  template: RouteTemplate;
  method: HttpMethod;
  /** Needs `Authorization: Bearer <key>`. */
  auth: boolean;
  /** Takes a JSON body. */
  body: boolean;
}

export const ROUTES: readonly RouteSpec[] = [
  { template: ROUTE.messages, method: 'post', auth: true, body: true },
  { template: ROUTE.batch, method: 'post', auth: true, body: true },
  { template: ROUTE.message, method: 'get', auth: true, body: false },
  { template: ROUTE.segments, method: 'post', auth: true, body: true },
  { template: ROUTE.healthz, method: 'get', auth: false, body: false },
  { template: ROUTE.readyz, method: 'get', auth: false, body: false },
  { template: ROUTE.metrics, method: 'get', auth: false, body: false },
];

/** The uWS pattern of a template: `{id}` becomes `:id`. */
export function uwsPattern(template: string): string {
  return template.replace(/\{([^}]+)\}/g, ':$1');
}

/** The Allow header of a template: its methods, upper case. */
export function allowHeader(template: RouteTemplate): string {
  return ROUTES.filter((r) => r.template === template)
    .map((r) => r.method.toUpperCase())
    .join(', ');
}
