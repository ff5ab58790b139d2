/**
 * The text engine: GSM 03.38 / UCS-2 encoding, smart encoding, segmentation and preview for
 * outbound messages; decoding of received short messages. Pure and synchronous.
 */

export {
  ALPHABET,
  type Alphabet,
  alphabetOf,
  type DecodedShortMessage,
  type DecodeShortMessageOptions,
  decodeShortMessage,
} from './decode.js';
export {
  decodeGsm7,
  encodeGsm7,
  type Gsm7DecodeOptions,
  type Gsm7EncodeOptions,
  type NationalTables,
  packSeptets,
  unpackSeptets,
} from './gsm7.js';
export { NATIONAL_LANGUAGE, type NationalLanguage } from './gsm7-tables.js';
export {
  DATA_CODING,
  DEFAULT_MAX_PARTS,
  ENCODING,
  type Encoding,
  type EncodingChoice,
  type MessagePlan,
  type NationalShift,
  type PlannedPart,
  type PlanOptions,
  planMessage,
  type SarFields,
} from './plan.js';
export { type ForcedCharacter, type MessagePreview, type PreviewPart, previewMessage } from './preview.js';
export {
  gsm7Capacity,
  type PlanWarning,
  type PlanWarningCode,
  SEGMENT_MODE,
  type SegmentMode,
  ucs2Capacity,
} from './segment.js';
export type { Replacement } from './smart.js';
export { decodeUcs2, encodeUcs2 } from './ucs2.js';
export {
  type BuildUdhOptions,
  buildUdh,
  type Concatenation,
  IEI,
  type InformationElement,
  parseUdh,
  type UserDataHeader,
} from './udh.js';
