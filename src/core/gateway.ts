/**
 * The core as the HTTP layer sees it (GatewayApi): intake, then one durable write of record and
 * queue entry, and only then the answer. A store that fails answers 503, never a lost 202.
 */
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
import type { Store } from '../store/types.js';
import type { Account, BatchItemResult, GatewayApi, Readiness, SubmitRequest } from './api.js';
import type { Intake } from './intake.js';
import type { MessageRecord } from './types.js';

export interface GatewayOptions {
  config: SluiceConfig;
  store: Store;
  intake: Intake;
  metrics: Metrics;
  logger: Logger;
  /** Connector names with at least one bind up right now. */
  connectorsUp: () => string[];
  /** Told of every message accepted and queued, once, after it is durable. */
  onStatus?: (record: MessageRecord) => void;
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
  ): Promise<{ message: MessageRecord; created: boolean }> {
    const record = this.#o.intake.build(account, request);
    const messages = this.#o.store.messages;
    if (idempotencyKey !== null) {
      const ttl = this.#o.config.ttl.idempotencySeconds;
      const earlier = await unavailableOnFailure(() =>
        messages.claimIdempotencyKey(account.name, idempotencyKey, record.id, ttl),
      );
      if (earlier !== null) {
        const [existing] = await unavailableOnFailure(() => messages.getMany([earlier]));
        if (existing) return { message: existing, created: false };
        // The key's message is gone (expired): the key may be used afresh.
        await unavailableOnFailure(() =>
          messages.releaseIdempotencyKey(account.name, idempotencyKey, earlier),
        );
        return this.submit(account, request, idempotencyKey);
      }
    }
    try {
      await unavailableOnFailure(() => messages.enqueue([record]));
    } catch (err) {
      if (idempotencyKey !== null) {
        await messages.releaseIdempotencyKey(account.name, idempotencyKey, record.id).catch(() => {});
      }
      throw err;
    }
    this.#count(record);
    return { message: record, created: true };
  }

  async submitBatch(account: Account, requests: readonly SubmitRequest[]): Promise<BatchItemResult[]> {
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
    if (valid.length > 0) {
      // One write for the whole batch: every valid item is durable, or none is and the whole
      // request fails with 503.
      await unavailableOnFailure(() => this.#o.store.messages.enqueue(valid));
      for (const r of valid) this.#count(r);
    }
    return results;
  }

  async get(account: Account, id: string): Promise<MessageRecord | null> {
    const [record] = await unavailableOnFailure(() => this.#o.store.messages.getMany([id]));
    if (!record || record.account !== account.name) return null;
    return record;
  }

  preview(text: string, options: PlanOptions): MessagePreview {
    try {
      return previewMessage(text, { reference: 0, ...options });
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
    return { ready: store && connectorsUp.length > 0, store, connectorsUp };
  }

  #count(record: MessageRecord): void {
    this.#o.metrics.messages.inc({ status: 'queued', connector: record.connector, sender: record.from });
    this.#o.onStatus?.(record);
  }
}

/** Runs a store call; any failure of the store becomes a 503 the client may retry. */
async function unavailableOnFailure<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(503, 'unavailable', 'the message store is unavailable; retry later', [], {
      cause: err instanceof SluiceError || err instanceof Error ? err : undefined,
      retryAfterSeconds: 1,
    });
  }
}
