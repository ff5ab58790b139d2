/**
 * The shape of request bodies: JSON types, required and unknown fields, and the ranges the OpenAPI
 * document states. Whatever openapi.yaml rejects is a 400 here; what needs the gateway's state or
 * knowledge (senders, numbers, encodability) is the core's 422. Hand-written rather than a schema
 * library: it runs once per message on the hot path and must name every offending field.
 */

import type { PlanOptions } from '../codec/index.js';
import { MAX_VALIDITY_SECONDS } from '../config/types.js';
import type { SubmitRequest } from '../core/api.js';
import { MAX_REASON_LENGTH } from '../policy/optouts.js';
import { parseQuietHours, QuietHoursError } from '../policy/quiet-hours.js';
import type { FieldError } from './problems.js';

export const LIMITS = {
  /** Characters of reference and campaignId. */
  tagChars: 64,
  callbackUrlChars: 2048,
  /** 30 days. */
  maxValiditySeconds: MAX_VALIDITY_SECONDS,
  batchItems: 1000,
  idempotencyKeyChars: 255,
  maxParts: 255,
} as const;

const ENCODINGS: ReadonlySet<string> = new Set(['auto', 'gsm7', 'ucs2']);
const MODES: ReadonlySet<string> = new Set(['udh8', 'udh16', 'sar', 'payload']);
const LANGUAGES: ReadonlySet<string> = new Set(['turkish', 'spanish', 'portuguese']);

const SUBMIT_FIELDS: ReadonlySet<string> = new Set([
  'from',
  'to',
  'body',
  'reference',
  'campaignId',
  'callbackUrl',
  'validitySeconds',
  'encoding',
  'smartEncoding',
  'quietHours',
]);
const BATCH_FIELDS: ReadonlySet<string> = new Set(['messages']);
const SEGMENTS_FIELDS: ReadonlySet<string> = new Set([
  'text',
  'from',
  'to',
  'mode',
  'encoding',
  'smartEncoding',
  'nationalLanguages',
  'maxParts',
]);

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  // JSON.parse yields only plain objects, arrays and primitives, so "object, not null, not array"
  // is exactly "a JSON object".
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(o: JsonObject, allowed: ReadonlySet<string>, prefix: string, errors: FieldError[]) {
  for (const key of Object.keys(o)) {
    if (!allowed.has(key)) errors.push({ field: prefix + key, message: 'unknown field' });
  }
}

function requiredString(o: JsonObject, key: string, prefix: string, errors: FieldError[]): string {
  const v = o[key];
  if (typeof v === 'string') return v;
  errors.push({ field: prefix + key, message: v === undefined ? 'is required' : 'must be a string' });
  return '';
}

function optionalString(
  o: JsonObject,
  key: string,
  maxChars: number,
  prefix: string,
  errors: FieldError[],
): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') errors.push({ field: prefix + key, message: 'must be a string' });
  else if (v.length > maxChars)
    errors.push({ field: prefix + key, message: `must be at most ${maxChars} characters` });
  else return v;
  return undefined;
}

function optionalEnum(
  o: JsonObject,
  key: string,
  allowed: ReadonlySet<string>,
  prefix: string,
  errors: FieldError[],
): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string' && allowed.has(v)) return v;
  errors.push({ field: prefix + key, message: `must be one of ${[...allowed].join(', ')}` });
  return undefined;
}

function optionalBoolean(o: JsonObject, key: string, prefix: string, errors: FieldError[]) {
  const v = o[key];
  if (v === undefined || typeof v === 'boolean') return v;
  errors.push({ field: prefix + key, message: 'must be a boolean' });
  return undefined;
}

function optionalInteger(
  o: JsonObject,
  key: string,
  min: number,
  max: number,
  prefix: string,
  errors: FieldError[],
): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
  errors.push({ field: prefix + key, message: `must be an integer from ${min} to ${max}` });
  return undefined;
}

function isHttpUrl(s: string): boolean {
  // Cheap prefix test first: URL parsing is the costliest check of a submit, and most values pass.
  if (!s.startsWith('https://') && !s.startsWith('http://')) return false;
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname.length > 0;
  } catch {
    return false;
  }
}

/** `quietHours`: { start, end, days? } (see parseQuietHours), or false for none. */
function optionalQuietHours(
  value: JsonObject,
  prefix: string,
  errors: FieldError[],
): SubmitRequest['quietHours'] | undefined {
  const q = value.quietHours;
  if (q === undefined) return undefined;
  if (q === false) return false;
  const parsed = parseQuietHours(q);
  if (!(parsed instanceof QuietHoursError)) return parsed;
  const field = `${prefix}quietHours`;
  errors.push({ field: parsed.field === null ? field : `${field}.${parsed.field}`, message: parsed.message });
  return undefined;
}

/**
 * A SubmitRequest from a parsed JSON value, or null with the complaints appended to `errors`.
 * `prefix` goes before every field name (`messages[3].` inside a batch).
 */
