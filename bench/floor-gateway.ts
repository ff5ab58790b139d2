/**
 * The floor: the least a gateway on sluice's stack must do for the e2e bench's messages, run by
 * `bench e2e --gateway floor` in sluice's place, so the bench can say how much of the machine the
 * stack itself takes (uWebSockets.js, ioredis, Redis, sluice's SMPP client) and how much is
 * sluice's own work.
 *
 * It keeps sluice's durability and protocol steps, one per message, and nothing else:
 * - POST /v1/messages and /v1/messages/batch: JSON parsed and its three strings checked; the record
 *   and the stream entry written in one Lua call; only then 202.
 * - one dispatcher: XREADGROUP on its own connection, a submit_sm per message through the
 *   connector's binds and window, the record rewritten with the SMSC id, a correlation key written,
 *   the entries acknowledged and deleted once answered;
 * - receipts: the correlation taken (GETDEL), the record read and rewritten as delivered.
 *
 * No validation of numbers, no text engine (bytes are sent as Latin-1), no routes, senders, API
 * keys, opt-outs, rate limits or quiet hours, no status lattice, retries, expiry, idempotency,
 * metrics or logs. Not a gateway: a measuring stick. Reads the bench's sluice configuration: the
 * HTTP host and port, the Redis store and the first connector.
 */

import * as uws from 'uWebSockets.js';
import { Redis } from 'ioredis';
import { loadConfigFile } from '../src/config/index.js';
import { type Pdu, SmppClient } from '../src/smpp/index.js';
import { runScript, script } from '../src/store/redis/lua.js';

const config = loadConfigFile(process.argv[2] ?? '', process.env);
if (config.store.kind !== 'redis') throw new Error('the floor gateway needs the Redis store');
const connector = config.connectors[0];
if (!connector) throw new Error('the floor gateway needs a connector');
const prefix = config.store.keyPrefix;
const STREAM = `${prefix}:floor:queue`;
const GROUP = 'floor';
const TTL = 86_400;

const redis = new Redis(config.store.url, { enableAutoPipelining: true });
const blocking = new Redis(config.store.url);
const ENQUEUE = script(
  'floor-enqueue',
  `for i = 1, #KEYS, 2 do
  redis.call('SET', KEYS[i], ARGV[i], 'EX', ${TTL})
  redis.call('XADD', KEYS[i + 1], '*', 'm', ARGV[i + 1])
end
return 1`,
);
await redis.xgroup('CREATE', STREAM, GROUP, '$', 'MKSTREAM').catch(() => undefined);

interface FloorRecord {
  id: string;
  from: string;
  to: string;
  body: string;
  status: string;
  version: number;
  parts: Array<{ index: number; smscId: string | null; state: string }>;
  events: Array<{ status: string; at: number }>;
  createdAt: number;
}

const recordKey = (id: string) => `${prefix}:floor:m:${id}`;
const correlationKey = (smscId: string) => `${prefix}:floor:c:${smscId}`;
/** Records this process enqueued, for its dispatcher (sluice keeps the same copies). */
const recent = new Map<string, FloorRecord>();
let sequence = 0;

function advance(record: FloorRecord, status: string, smscId?: string): string {
  record.status = status;
  record.version++;
  record.parts[0]!.state = status;
  if (smscId !== undefined) record.parts[0]!.smscId = smscId;
  record.events.push({ status, at: Date.now() });
  return JSON.stringify(record);
}

/** Records for the messages that have three strings; null where one does not. */
function accept(items: unknown[]): Array<FloorRecord | null> {
  return items.map((m) => {
    const { from, to, body } = (m ?? {}) as Record<string, unknown>;
    if (typeof from !== 'string' || typeof to !== 'string' || typeof body !== 'string') return null;
    const now = Date.now();
    const id = `${now.toString(36)}${(sequence++).toString(36).padStart(8, '0')}`;
    return {
      id,
      from,
      to,
      body,
      status: 'queued',
      version: 1,
      parts: [{ index: 0, smscId: null, state: 'queued' }],
      events: [{ status: 'queued', at: now }],
      createdAt: now,
    };
  });
}

