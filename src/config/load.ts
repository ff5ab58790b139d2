/**
 * Loading the YAML configuration: parse, resolve ${VAR} references from the environment it is
 * given, check every setting, apply defaults. Every problem in the file is reported at once, each
 * with its key path, in one ConfigError. config/sluice.example.yaml documents each key and default.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { LOG_LEVELS } from '../logger.js';
import { keywordConfigErrors } from '../policy/keywords.js';
import { parseQuietHours, QuietHoursError } from '../policy/quiet-hours.js';
import { interpolate } from './interpolate.js';
import { Checker, type Item, isMapping, Section } from './reader.js';
import type {
  ApiKeyConfig,
  BindPlanName,
  CallbacksConfig,
  ConnectorConfig,
  HttpConfig,
  KeywordsConfig,
  OptOutScopeName,
  QuietHoursConfig,
  RepliesConfig,
  RouteConfig,
  SegmentModeName,
  SenderConfig,
  SenderType,
  SimulatorConfig,
  SluiceConfig,
  StoreConfig,
} from './types.js';
import {
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  MAX_VALIDITY_SECONDS,
  PROCESS_ROLES,
  roleStoreProblem,
} from './types.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The keys of T, written out so that the compiler notices a key missing from a list or a stray one. */
function keysOf<T>(keys: Record<keyof T, true>): string[] {
  return Object.keys(keys);
}

const TOP_KEYS = keysOf<SluiceConfig>({
  role: true,
  http: true,
  store: true,
  connectors: true,
  routes: true,
  senders: true,
  apiKeys: true,
  messages: true,
  queue: true,
  callbacks: true,
  ttl: true,
  simulator: true,
  log: true,
  shutdownTimeoutSeconds: true,
});
const HTTP_KEYS = keysOf<HttpConfig>({ host: true, port: true, maxBodyBytes: true });
const CONNECTOR_KEYS = keysOf<ConnectorConfig>({
  name: true,
  host: true,
  port: true,
  tls: true,
  systemId: true,
  password: true,
  systemType: true,
  bind: true,
  binds: true,
  window: true,
  tps: true,
  concatenation: true,
  source: true,
  destination: true,
  registeredDelivery: true,
  requestTimeoutMs: true,
  enquireLinkIntervalMs: true,
});
const TLS_KEYS = keysOf<NonNullable<ConnectorConfig['tls']>>({ ca: true, rejectUnauthorized: true });
const ADDRESS_KEYS = keysOf<ConnectorConfig['source']>({ ton: true, npi: true });
const ROUTE_KEYS = keysOf<RouteConfig>({ connector: true, senders: true, prefixes: true });
const SENDER_KEYS = keysOf<SenderConfig>({
  address: true,
  type: true,
  smartEncoding: true,
  nationalLanguages: true,
  program: true,
  optOutScope: true,
  rateLimit: true,
  rateBurst: true,
  maxQueueAgeSeconds: true,
  quietHours: true,
  keywords: true,
  replies: true,
});
const KEYWORDS_KEYS = keysOf<KeywordsConfig>({ optOut: true, optIn: true, help: true, custom: true });
const REPLIES_KEYS = keysOf<RepliesConfig>({ optOut: true, optIn: true, help: true });
const API_KEY_KEYS = keysOf<ApiKeyConfig>({
  name: true,
  key: true,
  senders: true,
  rateLimit: true,
  rateBurst: true,
  callbackSecret: true,
});
const MESSAGES_KEYS = keysOf<SluiceConfig['messages']>({ defaultValiditySeconds: true, maxParts: true });
const QUEUE_KEYS = keysOf<SluiceConfig['queue']>({ reclaimSeconds: true });
const CALLBACKS_KEYS = keysOf<CallbacksConfig>({
  enabled: true,
  timeoutMs: true,
  concurrency: true,
  maxAgeSeconds: true,
});
const TTL_KEYS = keysOf<SluiceConfig['ttl']>({
  messageSeconds: true,
  correlationSeconds: true,
  idempotencySeconds: true,
});
const SIMULATOR_KEYS = keysOf<SimulatorConfig>({
  enabled: true,
  host: true,
  port: true,
  systemId: true,
  password: true,
  dlrDelayMs: true,
});
const LOG_KEYS = keysOf<SluiceConfig['log']>({ level: true });

