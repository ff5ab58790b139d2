/** The HTTP API: the server, and the shapes it renders (for the end-to-end tests and clients). */
export { type FieldError, PROBLEM, PROBLEM_TYPE_BASE, type Problem, type ProblemSlug } from './problems.js';
export {
  type RenderedEvent,
  type RenderedMessage,
  type RenderedPart,
  type RenderedPreview,
  renderMessage,
  renderPreview,
} from './render.js';
export { ROUTE, ROUTES, type RouteSpec, type RouteTemplate } from './routes.js';
export { createHttpServer, type HttpServer, type HttpServerOptions } from './server.js';
