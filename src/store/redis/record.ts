/**
 * How the Redis store writes a message record: a JSON array with the fields in fixed places, not
 * the record's own JSON object. A record is written three times in its life (enqueue, after the
 * submit, after the receipt) and read twice, and the key names were 40 % of its bytes: the array
 * is 467 bytes where the object was 791 (a one-part message with five events); it encodes a little
 * faster (2.1 µs against 2.3) and decodes in half the time (1.5 µs against 3.0).
 *
 *   [1, version, id, channel, account, from, to, body, encoding, dataCoding, connector,
 *    reference, campaignId, callbackUrl, createdAt, validUntil, status, error, attempts,
 *    parts, events, optional]
 *
 * - 1: the layout's number. The compare-and-set script reads the version with an anchored match
 *   on `[1,N,` (lua.ts), without decoding the record.
 * - parts: one array per part, [index, units, smscId, state, submittedAt, finalAt, error].
 * - events: status and time, flattened in pairs.
 * - optional: an object with those of plan, reason, heldUntil, quietHours, eligibleAt and
 *   keywordReply that the record has (null and absent stay distinct), or 0 when it has none.
 *
 * Records written as JSON objects (before this layout) are still read, and compared by the
 * script on their leading "version".
 */
import type { MessageRecord, MessageStatus, PartRecord, PartState, StatusEvent } from '../../core/types.js';

const LAYOUT = 1;

type Optional = Pick<
  MessageRecord,
  'plan' | 'reason' | 'heldUntil' | 'quietHours' | 'eligibleAt' | 'keywordReply'
>;

type PartRow = [
  index: number,
  units: number,
  smscId: string | null,
  state: PartState,
  submittedAt: number | null,
  finalAt: number | null,
  error: string | null,
];

/** Every field of MessageRecord, in layout order (the optional ones last). */
const FIELDS = [
  'version',
  'id',
  'channel',
  'account',
  'from',
  'to',
  'body',
  'encoding',
  'dataCoding',
  'connector',
  'reference',
  'campaignId',
  'callbackUrl',
  'createdAt',
  'validUntil',
  'status',
  'error',
  'attempts',
  'parts',
  'events',
  'plan',
  'reason',
  'heldUntil',
  'quietHours',
  'eligibleAt',
  'keywordReply',
] as const satisfies ReadonlyArray<keyof MessageRecord>;

/** A field added to MessageRecord and not to this layout fails to compile here. */
type Unplaced = Exclude<keyof MessageRecord, (typeof FIELDS)[number]>;
const everyFieldPlaced: [Unplaced] extends [never] ? true : Unplaced = true;
void everyFieldPlaced;

export function encodeRecord(r: MessageRecord): string {
  const parts = r.parts;
  const partRows = new Array<PartRow>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    partRows[i] = [p.index, p.units, p.smscId, p.state, p.submittedAt, p.finalAt, p.error];
  }
  const events = r.events;
  const eventPairs = new Array<string | number>(events.length * 2);
  for (let i = 0; i < events.length; i++) {
    eventPairs[2 * i] = events[i]!.status;
    eventPairs[2 * i + 1] = events[i]!.at;
  }
  let optional: Optional | 0 = 0;
  if (
    r.plan !== undefined ||
    r.reason !== undefined ||
    r.heldUntil !== undefined ||
    r.quietHours !== undefined ||
    r.eligibleAt !== undefined ||
    r.keywordReply !== undefined
  ) {
    const o: Optional = {};
    if (r.plan !== undefined) o.plan = r.plan;
    if (r.reason !== undefined) o.reason = r.reason;
    if (r.heldUntil !== undefined) o.heldUntil = r.heldUntil;
    if (r.quietHours !== undefined) o.quietHours = r.quietHours;
    if (r.eligibleAt !== undefined) o.eligibleAt = r.eligibleAt;
    if (r.keywordReply !== undefined) o.keywordReply = r.keywordReply;
    optional = o;
  }
  return JSON.stringify([
    LAYOUT,
    r.version,
    r.id,
    r.channel,
    r.account,
    r.from,
    r.to,
    r.body,
    r.encoding,
    r.dataCoding,
    r.connector,
    r.reference,
    r.campaignId,
    r.callbackUrl,
    r.createdAt,
    r.validUntil,
    r.status,
    r.error,
    r.attempts,
    partRows,
    eventPairs,
    optional,
  ]);
}

export function decodeRecord(json: string | null): MessageRecord | null {
  if (json === null) return null;
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value)) return value as MessageRecord;
  if (value[0] !== LAYOUT || value.length !== 22) {
    throw new Error(`redis store: a record in an unknown layout (${String(value[0])})`);
  }
  const rows = value[19] as PartRow[];
  const parts = new Array<PartRecord>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    parts[i] = {
      index: r[0],
      units: r[1],
      smscId: r[2],
      state: r[3],
      submittedAt: r[4],
      finalAt: r[5],
      error: r[6],
    };
  }
  const pairs = value[20] as Array<string | number>;
  const events = new Array<StatusEvent>(pairs.length / 2);
  for (let i = 0; i < events.length; i++) {
    events[i] = { status: pairs[2 * i] as MessageStatus, at: pairs[2 * i + 1] as number };
  }
  const record: MessageRecord = {
    version: value[1],
    id: value[2],
    channel: value[3],
    account: value[4],
    from: value[5],
    to: value[6],
    body: value[7],
    encoding: value[8],
    dataCoding: value[9],
    connector: value[10],
    reference: value[11],
    campaignId: value[12],
    callbackUrl: value[13],
    createdAt: value[14],
    validUntil: value[15],
    status: value[16],
    error: value[17],
    attempts: value[18],
    parts,
    events,
  };
  const optional = value[21] as Optional | 0;
  return optional === 0 ? record : Object.assign(record, optional);
}