const SEGMENT_MODES: readonly SegmentModeName[] = ['udh8', 'udh16', 'sar', 'payload'];
const BIND_PLANS: readonly BindPlanName[] = [
  'transceiver',
  'transmitter',
  'receiver',
  'transmitter+receiver',
];
const SENDER_TYPES: readonly SenderType[] = ['shortcode', 'longcode', 'tollfree', 'alphanumeric'];
const NATIONAL_LANGUAGES: readonly SenderConfig['nationalLanguages'][number][] = [
  'turkish',
  'spanish',
  'portuguese',
];
const OPT_OUT_SCOPES: readonly OptOutScopeName[] = ['sender', 'program', 'global'];
/**
 * Parts per second carriers allow a sender of each type (US figures: short code 100, toll-free 3,
 * long code 1). Alphanumeric senders have no common figure: the connector's tps is their limit.
 */
const SENDER_RATE_DEFAULTS: Readonly<Record<SenderType, number>> = {
  shortcode: 100,
  tollfree: 3,
  longcode: 1,
  alphanumeric: 0,
};
/** SMPP v3.4 §5.2.5: the numbering plans it defines. */
const NPI_VALUES = [0, 1, 3, 4, 6, 8, 9, 10, 14, 18];

const KIB = 1024;
const MIB = 1024 * KIB;
/** API keys shorter than this are guessable; only dev mode (memory store + simulator) allows them. */
const MIN_API_KEY_LENGTH = 16;

/** Names label logs and metrics, so they stay short and free of spaces and quotes. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_RULE = "1..64 letters, digits, '.', '_' or '-', starting with a letter or digit";
/** Host names and IP literals: anything without whitespace; the resolver has the last word. */
const HOST = /^\S+$/;
/** Rates (parts or messages per second) the limiter can hold: far above any carrier's. */
const MAX_RATE = 1_000_000;
/** Bursts: whole tokens the limiter counts exactly. */
const MAX_BURST = 1_000_000_000;

/** Whether `value` is acceptable as a host (http.host, a connector's host, sluice run --http-host). */
export function isHost(value: string): boolean {
  return HOST.test(value);
}
/** SMPP C-Octet Strings carry ASCII; a multi-byte character would break the octet limits. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Sent in an HTTP header, where spaces and control characters do not survive. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
/** Characters an alphanumeric sender id keeps across networks: GSM 03.38 positions equal to ASCII. */
const ALPHANUMERIC_SENDER = /^[A-Za-z0-9 .&-]{1,11}$/;

