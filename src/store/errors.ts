/**
 * Errors of the store layer. They live beside the store rather than in src/errors.ts only because
 * that file is shared; they extend the same SluiceError with stable codes.
 */
import { SluiceError } from '../errors.js';

/**
 * enqueue() was given a record whose id is already stored, or the same id twice in one batch. A
 * programming error upstream (ids are minted once at intake); nothing of the batch was written.
 */
export class DuplicateMessageError extends SluiceError {
  readonly messageId: string;
  constructor(messageId: string) {
    super(
      'SLUICE_ERR_STORE_DUPLICATE',
      `message ${messageId} already exists; enqueue wrote none of the batch`,
    );
    this.messageId = messageId;
  }
}

/** A store argument out of range; the message says what is accepted. */
export class StoreArgumentError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_STORE_ARGUMENT', message);
  }
}

/** Seconds as Redis and the memory store take them: a whole number of at least 1. */
export function ttlSeconds(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new StoreArgumentError(`${name} must be a positive number of seconds, got ${value}`);
  }
  // Redis EX takes whole seconds; rounding up never expires a key earlier than asked.
  return Math.ceil(value);
}
