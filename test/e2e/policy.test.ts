/**
 * The compliance policy end to end, over real sockets, with the memory store and a real
 * redis-server: keywords sent as MO by the simulator, their confirmations as the simulator
 * receives them, and what happens to the next message to that number.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { decodeShortMessage } from '../../src/codec/index.js';
import type { SubmitRecord } from '../../src/sim/index.js';
import { senderConfig } from '../support/config.js';
import { type Rig, startRig, storeMatrix } from './helpers.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

const stores = storeMatrix('pol');

const CUSTOMER = '447700900123';
const OTHER = '447700900456';

const sender = senderConfig;

function textOf(record: SubmitRecord): string {
  const pdu = record.pdu;
  return (
    decodeShortMessage(pdu.short_message, pdu.data_coding, { udhi: (pdu.esm_class & 0x40) !== 0 }).text ?? ''
  );
}

/** The next submit_sm the simulator accepts from `from` to `to`. */
function nextSubmit(r: Rig, from: string, to: string): Promise<SubmitRecord> {
  return new Promise((resolve) => {
    const onSubmit = (s: SubmitRecord) => {
      if (s.source === from && s.destination === to) {
        r.sim.off('submit', onSubmit);
        resolve(s);
      }
    };
    r.sim.on('submit', onSubmit);
  });
}

/** Sends `text` as MO from `from` to `to` and returns the reply sluice sends back. */
async function keyword(r: Rig, from: string, to: string, text: string): Promise<string> {
  const reply = nextSubmit(r, to, from);
  r.sim.injectMo({ from, to, text });
  return textOf(await reply);
}

async function send(
  r: Rig,
  from: string,
  to: string,
): Promise<{ id: string; status: string; reason: unknown }> {
  const res = await r.post('/v1/messages', {
    from,
    to: `+${to}`,
    body: 'Your appointment is tomorrow at 10:00',
  });
  expect(res.status).toBe(202);
  return { id: res.json.id as string, status: res.json.status as string, reason: res.json.reason };
}

