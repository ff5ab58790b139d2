/**
 * Every error sluice raises, each with a stable `code` (SLUICE_ERR_*). An error bound for a peer
 * carries its wire form: SMPP errors carry the command_status to answer with.
 */

export interface SluiceErrorOptions {
  cause?: unknown;
}

/** Characters of a client's string quoted back in an error message; the rest is cut. */
const QUOTED_CHARS = 40;

/**
 * A value a client sent, as an error message may quote it: a string in quotes, cut to 40
 * characters; a number, boolean or null as written; an array or object by its kind only (never
 * serialised: it may be nested thousands deep, or megabytes long).
 */
export function quoteValue(value: unknown): string {
  if (typeof value === 'string') {
    if (value.length <= QUOTED_CHARS) return `'${value}'`;
    // Not between the two halves of a surrogate pair.
    const cut = /[\uD800-\uDBFF]/.test(value[QUOTED_CHARS - 1]!) ? QUOTED_CHARS - 1 : QUOTED_CHARS;
    return `'${value.slice(0, cut)}…' (${value.length} characters)`;
  }
  if (value === undefined) return 'nothing';
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

export class SluiceError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: SluiceErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A PDU that cannot be decoded. `commandStatus` is what to answer the peer with. */
export class SmppPduError extends SluiceError {
  readonly commandStatus: number;
  /** The header fields, when at least 16 bytes were read; null otherwise. */
  readonly commandId: number | null;
  readonly sequenceNumber: number | null;
  /** True when the byte stream can no longer be framed (bad command_length): close the session. */
  readonly fatal: boolean;
  constructor(
    message: string,
    commandStatus: number,
    header: { commandId: number | null; sequenceNumber: number | null; fatal?: boolean },
  ) {
    super('SLUICE_ERR_SMPP_PDU', message);
    this.commandStatus = commandStatus;
    this.commandId = header.commandId;
    this.sequenceNumber = header.sequenceNumber;
    this.fatal = header.fatal ?? false;
  }
}

/** A PDU object that cannot be encoded: a programming error on our side, never sent. */
export class SmppEncodeError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_SMPP_ENCODE', message);
  }
}

/** The peer answered a request with a non-zero command_status. */
export class SmppStatusError extends SluiceError {
  readonly commandStatus: number;
  readonly retryable: boolean;
  constructor(command: string, commandStatus: number, statusName: string, retryable: boolean) {
    super(
      'SLUICE_ERR_SMPP_STATUS',
      `${command} answered ${statusName} (0x${commandStatus.toString(16).padStart(8, '0')})`,
    );
    this.commandStatus = commandStatus;
    this.retryable = retryable;
  }
}

/** No response within the session's request timeout. Retryable. */
export class SmppTimeoutError extends SluiceError {
  constructor(command: string, timeoutMs: number) {
    super('SLUICE_ERR_SMPP_TIMEOUT', `${command} not answered within ${timeoutMs} ms`);
  }
}

/** The outbound window is full: the caller must wait for a response before sending more. */
export class SmppWindowFullError extends SluiceError {
  constructor(window: number) {
    super('SLUICE_ERR_SMPP_WINDOW_FULL', `outbound window of ${window} requests is full`);
  }
}

/** The session closed (or began unbinding) before the request was answered. Retryable. */
export class SmppClosedError extends SluiceError {
  /** The request went out before the session closed: the peer may have acted on it. */
  readonly sent: boolean;
  constructor(message: string, options?: SluiceErrorOptions & { sent?: boolean }) {
    super('SLUICE_ERR_SMPP_CLOSED', message, options);
    this.sent = options?.sent ?? false;
  }
}

/** The request is not legal in the session's current bind state (SMPP v3.4 §2.3). */
export class SmppBindStateError extends SluiceError {
  constructor(command: string, state: string) {
    super('SLUICE_ERR_SMPP_BIND_STATE', `${command} is not allowed in state ${state}`);
  }
}

/** No bind of the connector can carry the request right now. Retryable. */
export class SmppNotBoundError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_SMPP_NOT_BOUND', message);
  }
}

/** A command-line or configuration value that is not acceptable; the message says what to change. */
export class ConfigError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_CONFIG', message);
  }
}

// ---------------------------------------------------------------------------------------------------
// Text engine (src/codec)
// ---------------------------------------------------------------------------------------------------

/** One distinct character that an encoding cannot carry, with where it first occurs. */
export interface UnencodableCharacter {
  /** The character (a whole code point: a surrogate pair stays together; a lone surrogate alone). */
  readonly char: string;
  readonly codePoint: number;
  /** UTF-16 index of its first occurrence. */
  readonly index: number;
  readonly count: number;
}

