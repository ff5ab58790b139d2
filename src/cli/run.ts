import { parseArgs } from 'node:util';
import { isHost } from '../config/index.js';
import { PROCESS_ROLES, roleStoreProblem, type SluiceConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../logger.js';
import { loadConfig, startGateway } from '../main.js';
import type { Command } from './main.js';

const USAGE = `usage: sluice run [--config FILE] [--http-host HOST] [--http-port PORT] [--role all|api|dispatch]

Runs the gateway. Without --config it runs the embedded default: an in-memory store, the built-in
SMSC simulator as its only connector, and the HTTP API on 127.0.0.1:8080 with the API key 'dev-key'.
The configuration reference is config/sluice.example.yaml. --http-host and --http-port override
http.host and http.port (a container listens on 0.0.0.0). --role overrides role: all runs everything;
api only the HTTP API; dispatch only the connectors (its HTTP port serves /healthz, /readyz and
/metrics). api and dispatch processes need store kind: redis, which they share.`;

export const command: Command = {
  summary: 'run the gateway',
  async run(argv) {
    let values: {
      config?: string | undefined;
      'http-host'?: string | undefined;
      'http-port'?: string | undefined;
      role?: string | undefined;
      help?: boolean | undefined;
    };
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          config: { type: 'string', short: 'c' },
          'http-host': { type: 'string' },
          'http-port': { type: 'string' },
          role: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      }));
    } catch (err) {
      console.error(`sluice run: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    // An empty --config (an unset "$CONFIG") must not fall back to the embedded dev setup.
    if (values.config === '') {
      console.error(`sluice run: --config needs a file path, got ''\n\n${USAGE}`);
      return 2;
    }
    const httpHost = values['http-host'];
    if (httpHost !== undefined && !isHost(httpHost)) {
      console.error(`sluice run: --http-host must be a host name or IP address, got '${httpHost}'`);
      return 2;
    }
    let config: SluiceConfig;
    try {
      config = loadConfig(values.config);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`sluice run: invalid configuration\n${err.message}`);
        return 2;
      }
      throw err;
    }
    if (httpHost !== undefined) config.http.host = httpHost;
    if (values['http-port'] !== undefined) {
      // Digits only: Number('') is 0 (a random port), and '0x4E20' and '1e4' are numbers too.
      const port = /^[0-9]{1,5}$/.test(values['http-port']) ? Number(values['http-port']) : Number.NaN;
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        console.error(`sluice run: --http-port must be an integer 0..65535, got '${values['http-port']}'`);
        return 2;
      }
      config.http.port = port;
    }
    if (values.role !== undefined) {
      const role = PROCESS_ROLES.find((r) => r === values.role);
      if (role === undefined) {
        console.error(`sluice run: --role must be one of ${PROCESS_ROLES.join(', ')}, got '${values.role}'`);
        return 2;
      }
      const problem = roleStoreProblem(role, config.store);
      if (problem !== null) {
        console.error(`sluice run: --role ${problem}`);
        return 2;
      }
      config.role = role;
    }
    const logger = createLogger({ level: config.log.level });
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    try {
      gateway = await startGateway(config, { logger });
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`sluice run: invalid configuration\n${err.message}`);
        return 2;
      }
      throw err;
    }
    // Listening on every interface: show the loopback address, which a curl on this host reaches.
    const host = ['0.0.0.0', '::', '[::]'].includes(config.http.host) ? '127.0.0.1' : config.http.host;
    const base = `http://${host}:${gateway.httpPort}`;
    const dev = config.apiKeys.find((k) => k.key === 'dev-key');
    if (dev && config.simulator.enabled) {
      const from = config.senders[0]?.address ?? '12345';
      console.error(
        [
          '',
          `sluice is running: HTTP API on ${base}, messages go to the built-in SMSC simulator.`,
          'Send one:',
          `  curl -s ${base}/v1/messages -H 'Authorization: Bearer dev-key' -H 'Content-Type: application/json' \\`,
          `    -d '{"from":"${from}","to":"+447700900123","body":"Hello from sluice"}'`,
          'Then ask for its status:',
          `  curl -s ${base}/v1/messages/<id> -H 'Authorization: Bearer dev-key'`,
          '',
        ].join('\n'),
      );
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await gateway.stop('signal');
    return 0;
  },
};
