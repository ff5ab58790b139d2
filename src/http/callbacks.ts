/**
 * Status callbacks, posted: each event of the OUTBOX queue (core/callbacks.ts) goes to its
 * message's callbackUrl as a JSON POST, at least once, until the receiver answers 2xx, refuses it
 * for good (a 4xx other than 408, 425 and 429), or callbacks.maxAgeSeconds have passed since the
 * transition. Failures are tried again with exponential backoff, through the queue, so a retry
 * survives a restart and any dispatching process may make it. Runs in every process that
 * dispatches.
 *
 * The body is the event and the message as GET /v1/messages/{id} shows it when the POST is made:
 * an earlier event can arrive after a later one, and its `message.status` is then already the
 * later status. With the API key's callbackSecret, Sluice-Signature is an HMAC-SHA256 of
 * `<Sluice-Timestamp>.<body>`.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../clock.js';
import type { CallbacksConfig } from '../config/types.js';
import {
  type CallbackEvent,
  callbackEventId,
  decodeCallbackEvent,
  encodeCallbackEvent,
} from '../core/callbacks.js';
import type { MessageRecord } from '../core/types.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { OUTBOX, type QueueEntry, type Store } from '../store/types.js';
import { TickBatcher } from '../util/batcher.js';
import { VERSION } from '../version.js';
import { renderMessage } from './render.js';

/** The longest wait between two tries of one event. */
const MAX_BACKOFF_MS = 600_000;
/** How long a claim waits for events before the loop looks round (to stop, say): as a dispatcher's. */
const CLAIM_WAIT_MS = 500;
/** How long a shutdown waits for the POSTs in flight before it cuts them off. */
const STOP_GRACE_MS = 2_000;
/** The most of an answer's body read (and thrown away) before its connection is dropped instead. */
const MAX_ANSWER_BYTES = 65_536;

export interface CallbackPosterOptions {
  store: Store;
  config: CallbacksConfig;
  /** callbackSecret by API key name (the record's account); a key without one signs nothing. */
  secrets: ReadonlyMap<string, string>;
  consumer: string;
  /** How long an event handed out to a process that died waits before another takes it. */
  reclaimIdleMs: number;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** The first retry's delay (doubled on each next one, up to 10 min); tests shorten it. */
  retryInitialMs?: number;
}

type Outcome = 'ok' | 'retry' | 'held' | 'refused' | 'expired' | 'no_record';

/** Failed POSTs in a row after which a receiver rests: its events wait instead of being tried. */
const RECEIVER_FAILURES = 5;
/** The first rest; each failed probe after one doubles it, up to the last. */
const RECEIVER_FIRST_REST_MS = 5_000;
const RECEIVER_MAX_REST_MS = 300_000;

/**
 * A receiver (scheme, host and port) that keeps failing. While it rests, and while one probe is
 * out after that, its events go back to the outbox untried: a receiver that hangs holds no more
 * than the POSTs that taught sluice so, and the other receivers keep the concurrency.
 */
interface Failing {
  failures: number;
  restMs: number;
  restUntil: number;
  probing: boolean;
}

export class CallbackPoster {
  readonly #o: CallbackPosterOptions;
  readonly #retryInitialMs: number;
  #inFlight = 0;
  /** Resolves the loop's wait for a free slot. */
  #slotFreed: (() => void) | null = null;
  #running: Promise<void> | null = null;
  #stopping = false;
  /** Set once stop() has cut off the POSTs still in flight: their events stay pending. */
  #cutOff = false;
  readonly #requests = new Set<http.ClientRequest>();
  readonly #posts = new Set<Promise<void>>();
  /** When the last failure to read the outbox was logged: one warning a minute at most. */
  #warnedAt = Number.NEGATIVE_INFINITY;
  /** Receivers failing now, by origin; one that answers is forgotten. */
  readonly #failing = new Map<string, Failing>();
  /** The acks of one turn, as one store call. */
  readonly #acks: TickBatcher<string, undefined>;
  /**
   * Connections kept open between POSTs to one receiver: node's own client, not fetch, which
   * cost about three times the CPU per POST (and refuses URLs with credentials in them).
   */
  readonly #agents: { http: http.Agent; https: https.Agent };

