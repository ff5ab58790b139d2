/**
 * The composition root: builds every part from the configuration, starts them, and stops them in
 * order (stop intake → finish the messages in hand → drain windows and unbind → close the store).
 * The only module that does I/O of its own choosing (files, environment) on behalf of the rest.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { type Clock, systemClock } from './clock.js';
import { embeddedConfig, loadConfigFile } from './config/index.js';
import type { SluiceConfig } from './config/types.js';
import { Dispatcher } from './core/dispatcher.js';
import { Gateway } from './core/gateway.js';
import { InboundHandler } from './core/inbound.js';
import { Intake } from './core/intake.js';
import { OptOutService } from './core/optout-api.js';
import { FlowPolicy, SenderPolicy } from './core/policy.js';
import { ReceiptHandler } from './core/receipts.js';
import { Router } from './core/router.js';
import type { MessageRecord } from './core/types.js';
import { ConfigError, SmppStatusError } from './errors.js';
import { CallbackPoster } from './http/callbacks.js';
import { createHttpServer } from './http/server.js';
import { type Logger, maskNumber } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { TokenLeaser } from './policy/leaser.js';
import { Simulator } from './sim/index.js';
import { CommandStatus, ESM_CLASS_TYPE_MASK, EsmClass, SmppClient } from './smpp/index.js';
import type { AppRequest, Session } from './smpp/session.js';
import { createStore } from './store/index.js';
import { OUTBOX, type Store } from './store/types.js';

/**
 * The configuration to run with: the file's, its ${VAR} references resolved from this process's
 * environment (read here, in the composition root, and nowhere below), or the embedded default.
 */
export function loadConfig(path: string | undefined): SluiceConfig {
  return path ? loadConfigFile(path, process.env) : embeddedConfig();
}

export interface GatewayEvents {
  /** A message took a new status (written to the store first); each transition once per process. */
  status: [record: MessageRecord];
}

export interface GatewayHandle {
  httpPort: number;
  /** Status transitions as they happen in this process: the seed of the event publisher. */
  events: EventEmitter<GatewayEvents>;
  store: Store;
  metrics: Metrics;
  /** Stops everything in order; resolves when done (or the shutdown deadline passed). */
  stop(reason?: string): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  /** The queue consumer name of this process; default host-pid-random. */
  consumer?: string;
  /**
   * Dispatcher tuning: tests shorten the reclaim time of a crashed process's entries below the
   * configuration's whole seconds (queue.reclaimSeconds), and the retry backoff.
   */
  reclaimIdleMs?: number;
  retryInitialMs?: number;
}

