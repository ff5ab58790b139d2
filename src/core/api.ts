/**
 * What the HTTP layer (and later the SMPP server for clients) asks of the core. The HTTP layer
 * checks the request's shape (JSON, types, unknown fields); the core checks its meaning (numbers,
 * senders, encoding, parts) and throws ApiError with the status to answer.
 */
import type { MessagePreview, PlanOptions } from '../codec/index.js';
import type { ApiError } from '../errors.js';
import type { MessageRecord, QuietHours } from './types.js';

/** The caller, as authenticated by its API key. */
export interface Account {
  name: string;
  /** Sender addresses it may use; ['*'] for every configured sender. */
  senders: readonly string[];
}

/** One message to send, as the API takes it. */
export interface SubmitRequest {
  from: string;
  /** E.164, with or without the leading '+'. */
  to: string;
  body: string;
  reference?: string;
  campaignId?: string;
  callbackUrl?: string;
  /** Seconds the message may wait to be sent before it expires. */
  validitySeconds?: number;
  encoding?: 'auto' | 'gsm7' | 'ucs2';
  /** Overrides the sender's smart-encoding setting for this message. */
  smartEncoding?: boolean;
  /** The campaign's sending window in the recipient's local time, replacing the sender's; false: none. */
  quietHours?: QuietHours | false;
}

export type BatchItemResult = { ok: true; message: MessageRecord } | { ok: false; error: ApiError };

export interface Readiness {
  ready: boolean;
  store: boolean;
  /** Connectors with at least one bind up. */
  connectorsUp: string[];
}

export interface GatewayApi {
  /**
   * Validates, stores and queues one message; resolves once it is durable. With an idempotency
   * key already used by this account, resolves with the message that key created (created: false).
   * Throws ApiError.
   */
  submit(
    account: Account,
    request: SubmitRequest,
    idempotencyKey: string | null,
  ): Promise<{ message: MessageRecord; created: boolean }>;

  /** Up to 1,000 messages: each item succeeds or fails on its own; the valid ones are stored in one batch. */
  submitBatch(account: Account, requests: readonly SubmitRequest[]): Promise<BatchItemResult[]>;

  /** The message if it exists and belongs to the account. */
  get(account: Account, id: string): Promise<MessageRecord | null>;

  /** The text engine's preview. Throws ApiError (422) for text that cannot be sent as asked. */
  preview(text: string, options: PlanOptions): MessagePreview;

  readiness(): Promise<Readiness>;
}
