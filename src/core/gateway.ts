/**
 * The core as the HTTP layer sees it (GatewayApi): intake, then one durable write of record and
 * queue entry, and only then the answer. A store that fails answers 503, never a lost 202.
 */
import { createHash } from 'node:crypto';
import { type MessagePreview, type PlanOptions, previewMessage } from '../codec/index.js';
import type { SluiceConfig } from '../config/types.js';
import {
  ApiError,
  CodecOptionError,
  SluiceError,
  TooManyPartsError,
  UnencodableTextError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { IdempotencyClaim, Store } from '../store/types.js';
import type {
  Account,
  BatchItemResult,
  GatewayApi,
  IntakePolicy,
  Readiness,
  Requester,
  SubmitRequest,
} from './api.js';
import { callbackEntries } from './callbacks.js';
import type { Intake } from './intake.js';
import { block } from './lattice.js';
import type { MessageRecord } from './types.js';

export interface GatewayOptions {
  config: SluiceConfig;
  store: Store;
  intake: Intake;
  metrics: Metrics;
  logger: Logger;
  /** Connector names with at least one bind up right now. */
  connectorsUp: () => string[];
  /**
   * Ready only with a bind up (default true). An api-role process has no binds: the store alone
   * decides its readiness.
   */
  requireBind?: boolean;
  /** Told of every message accepted and queued, once, after it is durable. */
  onStatus?: (record: MessageRecord) => void;
  /** Rate limits and the opt-out list; absent: neither (unit tests of the core alone). */
  policy?: IntakePolicy;
}

export class Gateway implements GatewayApi {
  readonly #o: GatewayOptions;

  constructor(options: GatewayOptions) {
    this.#o = options;
  }

  async submit(
    account: Account,
    request: SubmitRequest,
    idempotencyKey: string | null,
    requester?: Requester,
  ): Promise<{ message: MessageRecord; created: boolean }> {
    await this.#o.policy?.admit(account, 1);
    const record = this.#o.intake.build(account, request);
    if (idempotencyKey === null) return this.#store(account, record, null, requester);
    // The number as normalised: "+44…" and "44…" are the same request.
    const claim = { messageId: record.id, fingerprint: fingerprint({ ...request, to: record.to }) };
    return this.#store(account, record, { key: idempotencyKey, claim }, requester);
  }

  /**
   * A reply to an inbound keyword (STOP's confirmation, HELP's text), from the sender the keyword
   * was sent to: queued like any message, but never blocked by the opt-out list nor held by quiet
   * hours (carriers require the confirmation, and an opted-out number must still receive it).
   */
  async submitKeywordReply(from: string, to: string, body: string): Promise<MessageRecord> {
    const record = this.#o.intake.build(SYSTEM_ACCOUNT, { from, to, body });
    record.keywordReply = true;
    return (await this.#store(SYSTEM_ACCOUNT, record, null)).message;
  }

  async #store(
    account: Account,
    record: MessageRecord,
    idempotency: { key: string; claim: IdempotencyClaim } | null,
    requester?: Requester,
  ): Promise<{ message: MessageRecord; created: boolean }> {
    const messages = this.#o.store.messages;
    stillThere(requester);
    if (idempotency !== null) {
      const { key, claim } = idempotency;
      const earlier = await unavailableOnFailure(() =>
        messages.claimIdempotencyKey(account.name, key, claim, IDEMPOTENCY_PENDING_SECONDS),
      ).catch((err: unknown) => {
        // The claim may have been written all the same (it timed out): undone after it.
        this.#settle(account, idempotency);
        throw err;
      });
      if (earlier !== null) {
        if (earlier.fingerprint !== null && earlier.fingerprint !== claim.fingerprint) {
          throw new ApiError(
            409,
            'conflict',
            'this Idempotency-Key was used with a different request; use a new key for a new message',
          );
        }
        const [existing] = await unavailableOnFailure(() => messages.getMany([earlier.messageId]));
        if (earlier.pending) {
          if (existing) {
            // Stored, though the request that bound the key has not confirmed it (it failed
            // after the write, or is answering now): this key's message.
            await this.#confirm(account, {
              key,
              claim: { messageId: earlier.messageId, fingerprint: earlier.fingerprint ?? claim.fingerprint },
            });
            return { message: existing, created: false };
          }
          // Answering with the first request's message before it is durable could promise a
          // message that is then not accepted; accepting this one too would send it twice.
          throw new ApiError(
            409,
            'idempotency-key-in-use',
            'a request with this Idempotency-Key is still being accepted; retry shortly',
            [],
            { retryAfterSeconds: 1 },
          );
        }
        if (existing) return { message: existing, created: false };
        // The key's message is gone (expired): the key may be used afresh.
        await unavailableOnFailure(() =>
          messages.releaseIdempotencyKey(account.name, key, earlier.messageId),
        );
        return this.#store(account, record, idempotency, requester);
      }
    }
    let scope: string | null;
    try {
      [scope = null] = await this.#blockedBy([record]);
      stillThere(requester);
      if (scope) {
        block(record, record.createdAt, scope);
        await unavailableOnFailure(() => messages.putFinal([record], callbackEntries(record, 0)));
      } else {
        await unavailableOnFailure(() => messages.enqueue([record]));
      }
    } catch (err) {
      if (idempotency !== null) this.#settle(account, idempotency);
      throw err;
    }
    if (idempotency !== null) await this.#confirm(account, idempotency);
    this.#count(record);
    return { message: record, created: true };
  }

  /**
   * The message is accepted: its key's binding is confirmed. A failure here does not undo the
   * acceptance (the client gets its 202); the key stays pending until IDEMPOTENCY_PENDING_SECONDS
   * pass, and a retry meanwhile finds the message and is answered with it.
   */
  async #confirm(account: Account, idempotency: { key: string; claim: IdempotencyClaim }): Promise<void> {
    try {
      await this.#o.store.messages.confirmIdempotencyKey(
        account.name,
        idempotency.key,
        idempotency.claim,
        this.#o.config.ttl.idempotencySeconds,
      );
    } catch (err) {
      this.#o.logger.warn(
        { err, account: account.name },
        'idempotency key not confirmed; it lapses unconfirmed',
      );
    }
  }

  /**
   * The request failed after claiming its key, and its writes may have reached the store all the
   * same (a timeout): the key is confirmed if its message was stored, else released, in one step
   * that the store runs after those writes. Not awaited: the 503 goes out at once, and should
   * this fail too, the key lapses after IDEMPOTENCY_PENDING_SECONDS (a retry that finds the
   * message meanwhile is answered with it).
   */
  #settle(account: Account, idempotency: { key: string; claim: IdempotencyClaim }): void {
    this.#o.store.messages
      .settleIdempotencyKey(
        account.name,
        idempotency.key,
        idempotency.claim,
        this.#o.config.ttl.idempotencySeconds,
      )
      .catch((err: unknown) =>
        this.#o.logger.warn({ err, account: account.name }, 'idempotency key not settled; it lapses'),
      );
  }

  async submitBatch(
    account: Account,
    requests: readonly SubmitRequest[],
    requester?: Requester,
  ): Promise<BatchItemResult[]> {
    // The whole batch counts against the key's rate: a client learns one Retry-After for it.
    await this.#o.policy?.admit(account, requests.length);
    const results: BatchItemResult[] = [];
    const valid: MessageRecord[] = [];
    for (const request of requests) {
      try {
        const record = this.#o.intake.build(account, request);
        valid.push(record);
        results.push({ ok: true, message: record });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        results.push({ ok: false, error: err });
      }
    }
    if (valid.length === 0) return results;
    const scopes = await this.#blockedBy(valid);
    const queued: MessageRecord[] = [];
    const blocked: MessageRecord[] = [];
    for (let i = 0; i < valid.length; i++) {
      const scope = scopes[i];
      if (scope) {
        block(valid[i]!, valid[i]!.createdAt, scope);
        blocked.push(valid[i]!);
      } else {
        queued.push(valid[i]!);
      }
    }
    // One write each for the queued and the blocked: every valid item is durable, or the request
    // fails with 503 (a blocked record written before a failed enqueue is only a record: nothing
    // was sent, and the client retries the whole batch; its blocked callback, if it has a
    // callbackUrl, names an id the client never got).
    stillThere(requester);
    if (blocked.length > 0) {
      const outbox = blocked.flatMap((r) => callbackEntries(r, 0));
      await unavailableOnFailure(() => this.#o.store.messages.putFinal(blocked, outbox));
    }
    if (queued.length > 0) await unavailableOnFailure(() => this.#o.store.messages.enqueue(queued));
    for (const r of blocked) this.#count(r);
    for (const r of queued) this.#count(r);
    return results;
  }

  async get(account: Account, id: string): Promise<MessageRecord | null> {
    const [record] = await unavailableOnFailure(() => this.#o.store.messages.getMany([id]));
    if (!record || record.account !== account.name) return null;
    return record;
  }

  preview(
    text: string,
    options: PlanOptions,
    route?: { account: Account; from: string; to: string },
  ): MessagePreview {
    if (text.length === 0) {
      throw new ApiError(422, 'unprocessable', 'text is empty', [
        { field: 'text', message: 'must not be empty' },
      ]);
    }
    const planned = route
      ? this.#o.intake.planOptions(route.account, { ...options, from: route.from, to: route.to })
      : { maxParts: this.#o.intake.maxParts, ...options };
    try {
      return previewMessage(text, { ...planned, reference: 0 });
    } catch (err) {
      if (
        err instanceof UnencodableTextError ||
        err instanceof TooManyPartsError ||
        err instanceof CodecOptionError
      ) {
        throw new ApiError(422, 'unprocessable', err.message, [{ field: 'text', message: err.message }]);
      }
      throw err;
    }
  }

  async readiness(): Promise<Readiness> {
    const store = await this.#o.store.ping().then(
      () => true,
      () => false,
    );
    const connectorsUp = this.#o.connectorsUp();
    const binds = this.#o.requireBind === false || connectorsUp.length > 0;
    return { ready: store && binds, store, connectorsUp };
  }

  async #blockedBy(records: readonly MessageRecord[]): Promise<Array<string | null>> {
    const policy = this.#o.policy;
    if (!policy) return records.map(() => null);
    // The opt-out list lives in the store: unreachable, it is a 503 like the store itself.
    return unavailableOnFailure(() => policy.blockedBy(records));
  }

  /** A message stored by intake, queued or blocked: counted (once it is durable) and told. */
  #count(record: MessageRecord): void {
    const { metrics } = this.#o;
    if (record.status === 'blocked') metrics.blocked.inc({ reason: 'opted_out', stage: 'intake' });
    metrics.messages.inc({ status: record.status, connector: record.connector, sender: record.from });
    this.#o.onStatus?.(record);
  }
}

