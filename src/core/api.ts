/**
 * What the HTTP layer (and later the SMPP server for clients) asks of the core. The HTTP layer
 * checks the request's shape (JSON, types, unknown fields); the core checks its meaning (numbers,
 * senders, encoding, parts) and throws ApiError with the status to answer.
 */
import type { MessagePreview, PlanOptions } from '../codec/index.js';
import type { ApiError } from '../errors.js';
import type { OptOutEntry, OptOutEvent } from '../policy/optouts.js';
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

/**
 * The compliance checks intake runs (src/core/policy.ts implements them): the API key's rate and
 * the opt-out list.
 */
export interface IntakePolicy {
  /** Takes `count` messages from the account's rate; throws ApiError 429 with Retry-After when over. */
  admit(account: Account, count: number): Promise<void>;
  /** For each record, the opt-out scope that blocks it, or null (keyword replies are never blocked). */
  blockedBy(records: readonly MessageRecord[]): Promise<Array<string | null>>;
}

/** A row of an opt-out import, as the HTTP layer parsed it; the core checks its meaning. */
export interface OptOutImportRow {
  /** 1-based line of the CSV where the row starts, for the report. */
  line: number;
  number: string;
  /** The row's scope, or null for the import's default. */
  scope: string | null;
  reason: string | null;
}

export type OptOutImportResult =
  | { line: number; result: 'added' | 'already_opted_out'; number: string }
  | { line: number; result: 'invalid'; error: string };

/**
 * The opt-out list as the API manages it (GET/PUT/DELETE /v1/optouts/…). Numbers are taken as
 * E.164 with or without '+'; scopes as 'global', 'program:<name>' or 'sender:<address>'. An API
 * key manages the scopes of its own senders (and their programs); 'global' and a full export need
 * a key allowed every sender. Throws ApiError (422 bad number or scope, 403 scope not allowed).
 */
export interface OptOutApi {
  /** The number's entries: in every scope the account may see, or in `scope` only. */
  get(account: Account, number: string, scope: string | null): Promise<OptOutEntry[]>;
  put(
    account: Account,
    number: string,
    scope: string,
    reason: string | null,
  ): Promise<{ entry: OptOutEntry; created: boolean }>;
  /** Whether there was an entry to remove (the request is on the audit log either way). */
  remove(account: Account, number: string, scope: string, reason: string | null): Promise<boolean>;
  /** The number's audit log, oldest first, the latest `limit` events. */
  history(account: Account, number: string, limit: number): Promise<OptOutEvent[]>;
  /** One batch of an import (call it per ~1,000 rows, in order): a result per row. */
  importRows(
    account: Account,
    rows: readonly OptOutImportRow[],
    defaultScope: string,
  ): Promise<OptOutImportResult[]>;
  /** Every entry of `scope` (or of all scopes: needs a key allowed every sender), in pages. */
  export(account: Account, scope: string | null): AsyncIterable<OptOutEntry[]>;
}

export interface Readiness {
  ready: boolean;
  store: boolean;
  /** Connectors with at least one bind up. */
  connectorsUp: string[];
}

/**
 * The client of a request in progress, as the HTTP layer sees it. Once it has gone away, nothing
 * more is stored for the request: a message nobody will hear was accepted is one the client
 * sends again (uWS drops a connection that pipelines a request behind one still being answered).
 */
export interface Requester {
  readonly gone: boolean;
}

export interface GatewayApi {
  /**
   * Validates, stores and queues one message; resolves once it is durable. With an idempotency
   * key already used by this account, resolves with the message that key created (created: false).
   * Throws ApiError; 499 client-closed when `requester` went away before the message was stored.
   */
  submit(
    account: Account,
    request: SubmitRequest,
    idempotencyKey: string | null,
    requester?: Requester,
  ): Promise<{ message: MessageRecord; created: boolean }>;

  /**
   * Up to 1,000 messages: each item succeeds or fails on its own; the valid ones are stored in one
   * batch (none, with 499 client-closed, when `requester` went away first).
   */
  submitBatch(
    account: Account,
    requests: readonly SubmitRequest[],
    requester?: Requester,
  ): Promise<BatchItemResult[]>;

  /** The message if it exists and belongs to the account. */
  get(account: Account, id: string): Promise<MessageRecord | null>;

  /**
   * The text engine's preview. With `route` (a sender and a recipient), exactly what a message
   * from that sender to that number would be sent as: the sender's and the routed connector's
   * settings, and the configured part limit; the API key must be allowed the sender. Without, the
   * text engine's defaults, `options` laid over them, and the configured part limit. Throws
   * ApiError: 422 for text that cannot be sent as asked (or an unknown sender, no route), 403.
   */
  preview(
    text: string,
    options: PlanOptions,
    route?: { account: Account; from: string; to: string },
  ): MessagePreview;

  readiness(): Promise<Readiness>;
}