function describeCharacters(chars: readonly UnencodableCharacter[]): string {
  const shown = chars.slice(0, 10).map((c) => {
    const u = `U+${c.codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
    const visible =
      c.codePoint < 0x20 || (c.codePoint >= 0xd800 && c.codePoint <= 0xdfff) ? '' : `'${c.char}' `;
    return `${visible}${u} at ${c.index}${c.count > 1 ? ` (×${c.count})` : ''}`;
  });
  const more = chars.length > 10 ? `, and ${chars.length - 10} more` : '';
  return shown.join(', ') + more;
}

/** Text that cannot be sent in the chosen encoding; nothing is replaced silently. */
export class UnencodableTextError extends SluiceError {
  readonly encoding: 'gsm7' | 'ucs2';
  readonly characters: readonly UnencodableCharacter[];
  constructor(encoding: 'gsm7' | 'ucs2', characters: readonly UnencodableCharacter[]) {
    const hint =
      encoding === 'gsm7'
        ? 'use encoding auto or ucs2, or remove them'
        : 'UCS-2 cannot carry unpaired surrogates; fix the text';
    super(
      'SLUICE_ERR_UNENCODABLE',
      `text cannot be sent as ${encoding === 'gsm7' ? 'GSM-7' : 'UCS-2'}: ${describeCharacters(characters)}; ${hint}`,
    );
    this.encoding = encoding;
    this.characters = characters;
  }
}

/** The text needs more parts than the connector allows. */
export class TooManyPartsError extends SluiceError {
  readonly parts: number;
  readonly maxParts: number;
  readonly encoding: 'gsm7' | 'ucs2';
  constructor(parts: number, maxParts: number, encoding: 'gsm7' | 'ucs2', unitsPerPart: number) {
    super(
      'SLUICE_ERR_TOO_MANY_PARTS',
      `text needs ${parts} parts as ${encoding === 'gsm7' ? 'GSM-7' : 'UCS-2'} (${unitsPerPart} ${
        encoding === 'gsm7' ? 'septets' : 'UTF-16 units'
      } per part), more than the maximum of ${maxParts}: shorten it or raise maxParts`,
    );
    this.parts = parts;
    this.maxParts = maxParts;
    this.encoding = encoding;
  }
}

/** Why a received short message could not be decoded. */
export const BAD_SHORT_MESSAGE_REASON = {
  invalidDataCoding: 'invalid-data-coding',
  udhMissing: 'udh-missing',
  udhOverflow: 'udh-overflow',
  ieOverflow: 'ie-overflow',
  oddUcs2Length: 'odd-ucs2-length',
  septetOutOfRange: 'septet-out-of-range',
  ia5OutOfRange: 'ia5-out-of-range',
  unsupportedNationalLanguage: 'unsupported-national-language',
} as const;
export type BadShortMessageReason = (typeof BAD_SHORT_MESSAGE_REASON)[keyof typeof BAD_SHORT_MESSAGE_REASON];

/** Received short_message / message_payload bytes that do not decode under their data_coding. */
export class BadShortMessageError extends SluiceError {
  readonly reason: BadShortMessageReason;
  /** Byte offset in the input where decoding failed. */
  readonly offset: number;
  constructor(reason: BadShortMessageReason, message: string, offset: number) {
    super('SLUICE_ERR_BAD_SHORT_MESSAGE', message);
    this.reason = reason;
    this.offset = offset;
  }
}

/** An option passed to the text engine that is out of range; the message says what is accepted. */
export class CodecOptionError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_CODEC_OPTION', message);
  }
}

/**
 * An error answered to an HTTP client as application/problem+json: `status` is the HTTP status,
 * `type` a stable slug (the problem document's type is https://sluice.dev/problems/<type>).
 */
export class ApiError extends SluiceError {
  readonly status: number;
  readonly type: string;
  /** Per-field complaints, for a 400/422 with several. */
  readonly fields: ReadonlyArray<{ field: string; message: string }>;
  /** Seconds the client should wait before trying again (429, 503): sent as Retry-After. */
  readonly retryAfterSeconds: number | null;
  constructor(
    status: number,
    type: string,
    message: string,
    fields: ReadonlyArray<{ field: string; message: string }> = [],
    options?: SluiceErrorOptions & { retryAfterSeconds?: number },
  ) {
    super(`SLUICE_ERR_API_${type.toUpperCase().replaceAll('-', '_')}`, message, options);
    this.status = status;
    this.type = type;
    this.fields = fields;
    this.retryAfterSeconds =
      options?.retryAfterSeconds === undefined ? null : Math.max(1, Math.ceil(options.retryAfterSeconds));
  }
}
