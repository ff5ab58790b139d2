/**
 * The validated configuration: what `loadConfig` returns after parsing YAML, resolving ${VAR}
 * references and applying defaults. Every field is present; nothing below main.ts reads the
 * environment.
 */

import type { QuietHours } from '../policy/quiet-hours.js';

export type SegmentModeName = 'udh8' | 'udh16' | 'sar' | 'payload';
export type BindPlanName = 'transceiver' | 'transmitter' | 'receiver' | 'transmitter+receiver';
export type SenderType = 'shortcode' | 'longcode' | 'tollfree' | 'alphanumeric';

export interface HttpConfig {
  host: string;
  port: number;
  /** Largest request body accepted; larger is 413. */
  maxBodyBytes: number;
}

/** store.commandTimeoutMs when the configuration names none (and RedisStore's own default). */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 5_000;

/** The longest validity a message may have (30 days): a request's validitySeconds, the config's default. */
export const MAX_VALIDITY_SECONDS = 2_592_000;

export type StoreConfig =
  | { kind: 'memory' }
  | {
      kind: 'redis';
      url: string;
      keyPrefix: string;
      /** How long a Redis command may go unanswered before it fails (and the request with a 503). */
      commandTimeoutMs: number;
    };

export interface ConnectorConfig {
  name: string;
  host: string;
  port: number;
  /** null: plain TCP. */
  tls: { ca: string | null; rejectUnauthorized: boolean } | null;
  systemId: string;
  password: string;
  systemType: string;
  bind: BindPlanName;
  binds: number;
  window: number;
  /** Submits per second across the connector's binds (the carrier's TPS); 0 = no ceiling. */
  tps: number;
  concatenation: SegmentModeName;
  source: { ton: number; npi: number };
  destination: { ton: number; npi: number };
  registeredDelivery: boolean;
  requestTimeoutMs: number;
  enquireLinkIntervalMs: number;
}

export interface RouteConfig {
  connector: string;
  /** Sender addresses this route takes; an empty list takes every sender. */
  senders: string[];
  /** Destination prefixes (E.164 digits, no '+'); an empty list takes every destination. */
  prefixes: string[];
}

export type OptOutScopeName = 'sender' | 'program' | 'global';

/**
 * A daily window of the recipient's local time in which messages may be sent: start and end as
 * 'HH:MM' (end earlier than start spans midnight), optionally only on some weekdays.
 */
export type QuietHoursConfig = QuietHours;

export interface KeywordsConfig {
  /** Added to the standard opt-out keywords (STOP, UNSUBSCRIBE, …), e.g. localised ones. */
  optOut: string[];
  optIn: string[];
  help: string[];
  /** Keyword → the reply it gets (no opt-out or opt-in effect). */
  custom: Record<string, string>;
}

export interface RepliesConfig {
  /** null: the carrier-style default. `{program}` is replaced by the program (or sender) name. */
  optOut: string | null;
  optIn: string | null;
  help: string | null;
}

export interface SenderConfig {
  address: string;
  type: SenderType;
  smartEncoding: boolean;
  /** National shift tables allowed for this sender's messages. */
  nationalLanguages: Array<'turkish' | 'spanish' | 'portuguese'>;
  /** The program (a named group of senders) this sender belongs to; null: none. */
  program: string | null;
  /** Where an opt-out by keyword to this sender is recorded, and so which senders it silences. */
  optOutScope: OptOutScopeName;
  /** Parts per second the carrier allows this sender, across every instance; 0: no limit. */
  rateLimit: number;
  /** Parts that may go at once above the steady rate. */
  rateBurst: number;
  /** A message waiting for the rate limit longer than this expires. */
  maxQueueAgeSeconds: number;
  /** null: messages go at any hour. */
  quietHours: QuietHoursConfig | null;
  keywords: KeywordsConfig;
  replies: RepliesConfig;
}

export interface ApiKeyConfig {
  name: string;
  key: string;
  /** Sender addresses this key may use; ['*'] for all configured senders. */
  senders: string[];
  /** Messages per second this key may submit, across every instance; 0: no limit. */
  rateLimit: number;
  rateBurst: number;
  /**
   * The key that signs the status callbacks of this key's messages (HMAC-SHA256, header
   * Sluice-Signature), so their receiver can tell them from forgeries; null: unsigned.
   */
  callbackSecret: string | null;
}

/** Status callbacks: POSTs to a message's callbackUrl when it is sent and when it ends. */
export interface CallbacksConfig {
  /** false: a request naming a callbackUrl is refused (422), and sluice posts nothing. */
  enabled: boolean;
  /** How long a POST may take to be answered before it counts as failed and is tried again. */
  timeoutMs: number;
  /** POSTs in flight at once, per dispatching process. */
  concurrency: number;
  /** An event still not taken this long after its transition is dropped (logged and counted). */
  maxAgeSeconds: number;
}

export interface SimulatorConfig {
  /** Start the built-in SMSC simulator in-process (the embedded default does). */
  enabled: boolean;
  host: string;
  port: number;
  systemId: string;
  password: string;
  dlrDelayMs: number;
}

/**
 * What one process runs: everything (the default), only the HTTP API (intake, status, opt-outs,
 * metrics), or only the connectors (binds, dispatchers, receipts, keywords; its HTTP port serves
 * /healthz, /readyz and /metrics). api and dispatch processes share their queue through Redis.
 */
export const PROCESS_ROLES = ['all', 'api', 'dispatch'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];

/** Why this role cannot run on this store, or null when it can. */
export function roleStoreProblem(role: ProcessRole, store: StoreConfig): string | null {
  if (role === 'all' || store.kind === 'redis') return null;
  return `'${role}' needs store kind: redis (api and dispatch processes share their queue through it; a memory store is one process's own)`;
}

export interface SluiceConfig {
  /** What this process runs; `sluice run --role` overrides it. */
  role: ProcessRole;
  http: HttpConfig;
  store: StoreConfig;
  connectors: ConnectorConfig[];
  /** Ordered: first match wins; the last route has no filters (the default route). */
  routes: RouteConfig[];
  senders: SenderConfig[];
  apiKeys: ApiKeyConfig[];
  messages: {
    /** Validity when the request gives none. */
    defaultValiditySeconds: number;
    maxParts: number;
  };
  queue: {
    /**
     * Seconds a queue entry handed out may go unacknowledged before another process takes it
     * over (its holder died). A live holder keeps its entries every third of this time.
     */
    reclaimSeconds: number;
  };
  callbacks: CallbacksConfig;
  ttl: {
    /** How long a message record is kept after it was created. */
    messageSeconds: number;
    /** SMSC id → part correlation, and early receipts. */
    correlationSeconds: number;
    idempotencySeconds: number;
  };
  simulator: SimulatorConfig;
  log: { level: string };
  /** Seconds the shutdown may take before the process exits anyway. */
  shutdownTimeoutSeconds: number;
}