/** Turns a parsed (or built) configuration tree into a SluiceConfig, or throws every problem. */
export function checkConfig(value: unknown, env: Env, source: string): SluiceConfig {
  const resolved = interpolate(value, env);
  const checker = new Checker(resolved.fromEnv, resolved.unresolved);
  const config = readConfig(checker, resolved.value);
  const problems = [...resolved.problems, ...checker.problems];
  if (problems.length > 0) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    throw new ConfigError(
      `${source}: ${count} in the configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
  return config;
}

/** Parses and checks YAML text; `source` names it in messages (a file path, or '<config>'). */
export function parseConfig(yamlText: string, env: Env, source = '<config>'): SluiceConfig {
  const lineCounter = new LineCounter();
  // failsafe + null: a plain ~, null or empty value is null, every other scalar a string that the
  // reads convert (see reader.ts); a quoted 'null' stays text. prettyErrors off: the pretty form
  // quotes the offending source line, which may hold a password.
  const doc = parseDocument(yamlText, {
    schema: 'failsafe',
    customTags: ['null'],
    merge: true,
    prettyErrors: false,
    lineCounter,
  });
  // An unknown tag (`password: !Pw1x`, unquoted) would be dropped and its value read as empty:
  // an error, told by position only (the tag may be the secret itself).
  const unknownTags = doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (doc.errors.length > 0 || unknownTags.length > 0) {
    const at = (pos: number) => {
      const { line, col } = lineCounter.linePos(pos);
      return `line ${line}, column ${col}`;
    };
    const lines = [
      ...doc.errors.map((e) => `  - ${at(e.pos[0])}: ${e.message}`),
      ...unknownTags.map(
        (w) => `  - ${at(w.pos[0])}: a YAML tag sluice does not know (quote a value that starts with '!')`,
      ),
    ];
    throw new ConfigError(`${source}: not valid YAML:\n${lines.join('\n')}`);
  }
  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // toJS throws only when aliases expand beyond maxAliasCount (a "billion laughs" document).
    throw new ConfigError(`${source}: not usable YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  return checkConfig(tree, env, source);
}

/** Reads and checks a configuration file; messages name the file. */
export function loadConfigFile(path: string, env: Env): SluiceConfig {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ConfigError(
      `cannot read the configuration file ${path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  let text: string;
  try {
    // Strict: a Latin-1 or UTF-16 file read as UTF-8 would turn its accents into U+FFFD, which
    // keyword replies would then send to subscribers.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError(`${path}: not UTF-8 text; save the configuration as UTF-8`);
  }
  return parseConfig(text, env, path);
}

/**
 * The configuration `sluice run` uses without a file: everything on localhost, messages in memory,
 * the built-in simulator as the only SMSC. config/sluice.dev.yaml is the same, written out.
 */
export function embeddedConfig(): SluiceConfig {
  // A tree as a file would give it: the settings left out take their defaults in checkConfig.
  const config = {
    role: 'all',
    http: { host: '127.0.0.1', port: 8080, maxBodyBytes: MIB },
    store: { kind: 'memory' },
    connectors: [
      {
        name: 'sim',
        host: '127.0.0.1',
        port: 2775,
        tls: null,
        systemId: 'sluice',
        password: 'sluice',
        systemType: '',
        bind: 'transceiver',
        binds: 1,
        window: 100,
        tps: 0,
        concatenation: 'udh8',
        source: { ton: 1, npi: 1 },
        destination: { ton: 1, npi: 1 },
        registeredDelivery: true,
        requestTimeoutMs: 10_000,
        enquireLinkIntervalMs: 30_000,
      },
    ],
    routes: [{ connector: 'sim', senders: [], prefixes: [] }],
    senders: [
      { address: '12345', type: 'shortcode' },
      { address: 'sluice', type: 'alphanumeric' },
    ],
    apiKeys: [{ name: 'dev', key: 'dev-key', senders: ['*'] }],
    messages: { defaultValiditySeconds: 172_800, maxParts: 10 },
    queue: { reclaimSeconds: 30 },
    ttl: { messageSeconds: 604_800, correlationSeconds: 259_200, idempotencySeconds: 86_400 },
    simulator: {
      enabled: true,
      host: '127.0.0.1',
      port: 2775,
      systemId: 'sluice',
      password: 'sluice',
      dlrDelayMs: 100,
    },
    log: { level: 'info' },
    shutdownTimeoutSeconds: 20,
  };
  // Through the same checks as a file: the default must never be a configuration we would reject.
  return checkConfig(config, {}, '<embedded default>');
}

// ---------------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------------

function readConfig(c: Checker, value: unknown): SluiceConfig {
  // An empty file reads as {}: the complaints about what is missing say more than "empty".
  const root = value === undefined || value === null ? {} : value;
  if (!isMapping(root)) {
    c.report(
      '',
      `the configuration must be a mapping of settings (${TOP_KEYS.join(', ')}), ${c.got('', root)}`,
    );
  }
  // Top-level keys starting with 'x-' are ignored so that YAML anchors (&defaults) have a home.
  const top = isMapping(root)
    ? c.section('', root, TOP_KEYS, { ignoreKey: (k) => k.startsWith('x-') })
    : new Section(c, '', {}, false);
  const role = top.oneOf('role', PROCESS_ROLES, 'all');
  const http = readHttp(top.section('http', HTTP_KEYS));
  const store = readStore(c, top);
  const roleProblem = roleStoreProblem(role, store);
  if (roleProblem !== null) c.report('role', roleProblem);
  const simulator = readSimulator(top.section('simulator', SIMULATOR_KEYS));
  const connectors = readConnectors(c, top);
  const senders = readSenders(c, top);
  const routes = readRoutes(c, top, connectors, senders);
  const devMode = store.kind === 'memory' && simulator.enabled;
  const apiKeys = readApiKeys(c, top, senders, devMode);

  const messages = top.section('messages', MESSAGES_KEYS);
  const queue = top.section('queue', QUEUE_KEYS);
  const reclaimSeconds = queue.integer('reclaimSeconds', 1, 3600, 30);
  const ttl = top.section('ttl', TTL_KEYS);
  const log = top.section('log', LOG_KEYS);
  const max = Number.POSITIVE_INFINITY;
  return {
    role,
    http,
    store,
    connectors: connectors.list,
    routes,
    senders: senders.list,
    apiKeys,
    messages: {
      defaultValiditySeconds: messages.integer('defaultValiditySeconds', 1, MAX_VALIDITY_SECONDS, 172_800),
      // 255: the concatenation headers count parts in one octet.
      maxParts: messages.integer('maxParts', 1, 255, 10),
    },
    queue: { reclaimSeconds },
    callbacks: readCallbacks(top.section('callbacks', CALLBACKS_KEYS), reclaimSeconds),
    ttl: {
      messageSeconds: ttl.integer('messageSeconds', 1, max, 604_800),
      correlationSeconds: ttl.integer('correlationSeconds', 1, max, 259_200),
      idempotencySeconds: ttl.integer('idempotencySeconds', 1, max, 86_400),
    },
    simulator,
    log: { level: log.oneOf('level', LOG_LEVELS, 'info') },
    shutdownTimeoutSeconds: top.integer('shutdownTimeoutSeconds', 1, 3600, 20),
  };
}

function readCallbacks(s: Section, reclaimSeconds: number): CallbacksConfig {
  // A POST outlasting the reclaim time would see its event taken over, and posted again, by
  // another process while it still waits: a third of it, as the dispatchers keep their entries.
  const longest = Math.max(1, Math.floor((reclaimSeconds * 1000) / 3));
  return {
    enabled: s.boolean('enabled', true),
    timeoutMs: s.integer('timeoutMs', 1, longest, Math.min(5_000, longest)),
    concurrency: s.integer('concurrency', 1, 1_000, 32),
    maxAgeSeconds: s.integer('maxAgeSeconds', 1, MAX_VALIDITY_SECONDS, 86_400),
  };
}

function readHttp(s: Section): HttpConfig {
  return {
    host: host(s, '127.0.0.1'),
    port: s.integer('port', 0, 65_535, 8080),
    // At least 1 KiB: smaller would refuse a single ordinary message. At most 64 MiB: the batch
    // endpoint takes 1,000 messages, and a body is held in memory whole while it is parsed.
    maxBodyBytes: s.integer('maxBodyBytes', KIB, 64 * MIB, MIB),
  };
}

function readStore(c: Checker, top: Section): StoreConfig {
  const s = top.section('store', ['kind', 'url', 'keyPrefix', 'commandTimeoutMs']);
  const mark = c.mark();
  const kind = s.oneOf('kind', ['memory', 'redis'], 'memory');
  // An unknown kind is the one problem worth reporting here; the placeholder is never returned.
  if (!c.cleanSince(mark)) return { kind: 'memory' };
  if (kind === 'memory') {
    for (const key of ['url', 'keyPrefix', 'commandTimeoutMs']) {
      if (s.raw(key) !== undefined)
        c.report(s.pathOf(key), 'applies only to kind: redis (this store is kind: memory)');
    }
    return { kind };
  }
  const url = s.string('url', 'a redis:// or rediss:// URL');
  // Never shown: a Redis URL carries its password.
  if (typeof s.raw('url') === 'string' && !isRedisUrl(url))
    s.fail('url', 'must be a redis:// or rediss:// URL', { secret: true });
  return {
    kind,
    url,
    keyPrefix: s.string('keyPrefix', 'a string', 'sluice:'),
    commandTimeoutMs: s.integer('commandTimeoutMs', 100, 60_000, DEFAULT_REDIS_COMMAND_TIMEOUT_MS),
  };
}

function isRedisUrl(url: string): boolean {
  if (!/^rediss?:\/\//.test(url)) return false;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

function readSimulator(s: Section): SimulatorConfig {
  return {
    enabled: s.boolean('enabled', false),
    host: host(s, '127.0.0.1'),
    port: s.integer('port', 0, 65_535, 2775),
    systemId: smppString(s, 'systemId', 15, 'sluice', { nonEmpty: true }),
    password: smppString(s, 'password', 8, 'sluice', { secret: true }),
    dlrDelayMs: s.integer('dlrDelayMs', 0, 3_600_000, 100),
  };
}

interface Named<T> {
  list: T[];
  /**
   * Every name (address) declared, for cross-references, including those with problems of their
   * own: a route naming a misspelt connector's name should not be a second complaint.
   */
  known: string[];
}

function readConnectors(c: Checker, top: Section): Named<ConnectorConfig> {
  const out: Named<ConnectorConfig> = { list: [], known: [] };
  const firstUse = new Map<string, string>();
  for (const item of top.list('connectors', { required: 'must list at least one connector' })) {
    const s = c.section(item.path, item.value, CONNECTOR_KEYS, { item: true });
    const name = s.string('name', NAME_RULE);
    const declared = typeof s.raw('name') === 'string';
    if (declared && !NAME.test(name)) s.fail('name', `must be ${NAME_RULE}`);
    else if (declared) unique(c, firstUse, s.pathOf('name'), name, 'connector name');
    out.list.push({
      name,
      host: host(s),
      port: s.integer('port', 0, 65_535, 2775),
      tls: readTls(s),
      systemId: smppString(s, 'systemId', 15, undefined, { nonEmpty: true }),
      password: smppString(s, 'password', 8, undefined, { secret: true }),
      systemType: smppString(s, 'systemType', 12, ''),
      bind: s.oneOf('bind', BIND_PLANS, 'transceiver'),
      binds: s.integer('binds', 1, 64, 1),
      window: s.integer('window', 1, 10_000, 10),
      tps: s.number('tps', 0, 0, MAX_RATE),
      concatenation: s.oneOf('concatenation', SEGMENT_MODES, 'udh8'),
      source: readAddress(s.section('source', ADDRESS_KEYS)),
      destination: readAddress(s.section('destination', ADDRESS_KEYS)),
      registeredDelivery: s.boolean('registeredDelivery', true),
      // Same ranges as SmppSession's options.
      requestTimeoutMs: s.integer('requestTimeoutMs', 1, 3_600_000, 10_000),
      enquireLinkIntervalMs: s.integer('enquireLinkIntervalMs', 0, 86_400_000, 30_000),
    });
    if (declared && !out.known.includes(name)) out.known.push(name);
  }
  return out;
}

/** `tls: true` is TLS with the system's CAs; `false` or null is plain TCP; a mapping sets the details. */
function readTls(s: Section): ConnectorConfig['tls'] {
  const raw = s.raw('tls');
  if (raw === true || raw === 'true' || raw === 'True' || raw === 'TRUE')
    return { ca: null, rejectUnauthorized: true };
  if (!s.has('tls') || raw === false || raw === 'false' || raw === 'False' || raw === 'FALSE') return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    s.fail('tls', 'must be true, false or a mapping with ca and rejectUnauthorized');
    return null;
  }
  const t = s.section('tls', TLS_KEYS);
  return {
    ca: t.nullableString('ca', 'the path of a PEM file'),
    rejectUnauthorized: t.boolean('rejectUnauthorized', true),
  };
}

function readAddress(s: Section): { ton: number; npi: number } {
  return {
    // SMPP v3.4 §5.2.5: TON 0..6; 1/1 (international, E.164) is what carriers expect for numbers.
    ton: s.integer('ton', 0, 6, 1),
    npi: s.integerIn('npi', NPI_VALUES, 1),
  };
}

function readSenders(c: Checker, top: Section): Named<SenderConfig> {
  const out: Named<SenderConfig> = { list: [], known: [] };
  const firstUse = new Map<string, string>();
  for (const item of top.list('senders', { required: 'must list at least one sender' })) {
    const s = c.section(item.path, item.value, SENDER_KEYS, { item: true });
    const mark = c.mark();
    const type = s.oneOf('type', SENDER_TYPES);
    const address = s.string('address', 'a sender address');
    const declared = typeof s.raw('address') === 'string';
    // The address rules depend on the type: without a valid type there is nothing to check against.
    if (declared && c.cleanSince(mark)) checkSenderAddress(s, type, address);
    if (declared) unique(c, firstUse, s.pathOf('address'), address, 'sender address');
    const languages: SenderConfig['nationalLanguages'] = [];
    for (const lang of s.list('nationalLanguages')) {
      const found = NATIONAL_LANGUAGES.find((l) => l === lang.value);
      if (found === undefined) {
        c.report(
          lang.path,
          `must be one of ${NATIONAL_LANGUAGES.join(', ')}, ${c.got(lang.path, lang.value)}`,
        );
      } else if (!languages.includes(found)) {
        languages.push(found);
      }
    }
    const program = s.nullableString('program', NAME_RULE);
    if (program !== null && !NAME.test(program)) s.fail('program', `must be ${NAME_RULE}`);
    const optOutScope = s.oneOf('optOutScope', OPT_OUT_SCOPES, 'sender');
    if (optOutScope === 'program' && program === null) {
      s.fail('optOutScope', 'is program, so the sender needs a program: set `program`');
    }
    const rateLimit = s.number('rateLimit', 0, SENDER_RATE_DEFAULTS[type], MAX_RATE);
    out.list.push({
      address,
      type,
      smartEncoding: s.boolean('smartEncoding', true),
      nationalLanguages: languages,
      program,
      optOutScope,
      rateLimit,
      rateBurst: s.integer('rateBurst', 1, MAX_BURST, defaultBurst(rateLimit)),
      maxQueueAgeSeconds: s.integer('maxQueueAgeSeconds', 1, Number.POSITIVE_INFINITY, 3600),
      quietHours: readQuietHours(c, s),
      keywords: readKeywords(c, s.section('keywords', KEYWORDS_KEYS)),
      replies: readReplies(s.section('replies', REPLIES_KEYS)),
    });
    if (declared && !out.known.includes(address)) out.known.push(address);
  }
  return out;
}

/** A tenth of a second at the rate: smooth enough for carriers that count per second. */
function defaultBurst(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond / 10));
}

function readQuietHours(c: Checker, s: Section): QuietHoursConfig | null {
  if (!s.has('quietHours')) return null;
  const parsed = parseQuietHours(s.raw('quietHours'));
  if (parsed instanceof QuietHoursError) {
    const path = s.pathOf('quietHours');
    c.report(parsed.field === null ? path : `${path}.${parsed.field}`, parsed.message);
    return null;
  }
  return parsed;
}

function readKeywords(c: Checker, s: Section): KeywordsConfig {
  const words = (key: 'optOut' | 'optIn' | 'help'): string[] =>
    s.list(key).flatMap((item) => {
      if (typeof item.value === 'string') return [item.value];
      c.report(item.path, `must be a keyword, ${c.got(item.path, item.value)}`);
      return [];
    });
  const keywords: KeywordsConfig = {
    optOut: words('optOut'),
    optIn: words('optIn'),
    help: words('help'),
    custom: {},
  };
  const custom = s.raw('custom');
  if (isMapping(custom)) {
    for (const [word, reply] of Object.entries(custom)) {
      const path = `${s.pathOf('custom')}.${word}`;
      if (typeof reply !== 'string' || reply.length === 0)
        c.report(path, `must be the reply text, ${c.got(path, reply)}`);
      else keywords.custom[word] = reply;
    }
  } else if (s.has('custom')) {
    s.fail('custom', 'must be a mapping of keyword to reply text');
  }
  // One word, one meaning, the standard keywords included: the table the gateway builds is this.
  for (const problem of keywordConfigErrors(keywords)) c.report(s.path, problem.message);
  return keywords;
}

function readReplies(s: Section): RepliesConfig {
  return {
    optOut: s.nullableString('optOut', 'the reply text'),
    optIn: s.nullableString('optIn', 'the reply text'),
    help: s.nullableString('help', 'the reply text'),
  };
}

function checkSenderAddress(s: Section, type: SenderType, address: string): void {
  switch (type) {
    case 'shortcode':
      if (!/^[0-9]{3,8}$/.test(address)) s.fail('address', 'must be 3..8 digits for a shortcode');
      return;
    case 'longcode':
    case 'tollfree':
      // E.164: at most 15 digits, and no country code starts with 0.
      if (!/^[1-9][0-9]{6,14}$/.test(address)) {
        s.fail(
          'address',
          `must be E.164 digits without '+' (7..15 digits, not starting with 0) for a ${type}`,
        );
      }
      return;
    case 'alphanumeric':
      // All digits would be sent with TON 5 and shown as a number anyway: that is a numeric sender.
      if (!ALPHANUMERIC_SENDER.test(address) || !/[A-Za-z]/.test(address)) {
        s.fail(
          'address',
          "must be 1..11 GSM-safe characters (letters, digits, space, '.', '-', '&'), with at least one letter, for an alphanumeric sender",
        );
      }
      return;
  }
}

function readRoutes(
  c: Checker,
  top: Section,
  connectors: Named<ConnectorConfig>,
  senders: Named<SenderConfig>,
): RouteConfig[] {
  const items = top.list('routes', {
    required: 'must list at least one route (the last one, with only a connector, is the default route)',
  });
  return items.map((item, i) => {
    const s = c.section(item.path, item.value, ROUTE_KEYS, { item: true });
    const connector = s.string('connector', 'the name of a connector');
    if (typeof s.raw('connector') === 'string' && !connectors.known.includes(connector)) {
      const path = s.pathOf('connector');
      c.report(path, `${c.shown(path, connector)} is not a connector (known: ${listed(connectors.known)})`);
    }
    const routeSenders = s.list('senders').map((sender) => knownSender(c, sender, senders));
    const prefixes = s.list('prefixes').map((prefix) => {
      const text = typeof prefix.value === 'string' ? prefix.value : '';
      if (!/^[0-9]{1,15}$/.test(text)) {
        c.report(
          prefix.path,
          `must be 1..15 digits (an E.164 prefix without '+'), ${c.got(prefix.path, prefix.value)}`,
        );
      }
      return text;
    });
    // First match wins, so a route without filters hides every route after it; and a message that
    // matches no filter needs somewhere to go, so the last route must take everything.
    const filterless = routeSenders.length === 0 && prefixes.length === 0;
    const last = i === items.length - 1;
    if (s.live && last && !filterless) {
      c.report(
        item.path,
        'is the last route, the default route, and must have no senders or prefixes: end the list with a route that has only a connector',
      );
    }
    if (s.live && !last && filterless) {
      c.report(
        item.path,
        'has no senders or prefixes, so it matches every message and the routes after it are never used: only the last route (the default) may be without filters',
      );
    }
    return { connector, senders: routeSenders, prefixes };
  });
}

function readApiKeys(
  c: Checker,
  top: Section,
  senders: Named<SenderConfig>,
  devMode: boolean,
): ApiKeyConfig[] {
  const names = new Map<string, string>();
  const keys = new Map<string, string>();
  return top.list('apiKeys', { required: 'must list at least one API key' }).map((item) => {
    const s = c.section(item.path, item.value, API_KEY_KEYS, { item: true });
    const mark = c.mark();
    const name = s.string('name', NAME_RULE);
    if (typeof s.raw('name') === 'string' && !NAME.test(name)) s.fail('name', `must be ${NAME_RULE}`);
    if (c.cleanSince(mark)) unique(c, names, s.pathOf('name'), name, 'API key name');

    const keyMark = c.mark();
    const key = s.string('key', 'a secret of visible ASCII characters');
    if (c.cleanSince(keyMark)) {
      // The key is never shown: only its length and where it repeats.
      if (!VISIBLE_ASCII.test(key)) {
        s.fail('key', 'must be visible ASCII characters (no spaces): it is sent in an HTTP header', {
          secret: true,
        });
      } else if (key.length > 256) {
        s.fail('key', `must be at most 256 characters, got ${key.length}`, { secret: true });
      } else if (key.length < MIN_API_KEY_LENGTH && !devMode) {
        s.fail(
          'key',
          `must be at least ${MIN_API_KEY_LENGTH} characters, got ${key.length} (shorter keys are allowed only in dev mode: memory store with the simulator enabled)`,
          { secret: true },
        );
      } else {
        const first = keys.get(key);
        if (first === undefined) keys.set(key, s.pathOf('key'));
        else c.report(s.pathOf('key'), `is the same as ${first}: each API key must be different`);
      }
    }

    const allowed = s.list('senders', {
      required: "must list the senders this key may use, or ['*'] for all",
    });
    let keySenders: string[];
    if (allowed.some((a) => a.value === '*')) {
      if (allowed.length > 1)
        c.report(s.pathOf('senders'), "must be ['*'] alone or a list of senders, not both");
      keySenders = ['*'];
    } else {
      keySenders = allowed.map((sender) => knownSender(c, sender, senders));
    }
    const rateLimit = s.number('rateLimit', 0, 0, MAX_RATE);
    return {
      name,
      key,
      senders: keySenders,
      rateLimit,
      // One second's worth: a client's burst of requests, and a batch, up to that many messages.
      rateBurst: s.integer('rateBurst', 1, MAX_BURST, Math.max(1, Math.ceil(rateLimit))),
      callbackSecret: readCallbackSecret(s),
    };
  });
}

function readCallbackSecret(s: Section): string | null {
  const secret = s.nullableString('callbackSecret', 'a secret of visible ASCII characters');
  if (secret === null || typeof s.raw('callbackSecret') !== 'string') return secret;
  // Shown by its length only, as the API key.
  if (!VISIBLE_ASCII.test(secret)) {
    s.fail('callbackSecret', 'must be visible ASCII characters (no spaces)', { secret: true });
  } else if (secret.length < MIN_API_KEY_LENGTH || secret.length > 256) {
    s.fail('callbackSecret', `must be ${MIN_API_KEY_LENGTH} to 256 characters, got ${secret.length}`, {
      secret: true,
    });
  }
  return secret;
}

// ---------------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------------

function host(s: Section, fallback?: string): string {
  const value = s.string('host', 'a host name or IP address', fallback);
  if (typeof s.raw('host') === 'string' && !HOST.test(value))
    s.fail('host', 'must be a host name or IP address');
  return value;
}

/** An SMPP C-Octet String setting: `max` octets before the terminating NUL (SMPP v3.4 §4.1). */
function smppString(
  s: Section,
  key: string,
  max: number,
  fallback?: string,
  options: { secret?: boolean; nonEmpty?: boolean } = {},
): string {
  const what = `at most ${max} printable ASCII characters (an SMPP C-string)`;
  const value = s.string(key, what, fallback);
  if (typeof s.raw(key) !== 'string') return value;
  if (!PRINTABLE_ASCII.test(value)) {
    s.fail(key, 'must be printable ASCII (an SMPP C-string)', options);
  } else if (value.length > max) {
    s.fail(key, `must be at most ${max} characters (an SMPP C-string), got ${value.length}`, {
      secret: true,
    });
  } else if (options.nonEmpty && value === '') {
    s.fail(key, 'must not be empty');
  }
  return value;
}

function unique(c: Checker, firstUse: Map<string, string>, path: string, value: string, what: string): void {
  const first = firstUse.get(value);
  if (first === undefined) firstUse.set(value, path);
  else c.report(path, `${c.shown(path, value)} is already used by ${first}: each ${what} must be different`);
}

function knownSender(c: Checker, item: Item, senders: Named<SenderConfig>): string {
  if (typeof item.value !== 'string') {
    c.report(item.path, `must be a sender address, ${c.got(item.path, item.value)}`);
    return '';
  }
  if (!senders.known.includes(item.value)) {
    c.report(
      item.path,
      `${c.shown(item.path, item.value)} is not a configured sender (known: ${listed(senders.known)})`,
    );
  }
  return item.value;
}

/** A list for a message, cut short: a thousand senders would bury the problem. */
function listed(values: readonly string[]): string {
  if (values.length === 0) return 'none';
  const shown = values.slice(0, 20).join(', ');
  return values.length > 20 ? `${shown}, and ${values.length - 20} more` : shown;
}