describe.each(stores)('keywords and the opt-out list with the %s store', (_, store) => {
  it('STOP → confirmation → blocked → START → confirmation → delivered again', async () => {
    rig = await startRig({ store: store() });
    const stop = await keyword(rig, CUSTOMER, '12345', ' Stop! ');
    expect(stop).toMatch(/unsubscribed/i);

    const blocked = await send(rig, '12345', CUSTOMER);
    expect(blocked).toMatchObject({ status: 'blocked', reason: 'opted_out' });
    const got = await rig.get(`/v1/messages/${blocked.id}`);
    expect(got.json).toMatchObject({ status: 'blocked', reason: 'opted_out' });
    expect((got.json.error as { code: string }).code).toBe('SLUICE_ERR_OPTED_OUT');

    const start = await keyword(rig, CUSTOMER, '12345', 'start');
    expect(start).toMatch(/subscribed/i);
    expect(start).not.toMatch(/unsubscribed/i);

    const again = await send(rig, '12345', CUSTOMER);
    expect(again.status).toBe('queued');
    await rig.statusReached(again.id, 'delivered');
    const submitted = rig.sim.stats().submits;
    // Two confirmations and the one message after START: the blocked one never left.
    expect(submitted).toBe(3);
  });

  it('counts the MO it does not act on by why, and acknowledges it', async () => {
    rig = await startRig({ store: store() });
    const acked = new Promise<void>((resolve) => {
      let n = 0;
      rig!.sim.on('delivered', (pdu: { esm_class?: number }) => {
        if ((pdu.esm_class ?? 0) !== 0x04 && ++n === 3) resolve();
      });
    });
    rig.sim.injectMo({ from: CUSTOMER, to: '12345', text: 'Thanks, see you on Tuesday' });
    rig.sim.injectMo({ from: CUSTOMER, to: '99999', text: 'STOP' });
    rig.sim.injectMo({ from: CUSTOMER, to: '12345', text: 'help' });
    await acked;
    const counts = Object.fromEntries(
      (await rig.gateway.metrics.inbound.get()).values.map((v) => [v.labels.result, v.value]),
    );
    expect(counts).toEqual({ not_a_keyword: 1, unknown_sender: 1, keyword: 1 });
    // The STOP to a number sluice does not send from changed nothing.
    expect(await rig.gateway.store.optouts.get(CUSTOMER)).toEqual([]);
  });

  it('answers HELP, also to a number that never subscribed, and changes nothing', async () => {
    rig = await startRig({ store: store() });
    const help = await keyword(rig, OTHER, '12345', 'HELP');
    expect(help).toMatch(/help/i);
    expect(help).toMatch(/STOP/);
    const msg = await send(rig, '12345', OTHER);
    expect(msg.status).toBe('queued');
    await rig.statusReached(msg.id, 'delivered');
  });

  it('takes a sender’s custom and localised keywords, with its own replies', async () => {
    rig = await startRig({
      store: store(),
      edit: (c) => {
        c.senders = [
          sender('12345', {
            keywords: {
              optOut: ['BAJA'],
              optIn: ['ALTA'],
              help: ['AYUDA'],
              custom: { HOURS: 'Open 9-17, Mon-Fri.' },
            },
            replies: { optOut: 'Baja confirmada. Responde ALTA para volver.', optIn: null, help: null },
          }),
        ];
      },
    });
    expect(await keyword(rig, CUSTOMER, '12345', 'hours')).toBe('Open 9-17, Mon-Fri.');
    expect(await keyword(rig, CUSTOMER, '12345', 'Baja.')).toBe(
      'Baja confirmada. Responde ALTA para volver.',
    );
    expect((await send(rig, '12345', CUSTOMER)).status).toBe('blocked');
    await keyword(rig, CUSTOMER, '12345', 'ALTA');
    expect((await send(rig, '12345', CUSTOMER)).status).toBe('queued');
  });

  it('a per-sender opt-out silences that sender only; a global one silences every sender', async () => {
    rig = await startRig({
      store: store(),
      edit: (c) => {
        c.senders = [sender('12345'), sender('23456'), sender('34567', { optOutScope: 'global' })];
      },
    });
    await keyword(rig, CUSTOMER, '12345', 'STOP');
    expect((await send(rig, '12345', CUSTOMER)).status).toBe('blocked');
    const other = await send(rig, '23456', CUSTOMER);
    expect(other.status).toBe('queued');
    await rig.statusReached(other.id, 'delivered');

    await keyword(rig, OTHER, '34567', 'STOP');
    for (const from of ['12345', '23456', '34567']) {
      expect((await send(rig, from, OTHER)).status).toBe('blocked');
    }
  });

  it('honours opt-outs made through the API and by import, and keeps their history', async () => {
    rig = await startRig({ store: store() });
    const r = rig;
    const base = `http://127.0.0.1:${r.gateway.httpPort}`;
    const auth = { authorization: 'Bearer dev-key' };
    const put = await fetch(`${base}/v1/optouts/%2B${CUSTOMER}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'global', reason: 'complaint #4711' }),
    });
    expect(put.status).toBe(201);
    expect((await send(r, '12345', CUSTOMER)).status).toBe('blocked');

    const csv = `number,scope,reason\n+${OTHER},sender:12345,list cleanup\nnot-a-number,global,\n`;
    const imported = await fetch(`${base}/v1/optouts/import`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/csv' },
      body: csv,
    });
    expect(imported.status).toBe(200);
    expect(await imported.json()).toMatchObject({ rows: 2, added: 1, invalid: 1 });
    expect((await send(r, '12345', OTHER)).status).toBe('blocked');

    const del = await fetch(`${base}/v1/optouts/${CUSTOMER}?scope=global`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(del.status).toBe(204);
    const after = await send(r, '12345', CUSTOMER);
    expect(after.status).toBe('queued');
    await r.statusReached(after.id, 'delivered');

    const history = (await (
      await fetch(`${base}/v1/optouts/${CUSTOMER}/history`, { headers: auth })
    ).json()) as {
      events: Array<{ action: string; source: string; reason: string | null }>;
    };
    expect(history.events.map((e) => [e.action, e.source])).toEqual([
      ['opt_out', 'api'],
      ['opt_in', 'api'],
    ]);
    expect(history.events[0]?.reason).toBe('complaint #4711');
  });

  it('records keyword opt-outs in the audit log with the keyword and the sender', async () => {
    rig = await startRig({ store: store() });
    await keyword(rig, CUSTOMER, '12345', 'UNSUBSCRIBE');
    await keyword(rig, CUSTOMER, '12345', 'START');
    const res = await rig.get(`/v1/optouts/${CUSTOMER}/history`);
    const events = res.json.events as Array<{
      action: string;
      source: string;
      keyword: string;
      sender: string;
    }>;
    expect(events.map((e) => [e.action, e.source, e.keyword, e.sender])).toEqual([
      ['opt_out', 'keyword', 'UNSUBSCRIBE', '12345'],
      ['opt_in', 'keyword', 'START', '12345'],
    ]);
  });

  it('records a STOP whose reply cannot be sent, and acknowledges it rather than have it sent again', async () => {
    rig = await startRig({ store: store() });
    const r = rig;
    // 123456 is not a number sluice can send to (intake refuses it), but the STOP still counts.
    const accepted = new Promise<void>((resolve) => {
      r.sim.on('delivered', (pdu) => {
        if ((pdu.esm_class ?? 0) === 0 && pdu.source_addr === '123456') resolve();
      });
    });
    r.sim.injectMo({ from: '123456', to: '+12345', text: 'STOP' });
    await accepted;
    const entries = await r.gateway.store.optouts.get('123456');
    expect(entries.map((e) => [e.scope, e.keyword])).toEqual([['sender:12345', 'STOP']]);
    expect(r.sim.stats().submits).toBe(0);
  });

  it('reports blocked items of a batch one by one and queues the rest', async () => {
    rig = await startRig({ store: store() });
    await keyword(rig, CUSTOMER, '12345', 'STOP');
    const res = await rig.post('/v1/messages/batch', {
      messages: [
        { from: '12345', to: `+${CUSTOMER}`, body: 'one' },
        { from: '12345', to: `+${OTHER}`, body: 'two' },
      ],
    });
    expect(res.status).toBe(200);
    const results = res.json.results as Array<{
      status: number;
      message?: { status: string; reason: string | null };
    }>;
    expect(results.map((r) => r.message?.status)).toEqual(['blocked', 'queued']);
    expect(results[0]?.message?.reason).toBe('opted_out');
  });
});
