export {
  type BindPlan,
  type ClientEvents,
  type ClientOptions,
  type Dial,
  defaultDial,
  SmppClient,
} from './client.js';
export * from './constants.js';
export * from './pdu/index.js';
export { type Authenticate, type BindAttempt, type ServerOptions, SmppServer } from './server.js';
export {
  type AnsweredRequest,
  type AppRequest,
  type BindMode,
  type CloseInfo,
  legality,
  type Role,
  Session,
  type SessionOptions,
  type SessionState,
} from './session.js';