/**
 * Seconds an Idempotency-Key stays bound to a request still being accepted: far longer than an
 * acceptance takes, short enough that a key whose request crashed the process mid-way is refused
 * (409, retry) only briefly.
 */
const IDEMPOTENCY_PENDING_SECONDS = 30;

/** Before each write a request makes: a client that went away gets nothing stored (api.ts, Requester). */
function stillThere(requester: Requester | undefined): void {
  if (requester?.gone) {
    throw new ApiError(499, 'client-closed', 'the client went away before its request was stored');
  }
}

/**
 * What makes two requests with one Idempotency-Key the same request: their fields, in any order.
 * SHA-256 over canonical JSON (keys sorted), 128 bits of it.
 */
function fingerprint(request: SubmitRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('base64url').slice(0, 22);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The account keyword replies are sent under: every sender, no API key's rate. Its name cannot be
 * an API key's (those start with a letter or digit), so no client can read these records.
 */
const SYSTEM_ACCOUNT: Account = { name: ':keywords', senders: ['*'] };

/** Runs a store call; any failure of the store becomes a 503 the client may retry. */
export async function unavailableOnFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // A write that timed out (store.commandTimeoutMs) may have reached the store all the same:
    // the message may be accepted though this answer says 503, and a retry may send it twice.
    throw new ApiError(
      503,
      'unavailable',
      'the message store is unavailable; retry later (a request that timed out may have been stored all the same)',
      [],
      {
        cause: err instanceof SluiceError || err instanceof Error ? err : undefined,
        retryAfterSeconds: 1,
      },
    );
  }
}
