/**
 * What clients see of the gateway's records. The shapes here are the API's contract: openapi.yaml
 * describes exactly these (Message, Preview), and the end-to-end tests read them.
 */
import type { MessagePreview } from '../codec/index.js';
import type { HoldReason, MessageError, MessageRecord, MessageStatus, PartState } from '../core/types.js';

export interface RenderedPart {
  /** 0-based. */
  index: number;
  state: PartState;
  /** The SMSC's message id, once it has answered the submit. */
  smscId: string | null;
  submittedAt: string | null;
  finalAt: string | null;
  error: string | null;
}

export interface RenderedEvent {
  status: MessageStatus;
  at: string;
}

/**
 * A message as the API returns it. The body is deliberately absent: the caller has it, and echoing
 * message text back would put it in every proxy log and client trace on the way.
 */
export interface RenderedMessage {
  id: string;
  status: MessageStatus;
  from: string;
  to: string;
  encoding: string;
  partCount: number;
  parts: RenderedPart[];
  reference: string | null;
  campaignId: string | null;
  createdAt: string;
  validUntil: string;
  events: RenderedEvent[];
  error: MessageError | null;
  /** Why it waits (queued) or was blocked: quiet_hours, rate_limit, opted_out; else null. */
  reason: HoldReason | null;
  /** When a held message is tried again. */
  heldUntil: string | null;
}

/**
 * The last few instants formatted: a message's events share their millisecond, and so do the
 * items of a batch, so most calls are answered without a Date.
 */
const ISO_CACHE_SIZE = 8;
const isoKeys = new Float64Array(ISO_CACHE_SIZE).fill(Number.NaN);
const isoValues = new Array<string>(ISO_CACHE_SIZE).fill('');
let isoNext = 0;

function iso(ms: number): string {
  for (let i = 0; i < ISO_CACHE_SIZE; i++) if (isoKeys[i] === ms) return isoValues[i]!;
  const value = new Date(ms).toISOString();
  isoKeys[isoNext] = ms;
  isoValues[isoNext] = value;
  isoNext = (isoNext + 1) % ISO_CACHE_SIZE;
  return value;
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}

export function renderMessage(m: MessageRecord): RenderedMessage {
  const parts: RenderedPart[] = new Array(m.parts.length);
  for (let i = 0; i < m.parts.length; i++) {
    const p = m.parts[i]!;
    parts[i] = {
      index: p.index,
      state: p.state,
      smscId: p.smscId,
      submittedAt: isoOrNull(p.submittedAt),
      finalAt: isoOrNull(p.finalAt),
      error: p.error,
    };
  }
  const events: RenderedEvent[] = new Array(m.events.length);
  for (let i = 0; i < m.events.length; i++) {
    const e = m.events[i]!;
    events[i] = { status: e.status, at: iso(e.at) };
  }
  return {
    id: m.id,
    status: m.status,
    from: m.from,
    to: m.to,
    encoding: m.encoding,
    partCount: m.parts.length,
    parts,
    reference: m.reference,
    campaignId: m.campaignId,
    createdAt: iso(m.createdAt),
    validUntil: iso(m.validUntil),
    events,
    error: m.error === null ? null : { code: m.error.code, message: m.error.message },
    reason: m.reason ?? null,
    heldUntil: isoOrNull(m.heldUntil ?? null),
  };
}

/**
 * The text engine's preview, field by field: a copy rather than the object itself, so that whatever
 * the codec adds later (octets as Uint8Array, internal scratch) reaches clients only once it is
 * rendered here and documented.
 */
export function renderPreview(p: MessagePreview) {
  return {
    encoding: p.encoding,
    dataCoding: p.dataCoding,
    national: p.national === null ? null : { locking: p.national.locking, single: p.national.single },
    mode: p.mode,
    partCount: p.partCount,
    segmentCount: p.segmentCount,
    units: p.units,
    unitsPerPart: p.unitsPerPart,
    parts: p.parts.map((part) => ({
      seq: part.seq,
      text: part.text,
      units: part.units,
      octets: part.octets,
      hex: part.hex,
    })),
    forcedUcs2: p.forcedUcs2.map((c) => ({
      char: c.char,
      codePoint: c.codePoint,
      index: c.index,
      count: c.count,
    })),
    replacements: p.replacements.map((r) => ({ index: r.index, from: r.from, to: r.to })),
    warnings: p.warnings.map((w) => ({ code: w.code, message: w.message, index: w.index })),
  };
}

export type RenderedPreview = ReturnType<typeof renderPreview>;