export async function startGateway(config: SluiceConfig, options: StartOptions): Promise<GatewayHandle> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const consumer = options.consumer ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  let stopping = false;
  const events = new EventEmitter<GatewayEvents>();
  const onStatus = (record: MessageRecord) => events.emit('status', record);

  // Files first: a missing CA certificate fails the start before anything is opened.
  const cas = new Map(
    config.connectors.flatMap((c) => (c.tls?.ca ? [[c.name, readCa(c.name, c.tls.ca)] as const] : [])),
  );
  // role api: no binds and no dispatchers; role dispatch: no API (README, "Roles").
  const runsApi = config.role !== 'dispatch';
  const runsDispatch = config.role !== 'api';
  if (config.role !== 'all') {
    logger.info(
      { role: config.role },
      runsApi
        ? 'role api: HTTP API only; dispatch processes send the messages'
        : 'role dispatch: connectors only; api processes take the messages',
    );
  }

  const store = createStore(config.store, {
    clock,
    logger,
    ttl: { messageSeconds: config.ttl.messageSeconds },
    claims: runsDispatch,
  });
  if (store.kind === 'memory') {
    logger.warn(
      'memory store: accepted messages live only in this process and are lost if it stops; use Redis in production',
    );
  }

  let simulator: Simulator | null = null;
  if (config.simulator.enabled) {
    const s = config.simulator;
    simulator = new Simulator({
      host: s.host,
      port: s.port,
      accounts: [{ systemId: s.systemId, password: s.password }],
      dlrDelayMs: s.dlrDelayMs,
      logger,
    });
    const { smpp } = await simulator.start();
    logger.info({ host: smpp.address, port: smpp.port }, 'built-in SMSC simulator listening');
  }

  const senders = new Map(config.senders.map((s) => [s.address, s]));
  const senderPolicy = new SenderPolicy(config.senders);
  const leaser = new TokenLeaser({
    store: store.limits,
    clock,
    onError: (err, keys) => logger.warn({ err, keys }, 'rate limits unreachable; waiting'),
  });
  const policy = new FlowPolicy({ config, senders: senderPolicy, optouts: store.optouts, leaser });
  const intake = new Intake({ config, router: new Router(config.routes), now: () => clock.now() });
  // Declared before the connectors, which hand it their MO; built after them (it needs the gateway).
  let inbound: InboundHandler | null = null;
  const clients = new Map<string, SmppClient>();
  const dispatchers: Dispatcher[] = [];
  for (const c of runsDispatch ? config.connectors : []) {
    const client = new SmppClient({
      host: c.host,
      port: c.port,
      ...(c.tls
        ? {
            tls: {
              rejectUnauthorized: c.tls.rejectUnauthorized,
              ...(c.tls.ca ? { ca: cas.get(c.name)! } : {}),
            },
          }
        : {}),
      system_id: c.systemId,
      password: c.password,
      system_type: c.systemType,
      bind: c.bind,
      binds: c.binds,
      session: {
        window: c.window,
        requestTimeoutMs: c.requestTimeoutMs,
        enquireLinkIntervalMs: c.enquireLinkIntervalMs,
      },
      clock,
      logger: logger.child({ connector: c.name }),
    });
    // Every mode's series from the start: a connector that never binds shows 0, and alerts fire.
    for (const [mode, n] of client.configuredBinds) {
      metrics.bindsConfigured.set({ connector: c.name, mode }, n);
      metrics.bindsUp.set({ connector: c.name, mode }, 0);
    }
    // The counters alerts watch, at 0 from the start: increase() sees their first event.
    for (const reason of ['unanswered', 'reclaimed'])
      metrics.duplicateSubmits.inc({ connector: c.name, reason }, 0);
    for (const result of ['matched', 'early', 'not_final', 'unreadable'])
      metrics.receipts.inc({ connector: c.name, result }, 0);
    metrics.partsSubmitted.inc({ connector: c.name, outcome: 'ok' }, 0);
    client.on('bound', ({ mode }) => {
      metrics.bindsUp.inc({ connector: c.name, mode });
      metrics.bindAttempts.inc({ connector: c.name, result: 'bound' });
    });
    client.on('connect_failed', ({ error }) =>
      metrics.bindAttempts.inc({
        connector: c.name,
        result: error instanceof SmppStatusError ? 'refused' : 'failed',
      }),
    );
    client.on('disconnected', ({ mode, reason, retryInMs }) => {
      metrics.bindsUp.dec({ connector: c.name, mode });
      // While stopping, the binds close because sluice unbinds them: no warning, no reconnect.
      if (stopping) logger.info({ connector: c.name, reason }, 'bind closed');
      else logger.warn({ connector: c.name, reason, retryInMs }, 'bind lost; reconnecting');
    });
    const receipts = new ReceiptHandler({
      connector: c.name,
      store,
      clock,
      metrics,
      logger,
      correlationTtlSeconds: config.ttl.correlationSeconds,
      onStatus,
    });
    client.on('request', (pdu, session) =>
      onInbound(pdu, session, receipts, inbound, logger, metrics, c.name),
    );
    clients.set(c.name, client);
    dispatchers.push(
      new Dispatcher({
        connector: c,
        client,
        store,
        receipts,
        senders,
        policy,
        maxParts: config.messages.maxParts,
        correlationTtlSeconds: config.ttl.correlationSeconds,
        consumer,
        clock,
        logger,
        metrics,
        onStatus,
        reclaimIdleMs: options.reclaimIdleMs ?? config.queue.reclaimSeconds * 1000,
        ...(options.retryInitialMs !== undefined ? { retryInitialMs: options.retryInitialMs } : {}),
      }),
    );
  }

  // Status callbacks go out from the processes that dispatch (their events come from every
  // process); none while they are turned off.
  const callbacks =
    runsDispatch && config.callbacks.enabled
      ? new CallbackPoster({
          store,
          config: config.callbacks,
          secrets: new Map(
            config.apiKeys.flatMap((k) => (k.callbackSecret ? [[k.name, k.callbackSecret]] : [])),
          ),
          consumer,
          reclaimIdleMs: options.reclaimIdleMs ?? config.queue.reclaimSeconds * 1000,
          clock,
          logger,
          metrics,
          ...(options.retryInitialMs !== undefined ? { retryInitialMs: options.retryInitialMs } : {}),
        })
      : null;

  const gateway = new Gateway({
    config,
    store,
    intake,
    metrics,
    logger,
    connectorsUp: () => [...clients].filter(([, c]) => c.sessions.length > 0).map(([name]) => name),
    requireBind: runsDispatch,
    onStatus,
    policy,
  });
  inbound = new InboundHandler({
    senders: senderPolicy,
    optouts: store.optouts,
    reply: (from, to, body) => gateway.submitKeywordReply(from, to, body),
    storeReady: () => store.ping(),
    clock,
    logger,
    metrics,
  });
  const http = createHttpServer({
    api: gateway,
    optouts: new OptOutService({ store: store.optouts, senders: config.senders, metrics, clock, logger }),
    apiKeys: config.apiKeys,
    metrics,
    logger,
    config: config.http,
    isShuttingDown: () => stopping,
    serveApi: runsApi,
    // Only api-serving processes on a shared store may share a port (README, "Roles").
    sharePort: runsApi && config.store.kind === 'redis',
  });
  // Gauges read at a steady pace rather than per message; once before the API listens, so that
  // the first scrape already has every connector's series.
  const sample = async () => {
    for (const [name, client] of clients) {
      metrics.windowInFlight.set(
        { connector: name },
        client.sessions.reduce((n, s) => n + s.inFlight, 0),
      );
      const [depth, oldest] = await Promise.all([
        store.queue.depth(name).catch(() => null),
        store.queue.oldest(name).catch(() => undefined),
      ]);
      if (depth !== null) metrics.queueDepth.set({ connector: name }, depth);
      if (oldest !== undefined)
        metrics.queueOldest.set(
          { connector: name },
          oldest === null ? 0 : Math.max(0, clock.now() - oldest) / 1000,
        );
    }
    const callbacksWaiting = await store.queue.depth(OUTBOX).catch(() => null);
    if (callbacksWaiting !== null) metrics.callbacksWaiting.set(callbacksWaiting);
  };
  await sample();
  const sampler = setInterval(() => void sample(), 1_000);
  sampler.unref();

  let stopped: Promise<void> | null = null;
  const stop = (reason = 'stop requested'): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      logger.info({ reason }, 'shutting down');
      clearInterval(sampler);
      const deadline = new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          logger.error(
            { seconds: config.shutdownTimeoutSeconds },
            'shutdown deadline passed; stopping anyway',
          );
          resolve();
        }, config.shutdownTimeoutSeconds * 1000);
        t.unref();
      });
      const orderly = (async () => {
        await http.close();
        await Promise.all([...dispatchers.map((d) => d.stop()), callbacks?.stop()]);
        leaser.close();
        await Promise.all([...clients.values()].map((c) => c.stop()));
        await simulator?.stop();
      })();
      await Promise.race([orderly, deadline]);
      await store.close();
      logger.info('stopped');
    })();
    return stopped;
  };

  // The port first: a process that cannot open it (another holds it alone) stops before it binds
  // to an SMSC or claims an entry from the queue, which would then wait out the reclaim time.
  let httpPort: number;
  try {
    ({ port: httpPort } = await http.listen());
  } catch (err) {
    await stop('the HTTP port cannot be opened');
    throw err;
  }
  for (const client of clients.values()) client.start();
  for (const d of dispatchers) d.start();
  callbacks?.start();
  if (runsDispatch) void reportUnconfiguredQueues(store, new Set(clients.keys()), logger, () => stopping);
  return { httpPort, events, store, metrics, stop };
}