export function parseSubmitRequest(
  value: unknown,
  prefix: string,
  errors: FieldError[],
): SubmitRequest | null {
  if (!isObject(value)) {
    errors.push({ field: prefix === '' ? '(body)' : prefix.slice(0, -1), message: 'must be a JSON object' });
    return null;
  }
  const before = errors.length;
  unknownFields(value, SUBMIT_FIELDS, prefix, errors);
  const request: SubmitRequest = {
    from: requiredString(value, 'from', prefix, errors),
    to: requiredString(value, 'to', prefix, errors),
    body: requiredString(value, 'body', prefix, errors),
  };
  const reference = optionalString(value, 'reference', LIMITS.tagChars, prefix, errors);
  if (reference !== undefined) request.reference = reference;
  const campaignId = optionalString(value, 'campaignId', LIMITS.tagChars, prefix, errors);
  if (campaignId !== undefined) request.campaignId = campaignId;
  const callbackUrl = optionalString(value, 'callbackUrl', LIMITS.callbackUrlChars, prefix, errors);
  if (callbackUrl !== undefined) {
    if (isHttpUrl(callbackUrl)) request.callbackUrl = callbackUrl;
    else errors.push({ field: `${prefix}callbackUrl`, message: 'must be an absolute http or https URL' });
  }
  const validity = optionalInteger(value, 'validitySeconds', 1, LIMITS.maxValiditySeconds, prefix, errors);
  if (validity !== undefined) request.validitySeconds = validity;
  const encoding = optionalEnum(value, 'encoding', ENCODINGS, prefix, errors);
  // The set above holds exactly SubmitRequest['encoding']'s members.
  if (encoding !== undefined) request.encoding = encoding as SubmitRequest['encoding'];
  const smart = optionalBoolean(value, 'smartEncoding', prefix, errors);
  if (smart !== undefined) request.smartEncoding = smart;
  const quiet = optionalQuietHours(value, prefix, errors);
  if (quiet !== undefined) request.quietHours = quiet;
  return errors.length === before ? request : null;
}

export type BatchShape =
  | {
      ok: true;
      /** The items of the right shape, in order, for api.submitBatch. */
      requests: SubmitRequest[];
      /** Index in the request body of each entry of `requests`. */
      indexes: number[];
      /** The items of the wrong shape, by index. */
      invalid: Map<number, FieldError[]>;
      count: number;
    }
  | { ok: false; status: 400 | 413; errors: FieldError[] };

/**
 * `{ "messages": [...] }`. A wrong envelope fails the whole request; a wrong item fails that item
 * only, so the caller learns every bad item at once and the good ones are still sent.
 */
export function parseBatch(value: unknown): BatchShape {
  const errors: FieldError[] = [];
  if (!isObject(value))
    return { ok: false, status: 400, errors: [{ field: '(body)', message: 'must be a JSON object' }] };
  unknownFields(value, BATCH_FIELDS, '', errors);
  const messages = value.messages;
  if (!Array.isArray(messages)) {
    errors.push({
      field: 'messages',
      message: messages === undefined ? 'is required' : 'must be an array',
    });
  } else if (messages.length === 0) {
    errors.push({ field: 'messages', message: `must hold 1 to ${LIMITS.batchItems} messages` });
  } else if (messages.length > LIMITS.batchItems) {
    return {
      ok: false,
      status: 413,
      errors: [
        {
          field: 'messages',
          message: `at most ${LIMITS.batchItems} messages per batch, got ${messages.length}`,
        },
      ],
    };
  }
  if (errors.length > 0 || !Array.isArray(messages)) return { ok: false, status: 400, errors };

  const requests: SubmitRequest[] = [];
  const indexes: number[] = [];
  const invalid = new Map<number, FieldError[]>();
  for (let i = 0; i < messages.length; i++) {
    const itemErrors: FieldError[] = [];
    const request = parseSubmitRequest(messages[i], `messages[${i}].`, itemErrors);
    if (request === null) invalid.set(i, itemErrors);
    else {
      requests.push(request);
      indexes.push(i);
    }
  }
  return { ok: true, requests, indexes, invalid, count: messages.length };
}

export interface SegmentsRequest {
  text: string;
  options: PlanOptions;
  /** A sender and a recipient: the preview of a message between them, as it would be sent. */
  route?: { from: string; to: string };
}

/** What the sender and its connector decide when a preview names them (from and to). */
const ROUTED_OPTIONS = ['mode', 'maxParts', 'nationalLanguages'] as const;