function route(path: string, batch: boolean): void {
  app.post(path, (res, req) => {
    const authorized = req.getHeader('authorization') !== '';
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const chunks: Buffer[] = [];
    res.onData((chunk, last) => {
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!last) return;
      const reply = (status: string, body: unknown) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(body));
        });
      };
      let parsed: { messages?: unknown } | null;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        reply('400 Bad Request', { title: 'invalid JSON' });
        return;
      }
      const items = batch ? parsed?.messages : [parsed];
      const records = authorized && Array.isArray(items) ? accept(items) : [];
      const keys: string[] = [];
      const args: string[] = [];
      for (const r of records) {
        if (!r) continue;
        recent.set(r.id, r);
        keys.push(recordKey(r.id), STREAM);
        args.push(JSON.stringify(r), r.id);
      }
      if (keys.length === 0) {
        reply('400 Bad Request', { title: 'no message' });
        return;
      }
      runScript(redis, ENQUEUE, keys, args).then(
        () => {
          const results = records.map((r) => (r ? { id: r.id, status: 'queued' } : { status: 'rejected' }));
          reply('202 Accepted', batch ? { results } : results[0]);
        },
        () => reply('503 Service Unavailable', { title: 'store unavailable' }),
      );
    });
  });
}

const app = uws.App();
route('/v1/messages', false);
route('/v1/messages/batch', true);

const client = new SmppClient({
  host: connector.host,
  port: connector.port,
  system_id: connector.systemId,
  password: connector.password,
  binds: connector.binds,
  session: { window: connector.window, enquireLinkIntervalMs: 0 },
});
client.on('request', (pdu, session) => {
  session.respond(pdu);
  if (pdu.command !== 'deliver_sm') return;
  const smscId = (pdu as Pdu<'deliver_sm'>).tlvs.receipted_message_id;
  if (typeof smscId !== 'string') return;
  void (async () => {
    const id = await redis.getdel(correlationKey(smscId));
    if (id === null) return;
    const json = await redis.get(recordKey(id));
    if (json === null) return;
    await redis.set(recordKey(id), advance(JSON.parse(json) as FloorRecord, 'delivered'), 'KEEPTTL');
  })();
});
let bound = 0;
const allBound = new Promise<void>((resolve) => {
  client.on('bound', () => {
    if (++bound === connector.binds) resolve();
  });
});
client.start();
await allBound;

async function dispatch(): Promise<void> {
  for (;;) {
    const read = (await blocking.xreadgroup(
      'GROUP',
      GROUP,
      'floor-1',
      'COUNT',
      connector!.window,
      'BLOCK',
      100,
      'STREAMS',
      STREAM,
      '>',
    )) as Array<[string, Array<[string, string[]]>]> | null;
    if (!read) continue;
    const entries = read[0]![1];
    const answered: Array<Promise<unknown>> = [];
    for (const [, fields] of entries) {
      const id = fields[1]!;
      // Enqueued by this process: the copy it kept; otherwise (none in the bench) the stored one.
      const json = recent.has(id) ? null : await redis.get(recordKey(id));
      const record = recent.get(id) ?? (json === null ? null : (JSON.parse(json) as FloorRecord));
      recent.delete(id);
      if (!record) continue;
      if (client.capacity === 0) await client.waitForCapacity();
      const submitted = client.submit({
        source_addr: record.from,
        destination_addr: record.to,
        registered_delivery: 1,
        short_message: Buffer.from(record.body, 'latin1'),
      });
      answered.push(
        submitted.then((resp) => {
          redis.set(recordKey(id), advance(record, 'sent', resp.message_id), 'KEEPTTL');
          return redis.set(correlationKey(resp.message_id), id, 'EX', TTL);
        }),
      );
    }
    void Promise.all(answered).then(() => {
      const ids = entries.map((e) => e[0]);
      redis.xack(STREAM, GROUP, ...ids);
      return redis.xdel(STREAM, ...ids);
    });
  }
}

app.listen(config.http.host, config.http.port, (socket) => {
  if (!socket) throw new Error(`cannot listen on ${config.http.host}:${config.http.port}`);
  // The line the bench waits for, as it does for sluice.
  console.log(JSON.stringify({ msg: 'HTTP API listening' }));
  void dispatch();
});
process.on('SIGTERM', () => process.exit(0));
