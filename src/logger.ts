import { pino } from 'pino';

export type Logger = pino.Logger;

/** The levels `log.level` and `sluice sim --log-level` accept. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LoggerOptions {
  level?: string;
  name?: string;
}

/** The process logger: JSON lines on stdout. Created once in the composition root and passed down. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({ level: options.level ?? 'info', name: options.name ?? 'sluice' });
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