export function parseSegmentsRequest(value: unknown, errors: FieldError[]): SegmentsRequest | null {
  if (!isObject(value)) {
    errors.push({ field: '(body)', message: 'must be a JSON object' });
    return null;
  }
  const before = errors.length;
  unknownFields(value, SEGMENTS_FIELDS, '', errors);
  const text = requiredString(value, 'text', '', errors);
  // PlanOptions is readonly: collect into a mutable twin, then hand it over.
  const options: { -readonly [K in keyof PlanOptions]: PlanOptions[K] } = {};
  const mode = optionalEnum(value, 'mode', MODES, '', errors);
  // The sets hold exactly the members of the PlanOptions unions they stand for.
  if (mode !== undefined) options.mode = mode as PlanOptions['mode'];
  const encoding = optionalEnum(value, 'encoding', ENCODINGS, '', errors);
  if (encoding !== undefined) options.encoding = encoding as PlanOptions['encoding'];
  const smart = optionalBoolean(value, 'smartEncoding', '', errors);
  if (smart !== undefined) options.smartEncoding = smart;
  const maxParts = optionalInteger(value, 'maxParts', 1, LIMITS.maxParts, '', errors);
  if (maxParts !== undefined) options.maxParts = maxParts;
  const languages = value.nationalLanguages;
  if (languages !== undefined) {
    if (!Array.isArray(languages)) errors.push({ field: 'nationalLanguages', message: 'must be an array' });
    else {
      const picked: string[] = [];
      languages.forEach((l: unknown, i) => {
        if (typeof l === 'string' && LANGUAGES.has(l)) picked.push(l);
        else
          errors.push({
            field: `nationalLanguages[${i}]`,
            message: `must be one of ${[...LANGUAGES].join(', ')}`,
          });
      });
      options.nationalLanguages = picked as PlanOptions['nationalLanguages'];
    }
  }
  if (value.from === undefined && value.to === undefined) {
    return errors.length === before ? { text, options } : null;
  }
  const from = requiredString(value, 'from', '', errors);
  const to = requiredString(value, 'to', '', errors);
  for (const key of ROUTED_OPTIONS) {
    if (value[key] !== undefined)
      errors.push({
        field: key,
        message: "set by the sender and its connector when 'from' and 'to' are given",
      });
  }
  return errors.length === before ? { text, options, route: { from, to } } : null;
}

/** Idempotency-Key: 1..255 printable ASCII characters. */
export function isValidIdempotencyKey(key: string): boolean {
  if (key.length === 0 || key.length > LIMITS.idempotencyKeyChars) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// --- the opt-out routes ---------------------------------------------------------------------------

export const OPTOUT_LIMITS = {
  /** Characters of a reason: the opt-out store's own bound. */
  reasonChars: MAX_REASON_LENGTH,
  /** Characters of a scope as text: 'program:' or 'sender:' and a name of at most 64. */
  scopeChars: 80,
  historyDefault: 100,
  historyMax: 1000,
} as const;

const OPTOUT_PUT_FIELDS: ReadonlySet<string> = new Set(['scope', 'reason']);

/**
 * The query string's parameters, each at most once and each one of `allowed` (a misspelt
 * parameter is an error rather than silently ignored, as an unknown body field is).
 */
export function parseQuery(query: string, allowed: ReadonlySet<string>, errors: FieldError[]) {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const [key, value] of new URLSearchParams(query)) {
    if (!allowed.has(key)) errors.push({ field: key, message: 'unknown query parameter' });
    else if (params.has(key)) errors.push({ field: key, message: 'must be given at most once' });
    else params.set(key, value);
  }
  return params;
}

/** A scope parameter's shape (its meaning, and who may use it, is the core's 422 and 403). */
export function checkScopeParam(value: string, field: string, errors: FieldError[]): string {
  if (value.length === 0 || value.length > OPTOUT_LIMITS.scopeChars) {
    errors.push({ field, message: `must be 1 to ${OPTOUT_LIMITS.scopeChars} characters` });
  }
  return value;
}

/** A reason parameter: absent or empty is none. */
export function optionalReasonParam(value: string | undefined, errors: FieldError[]): string | null {
  if (value === undefined || value === '') return null;
  if (value.length > OPTOUT_LIMITS.reasonChars) {
    errors.push({ field: 'reason', message: `must be at most ${OPTOUT_LIMITS.reasonChars} characters` });
  }
  return value;
}

/** history's `limit`: a whole number of 1..historyMax, historyDefault when absent. */
export function parseHistoryLimit(value: string | undefined, errors: FieldError[]): number {
  if (value === undefined) return OPTOUT_LIMITS.historyDefault;
  const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (n >= 1 && n <= OPTOUT_LIMITS.historyMax) return n;
  errors.push({ field: 'limit', message: `must be a whole number from 1 to ${OPTOUT_LIMITS.historyMax}` });
  return OPTOUT_LIMITS.historyDefault;
}

export interface OptOutPutRequest {
  scope: string;
  reason: string | null;
}

/** PUT /v1/optouts/{number}'s body: `{ scope?, reason? }`, scope 'global' when absent. */
export function parseOptOutPut(value: unknown, errors: FieldError[]): OptOutPutRequest | null {
  if (!isObject(value)) {
    errors.push({ field: '(body)', message: 'must be a JSON object' });
    return null;
  }
  const before = errors.length;
  unknownFields(value, OPTOUT_PUT_FIELDS, '', errors);
  const scope = optionalString(value, 'scope', OPTOUT_LIMITS.scopeChars, '', errors);
  if (scope === '') errors.push({ field: 'scope', message: 'must not be empty' });
  const reason = optionalString(value, 'reason', OPTOUT_LIMITS.reasonChars, '', errors);
  if (reason === '') errors.push({ field: 'reason', message: 'must not be empty; leave it out for none' });
  return errors.length === before ? { scope: scope ?? 'global', reason: reason ?? null } : null;
}
