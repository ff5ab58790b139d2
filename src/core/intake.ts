/**
 * Intake: a SubmitRequest → a MessageRecord ready to queue, or an ApiError saying what to change.
 * Checks meaning (the HTTP layer checked shape): the number is E.164, the sender is configured
 * and the account may use it, a route exists, and the text can be sent within the part limit.
 */
import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import { type PlanOptions, planMessage } from '../codec/index.js';
import type { ConnectorConfig, SenderConfig, SluiceConfig } from '../config/types.js';
import {
  ApiError,
  CodecOptionError,
  quoteValue,
  TooManyPartsError,
  UnencodableTextError,
} from '../errors.js';
import type { Account, SubmitRequest } from './api.js';
import { possibleE164 } from './phone.js';
import type { Router } from './router.js';
import type { MessageRecord } from './types.js';

/**
 * Body length looked at before planning: at least 20,000 characters, and as many as the
 * configured part limit can carry in GSM-7 (160 a part at most), so the planner, not this cap,
 * says when a text needs too many parts.
 */
function maxBodyChars(maxParts: number): number {
  return Math.max(20_000, maxParts * 160);
}

export interface IntakeOptions {
  config: SluiceConfig;
  router: Router;
  now: () => number;
}

export class Intake {
  readonly #senders: Map<string, SenderConfig>;
  readonly #connectors: Map<string, ConnectorConfig>;
  readonly #config: SluiceConfig;
  readonly #router: Router;
  readonly #now: () => number;
  readonly #ulid = monotonicFactory(pooledRandom());

  constructor(options: IntakeOptions) {
    this.#config = options.config;
    this.#router = options.router;
    this.#now = options.now;
    this.#senders = new Map(options.config.senders.map((s) => [s.address, s]));
    this.#connectors = new Map(options.config.connectors.map((c) => [c.name, c]));
  }

  /** A sortable id: ULID, monotonic within this process. */
  newId(at: number): string {
    return this.#ulid(at);
  }

  /** The configured most parts a message may have. */
  get maxParts(): number {
    return this.#config.messages.maxParts;
  }

  /**
   * The sender, the recipient as E.164 digits and the connector a message from `from` to `to`
   * goes through, for this API key. Throws ApiError (422 unknown sender, bad number or no route;
   * 403 a sender the key may not use).
   */
  resolve(
    account: Account,
    from: string,
    to: string,
  ): { sender: SenderConfig; to: string; connector: ConnectorConfig } {
    const sender = this.#senders.get(from);
    if (!sender) {
      throw new ApiError(422, 'unprocessable', `sender ${quoteValue(from)} is not configured`, [
        { field: 'from', message: 'not a configured sender' },
      ]);
    }
    if (!account.senders.includes('*') && !account.senders.includes(from)) {
      throw new ApiError(403, 'forbidden', `API key '${account.name}' may not send as ${quoteValue(from)}`, [
        { field: 'from', message: 'not allowed for this API key' },
      ]);
    }
    const number = normalizeNumber(to);
    const connectorName = this.#router.route(from, number);
    const connector = connectorName ? this.#connectors.get(connectorName) : undefined;
    if (!connector) {
      throw new ApiError(422, 'unprocessable', `no route from ${quoteValue(from)} to this destination`, [
        { field: 'to', message: 'no route' },
      ]);
    }
    return { sender, to: number, connector };
  }

