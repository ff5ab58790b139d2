export {
  DEFAULT_MAX_PDU_LENGTH,
  decodePdu,
  encodePdu,
  HEADER_LENGTH,
  MAX_SHORT_MESSAGE,
  makePdu,
  PduWriter,
  writePdu,
} from './codec.js';
export { type FrameSink, PduFramer } from './framer.js';
export type * from './types.js';
