import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { createLogger, LOG_LEVELS } from '../logger.js';
import type { IdFormat, ReceiptIdFormat, SimAccount } from '../sim/index.js';
import { Simulator } from '../sim/index.js';
import type { Command } from './main.js';

const USAGE = `usage: sluice sim [options]

Runs an SMSC simulator on sluice's SMPP stack.

  --host HOST                 address to listen on (default 127.0.0.1)
  --port PORT                 SMPP port (default 2775; 0 picks a free one)
  --control-port PORT         line-based control port (default 2776; 0 picks one; --control-port=-1 disables)
  --account ID:PASSWORD       an account that may bind; repeatable (default sluice:sluice)
  --dlr-delay-ms MS           delay before a delivery receipt (default 100)
  --submit-delay-ms MS        delay before a submit_sm is answered (default 0)
  --dlr-fail-fraction F       share of receipts that say UNDELIV, 0..1 (default 0)
  --id-format FMT             message_id in submit_sm_resp: hex | dec | uuid (default hex)
  --receipt-id-format FMT     id in the receipt: hex | dec | same (default same)
  --throttle-fraction F       share of submits answered ESME_RTHROTTLED, 0..1 (default 0)
  --max-submit-rate N         submits per second accepted, 0 for no ceiling (default 0)
  --no-receipt-tlvs           leave receipted_message_id and message_state out of receipts
  --log-level LEVEL           pino level (default warn)

Control port commands: MO [ORDER=n,n,...] <from> <to> <text> | STATS | HELP | QUIT`;

function number(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new ConfigError(`--${name} must be a number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  fallback: T,
  allowed: readonly T[],
): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

function account(spec: string): SimAccount {
  const colon = spec.indexOf(':');
  if (colon <= 0) throw new ConfigError(`--account must be SYSTEM_ID:PASSWORD, got '${spec}'`);
  const systemId = spec.slice(0, colon);
  const password = spec.slice(colon + 1);
  // C-Octet String limits of bind_* (§4.1.1): system_id 15 characters, password 8.
  if (systemId.length > 15)
    throw new ConfigError(`--account system_id is at most 15 characters: '${systemId}'`);
  if (password.length > 8)
    throw new ConfigError(`--account password is at most 8 characters for '${systemId}'`);
  return { systemId, password };
}

export const command: Command = {
  summary: 'run the SMSC simulator',
  async run(argv) {
    let values: Record<string, string | boolean | string[] | undefined>;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          host: { type: 'string' },
          port: { type: 'string' },
          'control-port': { type: 'string' },
          account: { type: 'string', multiple: true },
          'dlr-delay-ms': { type: 'string' },
          'submit-delay-ms': { type: 'string' },
          'dlr-fail-fraction': { type: 'string' },
          'id-format': { type: 'string' },
          'receipt-id-format': { type: 'string' },
          'throttle-fraction': { type: 'string' },
          'max-submit-rate': { type: 'string' },
          'no-receipt-tlvs': { type: 'boolean' },
          'log-level': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      }));
    } catch (err) {
      console.error(`sluice sim: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    let sim: Simulator;
    try {
      const str = (k: string) => values[k] as string | undefined;
      const controlPort = number('control-port', str('control-port'), 2776, -1, 65535);
      const accounts = ((values.account as string[] | undefined) ?? ['sluice:sluice']).map(account);
      sim = new Simulator({
        host: str('host') ?? '127.0.0.1',
        port: number('port', str('port'), 2775, 0, 65535),
        controlPort: controlPort === -1 ? null : controlPort,
        accounts,
        dlrDelayMs: number('dlr-delay-ms', str('dlr-delay-ms'), 100, 0, 86_400_000),
        submitDelayMs: number('submit-delay-ms', str('submit-delay-ms'), 0, 0, 3_600_000),
        dlrFailFraction: number('dlr-fail-fraction', str('dlr-fail-fraction'), 0, 0, 1),
        idFormat: oneOf<IdFormat>('id-format', str('id-format'), 'hex', ['hex', 'dec', 'uuid']),
        receiptIdFormat: oneOf<ReceiptIdFormat>('receipt-id-format', str('receipt-id-format'), 'same', [
          'hex',
          'dec',
          'same',
        ]),
        throttleFraction: number('throttle-fraction', str('throttle-fraction'), 0, 0, 1),
        maxSubmitRate: number('max-submit-rate', str('max-submit-rate'), 0, 0, 10_000_000),
        receiptTlvs: !values['no-receipt-tlvs'],
        logger: createLogger({
          level: oneOf('log-level', str('log-level'), 'warn', LOG_LEVELS),
          name: 'sluice-sim',
        }),
      });
    } catch (err) {
      console.error(`sluice sim: ${(err as Error).message}`);
      return 2;
    }
    const { smpp, control } = await sim.start();
    const ids = (values.account as string[] | undefined)?.map((a) => a.split(':')[0]);
    console.log(
      `sluice sim: SMPP on ${smpp.address}:${smpp.port} (accounts: ${(ids ?? ['sluice']).join(', ')})` +
        (control ? `, control on ${control.address}:${control.port}` : ''),
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await sim.stop();
    return 0;
  },
};