  /** What a message from `from` to `to` would be planned with: its sender's and connector's settings. */
  planOptions(
    account: Account,
    request: Pick<SubmitRequest, 'from' | 'to' | 'encoding' | 'smartEncoding'>,
  ): PlanOptions {
    const { sender, connector } = this.resolve(account, request.from, request.to);
    return planOptionsFor(request, sender, connector, this.#config.messages.maxParts);
  }

  /** Validates a request and builds its record (status queued). Throws ApiError. */
  build(account: Account, request: SubmitRequest): MessageRecord {
    const { sender, to, connector } = this.resolve(account, request.from, request.to);
    if (request.body.length === 0) {
      throw new ApiError(422, 'unprocessable', 'body is empty', [
        { field: 'body', message: 'must not be empty' },
      ]);
    }
    const maxChars = maxBodyChars(this.#config.messages.maxParts);
    if (request.body.length > maxChars) {
      throw new ApiError(413, 'payload-too-large', `body is longer than ${maxChars} characters`, [
        { field: 'body', message: 'too long' },
      ]);
    }
    if (request.callbackUrl !== undefined && !this.#config.callbacks.enabled) {
      throw new ApiError(422, 'unprocessable', 'status callbacks are turned off on this gateway', [
        { field: 'callbackUrl', message: 'not taken here: follow the status with GET /v1/messages/{id}' },
      ]);
    }
    const plan = planOrExplain(request, sender, connector, this.#config.messages.maxParts);
    const now = this.#now();
    const validity = request.validitySeconds ?? this.#config.messages.defaultValiditySeconds;
    return {
      version: 1,
      id: this.newId(now),
      channel: 'sms',
      account: account.name,
      from: request.from,
      to,
      body: request.body,
      encoding: plan.encoding,
      dataCoding: plan.dataCoding,
      connector: connector.name,
      reference: request.reference ?? null,
      campaignId: request.campaignId ?? null,
      callbackUrl: request.callbackUrl ?? null,
      createdAt: now,
      validUntil: now + validity * 1000,
      status: 'queued',
      error: null,
      parts: plan.units.map((units, index) => ({
        index,
        units,
        smscId: null,
        state: 'pending',
        submittedAt: null,
        finalAt: null,
        error: null,
      })),
      attempts: 0,
      events: [
        { status: 'accepted', at: now },
        { status: 'queued', at: now },
      ],
      plan: {
        encoding: request.encoding ?? 'auto',
        smartEncoding: request.smartEncoding ?? sender.smartEncoding,
      },
      ...(request.quietHours === undefined ? {} : { quietHours: request.quietHours }),
    };
  }
}

/**
 * Random numbers in [0, 1) for ULIDs, drawn from a crypto-random pool refilled 4 KiB at a time:
 * the library's default asks the OS for bytes on every draw, 5% of the CPU under load.
 */
function pooledRandom(): () => number {
  let pool = randomBytes(4096);
  let at = 0;
  return () => {
    if (at + 4 > pool.length) {
      pool = randomBytes(4096);
      at = 0;
    }
    const n = pool.readUInt32BE(at);
    at += 4;
    return n / 0x1_0000_0000;
  };
}

/** E.164 digits without '+', or a 422 naming the field. */
export function normalizeNumber(input: string): string {
  const trimmed = input.trim();
  const candidate = trimmed.startsWith('+') ? trimmed : `+${trimmed}`;
  const e164 = /^\+\d{6,15}$/.test(candidate) ? possibleE164(candidate) : null;
  if (e164 === null) {
    throw new ApiError(422, 'unprocessable', 'to is not a possible E.164 phone number', [
      { field: 'to', message: 'expected an E.164 number such as +447700900123' },
    ]);
  }
  return e164;
}

/** The options the text engine gets for a message on a connector. */
export function planOptionsFor(
  request: Pick<SubmitRequest, 'encoding' | 'smartEncoding'>,
  sender: SenderConfig,
  connector: ConnectorConfig,
  maxParts: number,
) {
  return {
    mode: connector.concatenation,
    maxParts,
    smartEncoding: request.smartEncoding ?? sender.smartEncoding,
    encoding: request.encoding ?? 'auto',
    nationalLanguages: sender.nationalLanguages,
    // The reference is chosen at dispatch; intake only needs the part count.
    reference: 0,
  } as const;
}

function planOrExplain(
  request: SubmitRequest,
  sender: SenderConfig,
  connector: ConnectorConfig,
  maxParts: number,
) {
  try {
    const plan = planMessage(request.body, planOptionsFor(request, sender, connector, maxParts));
    return { encoding: plan.encoding, dataCoding: plan.dataCoding, units: plan.parts.map((p) => p.units) };
  } catch (err) {
    if (
      err instanceof UnencodableTextError ||
      err instanceof TooManyPartsError ||
      err instanceof CodecOptionError
    ) {
      throw new ApiError(422, 'unprocessable', err.message, [{ field: 'body', message: err.message }], {
        cause: err,
      });
    }
    throw err;
  }
}
