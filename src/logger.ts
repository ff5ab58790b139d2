import { pino } from 'pino';

export type Logger = pino.Logger;

/** The levels `log.level` and `sluice sim --log-level` accept. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LoggerOptions {
  level?: string;
  name?: string;
}

/**
 * The process logger: JSON lines on stdout (or `destination`). Created once in the composition
 * root and passed down.
 */
export function createLogger(options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level ?? 'info',
    name: options.name ?? 'sluice',
    serializers: { err: serializeError },
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/**
 * pino's error serializer, less what an error carries that must never reach a log: an ioredis
 * error holds the command it failed on with its arguments, and those are AUTH's password, or a
 * script's arguments (message records, with their text and numbers). The command's name stays.
 */
export function serializeError(err: Error): pino.SerializedError {
  const out = pino.stdSerializers.err(err);
  const command = (out as { command?: unknown }).command;
  if (command !== undefined && command !== null && typeof command === 'object') {
    const name = (command as { name?: unknown }).name;
    (out as { command?: unknown }).command = { name: typeof name === 'string' ? name : '?' };
  }
  return out;
}

/** A logger that drops everything: the default for library classes built without one. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * A phone number as it may appear in logs at info level: country code and last two digits only
 * (+4479******12). Full numbers belong at debug level at most.
 */
export function maskNumber(number: string): string {
  if (number.length <= 6) return '*'.repeat(number.length);
  return number.slice(0, 4) + '*'.repeat(number.length - 6) + number.slice(-2);
}