  constructor(options: CallbackPosterOptions) {
    this.#o = options;
    this.#retryInitialMs = options.retryInitialMs ?? 1_000;
    this.#acks = new TickBatcher(async (ids: string[]) => {
      await options.store.queue.ack(OUTBOX, ids);
      return ids.map(() => undefined);
    });
    const agent = { keepAlive: true, maxSockets: options.config.concurrency };
    this.#agents = { http: new http.Agent(agent), https: new https.Agent(agent) };
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * Takes no more events and gives the POSTs in flight up to STOP_GRACE_MS to be answered; the
   * rest are cut off and their events left pending, for a process still running (or the next
   * one) to post again after the reclaim time. A receiver that hangs does not hold up the
   * shutdown.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#slotFreed?.();
    await this.#running;
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.#posts),
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, Math.min(STOP_GRACE_MS, this.#o.config.timeoutMs));
      }),
    ]);
    clearTimeout(grace);
    this.#cutOff = true;
    for (const req of this.#requests) req.destroy();
    await Promise.all(this.#posts);
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  async #run(): Promise<void> {
    const { store, consumer, config, reclaimIdleMs } = this.#o;
    let failures = 0;
    while (!this.#stopping) {
      if (this.#inFlight >= config.concurrency) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        this.#slotFreed = null;
        continue;
      }
      let entries: QueueEntry[];
      let records: Array<MessageRecord | null>;
      try {
        entries = await store.queue.claim(
          OUTBOX,
          consumer,
          config.concurrency - this.#inFlight,
          CLAIM_WAIT_MS,
          reclaimIdleMs,
        );
        if (entries.length === 0) continue;
        const events = entries.map((e) => decodeCallbackEvent(e.messageId));
        const ids = [...new Set(events.flatMap((e) => (e ? [e.messageId] : [])))];
        const read = await store.messages.getMany(ids);
        const found = new Map(ids.map((id, i) => [id, read[i] ?? null]));
        records = events.map((e) => (e ? (found.get(e.messageId) ?? null) : null));
        failures = 0;
        for (let i = 0; i < entries.length; i++)
          this.#track(this.#post(entries[i]!, events[i]!, records[i]!));
      } catch (err) {
        // The store is down: what was handed out stays pending and is taken again once it is back.
        if (this.#stopping) break;
        const now = this.#o.clock.now();
        if (now - this.#warnedAt >= 60_000) {
          this.#warnedAt = now;
          this.#o.logger.warn({ err }, 'status callbacks: the outbox cannot be read; trying again');
        }
        failures++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** failures)));
      }
    }
  }

  #track(post: Promise<void>): void {
    this.#inFlight++;
    this.#posts.add(post);
    void post.finally(() => {
      this.#inFlight--;
      this.#posts.delete(post);
      this.#slotFreed?.();
    });
  }

  async #post(entry: QueueEntry, event: CallbackEvent | null, record: MessageRecord | null): Promise<void> {
    const { store, metrics, logger, clock, config } = this.#o;
    try {
      if (event === null || record === null || record.callbackUrl === null) {
        // Not an event this version writes, or its message is gone (its record lapsed).
        logger.debug({ entry: entry.messageId }, 'status callback dropped: no such message');
        await this.#acks.add(entry.entryId);
        metrics.callbacks.inc({ outcome: 'no_record' });
        return;
      }
      const receiver = originOf(record.callbackUrl);
      const held = this.#resting(receiver, clock.now());
      const outcome = held === null ? await this.#send(event, record) : null;
      // Cut off by stop(): neither acked nor deferred, so it is posted again after the reclaim.
      if (this.#cutOff && outcome?.kind === 'retry') return;
      const now = clock.now();
      if (outcome !== null) this.#heard(receiver, outcome.kind !== 'retry', now);
      let result: Outcome = outcome === null ? 'held' : outcome.kind;
      if (outcome === null || outcome.kind === 'retry') {
        // A held event was not tried: it keeps its attempt number.
        const delay =
          outcome === null
            ? Math.max(0, held! - now) + Math.ceil(Math.random() * 1_000)
            : this.#backoff(event.attempt, outcome.retryAfterMs);
        if (now + delay - event.at > config.maxAgeSeconds * 1000) {
          result = 'expired';
        } else {
          const attempt = outcome === null ? event.attempt : event.attempt + 1;
          const next = { ...entry, messageId: encodeCallbackEvent({ ...event, attempt }) };
          await store.queue.defer(OUTBOX, [next], now + delay);
          if (outcome !== null) {
            logger.debug(
              { messageId: event.messageId, status: event.status, attempt, delayMs: delay, why: outcome.why },
              'status callback failed; trying again later',
            );
          }
        }
      }
      if (result !== 'retry' && result !== 'held') await this.#acks.add(entry.entryId);
      metrics.callbacks.inc({ outcome: result });
      if (result === 'refused' || result === 'expired') {
        logger.warn(
          {
            messageId: event.messageId,
            status: event.status,
            attempts: event.attempt + 1,
            // The origin only: a URL's path and query may carry the receiver's own secrets.
            receiver: originOf(record.callbackUrl),
            why: outcome === null || outcome.kind === 'ok' ? 'its receiver is resting' : outcome.why,
          },
          result === 'refused'
            ? 'status callback refused by its receiver; dropped'
            : `status callback not taken within ${config.maxAgeSeconds} s; dropped`,
        );
      }
    } catch (err) {
      // The ack or the defer failed (the store is down): the entry stays pending and another
      // try comes once it is reclaimed. At least once, so a receiver may see it twice.
      logger.warn({ err, entry: entry.messageId.split(' ')[0] }, 'status callback: outcome not recorded');
    }
  }

  /**
   * When `receiver` rests: the time its rest ends (or, while its probe is out, when the probe
   * will have been answered), and null when this event may be tried. The first event after a rest is the probe.
   */
  #resting(receiver: string, now: number): number | null {
    const f = this.#failing.get(receiver);
    if (f === undefined || f.failures < RECEIVER_FAILURES) return null;
    if (f.restUntil > now) return f.restUntil;
    // Until the probe can have been answered: not once a second for each event waiting.
    if (f.probing) return now + Math.max(1_000, this.#o.config.timeoutMs);
    f.probing = true;
    return null;
  }

  /** What a POST to `receiver` told of it: answering (any answer but a retry's), or failing. */
  #heard(receiver: string, answering: boolean, now: number): void {
    const f = this.#failing.get(receiver);
    if (answering) {
      if (f === undefined) return;
      this.#failing.delete(receiver);
      if (f.failures >= RECEIVER_FAILURES)
        this.#o.logger.info({ receiver }, 'status callback receiver answers again');
      return;
    }
    const failing = f ?? { failures: 0, restMs: 0, restUntil: 0, probing: false };
    failing.failures++;
    this.#failing.set(receiver, failing);
    // Each POST in flight when it began failing ends with a failure too: one rest for them all.
    if (failing.failures < RECEIVER_FAILURES || (failing.restUntil > now && !failing.probing)) return;
    failing.restMs =
      failing.restMs === 0 ? RECEIVER_FIRST_REST_MS : Math.min(RECEIVER_MAX_REST_MS, failing.restMs * 2);
    failing.restUntil = now + failing.restMs;
    failing.probing = false;
    this.#o.logger.warn(
      { receiver, failures: failing.failures, restMs: failing.restMs },
      'status callback receiver keeps failing; its events wait until it has rested',
    );
  }

  /** One POST: what the receiver's answer means for the event. */
  async #send(
    event: CallbackEvent,
    record: MessageRecord,
  ): Promise<
    | { kind: 'ok' }
    | { kind: 'refused'; why: string }
    | { kind: 'retry'; why: string; retryAfterMs: number | null }
  > {
    const { clock, metrics } = this.#o;
    const body = JSON.stringify({
      event: {
        id: callbackEventId(event),
        status: event.status,
        at: new Date(event.at).toISOString(),
        attempt: event.attempt + 1,
      },
      message: renderMessage(record),
    });
    const timestamp = String(Math.floor(clock.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `sluice/${VERSION}`,
      'sluice-event-id': callbackEventId(event),
      'sluice-timestamp': timestamp,
    };
    const secret = this.#o.secrets.get(record.account);
    if (secret !== undefined) headers['sluice-signature'] = `v1=${signCallback(secret, timestamp, body)}`;
    headers['content-length'] = String(Buffer.byteLength(body));
    const started = performance.now();
    const answer = await this.#request(record.callbackUrl!, headers, body);
    if (typeof answer === 'string') return { kind: 'retry', why: answer, retryAfterMs: null };
    metrics.callbackSeconds.observe((performance.now() - started) / 1000);
    const { status } = answer;
    if (status >= 200 && status < 300) return { kind: 'ok' };
    const why = `HTTP ${status}`;
    if (status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429)
      return { kind: 'refused', why };
    return { kind: 'retry', why, retryAfterMs: retryAfterMs(answer.retryAfter, clock.now()) };
  }

  /**
   * One POST: the answer's status and Retry-After once its head is in (the body is read and
   * dropped, so the connection can serve the next POST), or why there was none. A redirect is
   * not followed: a POST carried elsewhere is the receiver's to fix.
   */
  #request(
    url: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; retryAfter: string | null } | string> {
    const { timeoutMs } = this.#o.config;
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        resolve('unreadable URL');
        return;
      }
      const secure = target.protocol === 'https:';
      const client = secure ? https : http;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (value: { status: number; retryAfter: string | null } | string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      };
      let req: http.ClientRequest;
      try {
        req = client.request(target, {
          method: 'POST',
          headers,
          agent: secure ? this.#agents.https : this.#agents.http,
        });
      } catch (err) {
        // A URL node will not send to (a port out of range, a bad header value): its code.
        settle((err as NodeJS.ErrnoException).code ?? 'not sendable');
        return;
      }
      this.#requests.add(req);
      req.on('close', () => {
        this.#requests.delete(req);
        settle('connection closed before an answer');
      });
      timer = setTimeout(() => {
        settle(`no answer within ${timeoutMs} ms`);
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
      req.on('response', (res) => {
        const retryAfter = res.headers['retry-after'];
        settle({
          status: res.statusCode ?? 0,
          retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
        });
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('error', () => undefined);
      });
      req.end(body);
    });
  }

  /** The wait before try `attempt + 2`: doubling from retryInitialMs, jittered, or Retry-After. */
  #backoff(attempt: number, retryAfter: number | null): number {
    if (retryAfter !== null) return Math.min(MAX_BACKOFF_MS, Math.max(this.#retryInitialMs, retryAfter));
    const base = Math.min(MAX_BACKOFF_MS, this.#retryInitialMs * 2 ** Math.min(attempt, 30));
    // Half to all of it: receivers that failed together are not all tried again at one instant.
    return Math.ceil(base / 2 + (Math.random() * base) / 2);
  }
}

/** Sluice-Signature's v1 value: hex HMAC-SHA256 of `<timestamp>.<body>` under the secret. */
export function signCallback(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** Retry-After as ms from now (seconds, or an HTTP date), or null when absent or unreadable. */
function retryAfterMs(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(unreadable URL)';
  }
}