/**
 * Messages queued for a connector that is no longer configured (removed, or renamed) are sent by
 * nobody: they wait until their records lapse. Said at start, at error level, with the fix.
 */
async function reportUnconfiguredQueues(
  store: Store,
  configured: ReadonlySet<string>,
  logger: Logger,
  stopping: () => boolean,
): Promise<void> {
  try {
    for (const [connector, waiting] of await store.queue.waiting()) {
      if (configured.has(connector) || connector === OUTBOX) continue;
      logger.error(
        { connector, waiting },
        'messages are queued for a connector that is not configured: nobody sends them; configure it again under that name to send them',
      );
    }
  } catch (err) {
    // Stopped meanwhile (the store closed under the scan): nothing to say.
    if (!stopping()) logger.warn({ err }, 'could not look for the queues of connectors no longer configured');
  }
}

/** A connector's CA certificate file; a missing or unreadable one is a configuration error naming it. */
function readCa(connector: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`connector '${connector}': tls.ca ${path} cannot be read (${reason})`);
  }
}

/**
 * deliver_sm and data_sm from an SMSC: receipts update their message; MO goes to the keyword handler. Either
 * is answered once what it changed is recorded, and ESME_RX_T_APPN (send it again) when that failed.
 */
function onInbound(
  pdu: AppRequest,
  session: Session,
  receipts: ReceiptHandler,
  inbound: InboundHandler | null,
  logger: Logger,
  metrics: Metrics,
  connector: string,
): void {
  const isReceipt =
    (pdu.command === 'deliver_sm' || pdu.command === 'data_sm') &&
    (pdu.esm_class & ESM_CLASS_TYPE_MASK) === EsmClass.DELIVERY_RECEIPT;
  if (isReceipt) {
    // A data_sm receipt (§4.7.1) says in its TLVs what a deliver_sm's says (its text, if any, in
    // message_payload). Answered only once the receipt is recorded: if that fails the SMSC sends
    // it again.
    receipts.handle(pdu).then(
      () => session.respond(pdu),
      (err: unknown) => {
        logger.error({ err, connector }, 'receipt not recorded; asking the SMSC to retry');
        session.respond(pdu, {}, CommandStatus.ESME_RX_T_APPN);
      },
    );
    return;
  }
  if (pdu.command !== 'deliver_sm' && pdu.command !== 'data_sm') {
    // submit_sm and the rest, from an SMSC: not ours to take; a permanent application error says so.
    session.respond(pdu, {}, CommandStatus.ESME_RX_P_APPN);
    return;
  }
  // MO, as deliver_sm or as data_sm (some SMSCs send MO that way, §4.7): a STOP either way.
  if (inbound === null) {
    // Still starting: the SMSC tries again shortly.
    metrics.inbound.inc({ connector, result: 'retry' });
    session.respond(pdu, {}, CommandStatus.ESME_RX_T_APPN);
    return;
  }
  inbound.handle(pdu, connector).then(
    (outcome) => {
      const result = outcome.kind === 'keyword' ? 'keyword' : outcome.why;
      metrics.inbound.inc({ connector, result });
      // A keyword is logged at info by the handler; the rest only here, at debug.
      if (outcome.kind !== 'keyword') {
        logger.debug(
          { connector, from: maskNumber(pdu.source_addr), to: pdu.destination_addr, result },
          'MO not acted on',
        );
      }
      session.respond(pdu);
    },
    (err: unknown) => {
      metrics.inbound.inc({ connector, result: 'retry' });
      logger.error({ err, connector }, 'MO not handled; asking the SMSC to retry');
      session.respond(pdu, {}, CommandStatus.ESME_RX_T_APPN);
    },
  );
}
