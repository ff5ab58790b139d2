/**
 * Every error sluice raises, each with a stable `code` (SLUICE_ERR_*). An error bound for a peer
 * carries its wire form: SMPP errors carry the command_status to answer with.
 */

export interface SluiceErrorOptions {
  cause?: unknown;
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
  constructor(message: string, options?: SluiceErrorOptions) {
    super('SLUICE_ERR_SMPP_CLOSED', message, options);
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
