import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { SmppClosedError, SmppStatusError, SmppTimeoutError, SmppWindowFullError } from '../../src/errors.js';
import { CommandStatus } from '../../src/smpp/constants.js';
import { Session, SmppServer } from '../../src/smpp/index.js';
import { encodePdu, makePdu } from '../../src/smpp/pdu/index.js';
import type { AppRequest, BindMode, CloseInfo, SessionOptions } from '../../src/smpp/session.js';
import { RawPeer, RawServer } from '../support/raw-peer.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Our SMSC with a ManualClock, and a raw ESME connected to it. */
type Tunables = Omit<SessionOptions, 'socket' | 'role' | 'clock' | 'logger'>;

async function smscWithRawEsme(session: Tunables = {}) {
  const clock = new ManualClock();
  const server = new SmppServer({
    authenticate: (a) => (a.password === 'secret' ? CommandStatus.ESME_ROK : CommandStatus.ESME_RINVPASWD),
    clock,
    session,
  });
  const { port } = (await server.listen(0)) as AddressInfo;
  const accepted = once(server, 'connection') as Promise<[Session]>;
  const peer = await RawPeer.connect(port);
  const [smsc] = await accepted;
  cleanups.push(async () => {
    peer.close();
    await server.close();
  });
  return { clock, server, peer, smsc };
}

/** A submit_sm whose destination_addr has 30 characters (its maximum is 20, §4.4.1): ESME_RINVDSTADR. */
async function sendBadSubmit(peer: RawPeer, seq: number): Promise<void> {
  const bad = encodePdu(
    makePdu('submit_sm', { ...submit, destination_addr: '4'.repeat(20) }, { sequence_number: seq }),
  );
  const at = bad.indexOf(Buffer.from('4'.repeat(20)));
  const longer = Buffer.concat([bad.subarray(0, at), Buffer.from('4'.repeat(30)), bad.subarray(at + 20)]);
  longer.writeUInt32BE(longer.length, 0);
  peer.send(longer);
  const resp = await peer.expect('submit_sm_resp');
  expect([resp.command_status, resp.sequence_number]).toEqual([CommandStatus.ESME_RINVDSTADR, seq]);
}

/** Our ESME session on a connection to a raw SMSC, bound as transceiver. */
async function esmeWithRawSmsc(options: Tunables = {}, mode: BindMode = 'transceiver') {
  const clock = new ManualClock();
  const raw = new RawServer();
  const port = await raw.listen();
  const { default: net } = await import('node:net');
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const esme = new Session({ socket, role: 'esme', clock, ...options });
  const smsc = await raw.accept();
  cleanups.push(async () => {
    esme.close();
    await raw.close();
  });
  const bound = esme.bind(mode, { system_id: 'test', password: 'secret' });
  const bind = await smsc.expect(`bind_${mode}`);
  smsc.sendPdu(`bind_${mode}_resp`, { system_id: 'raw' }, bind.sequence_number);
  await bound;
  return { clock, esme, smsc };
}

const submit = { source_addr: '12345', destination_addr: '447700900123', short_message: Buffer.from('hi') };

describe('SMSC side: what an ESME may do when', () => {
  it('answers submit_sm before bind with ESME_RINVBNDSTS, echoing the sequence number', async () => {
    const { peer } = await smscWithRawEsme();
    peer.sendPdu('submit_sm', submit, 7);
    const resp = await peer.expect('submit_sm_resp');
    expect(resp.command_status).toBe(CommandStatus.ESME_RINVBNDSTS);
    expect(resp.sequence_number).toBe(7);
  });

  it('refuses a wrong password with ESME_RINVPASWD and closes the connection', async () => {
    const { peer } = await smscWithRawEsme();
    const resp = await peer.bind('transceiver', { system_id: 'test', password: 'wrong' });
    expect(resp.command).toBe('bind_transceiver_resp');
    expect(resp.command_status).toBe(CommandStatus.ESME_RINVPASWD);
    await peer.closed;
  });

  it('binds, answers enquire_link, and refuses a second bind with ESME_RALYBND', async () => {
    const { peer, smsc } = await smscWithRawEsme();
    const resp = await peer.bind();
    expect(resp.command_status).toBe(0);
    expect(smsc.state).toBe('bound_trx');
    expect(smsc.systemId).toBe('test');
    peer.sendPdu('enquire_link', {}, 2);
    expect((await peer.expect('enquire_link_resp')).sequence_number).toBe(2);
    peer.sendPdu('bind_transmitter', { system_id: 'test', password: 'secret' }, 3);
    expect((await peer.expect('bind_transmitter_resp')).command_status).toBe(CommandStatus.ESME_RALYBND);
  });

  it('refuses submit_sm from a receiver bind with ESME_RINVBNDSTS', async () => {
    const { peer } = await smscWithRawEsme();
    await peer.bind('receiver');
    peer.sendPdu('submit_sm', submit, 5);
    expect((await peer.expect('submit_sm_resp')).command_status).toBe(CommandStatus.ESME_RINVBNDSTS);
  });

  it('answers an unknown command_id with generic_nack ESME_RINVCMDID', async () => {
    const { peer } = await smscWithRawEsme();
    await peer.bind();
    const header = Buffer.alloc(16);
    header.writeUInt32BE(16, 0);
    header.writeUInt32BE(0x00000099, 4);
    header.writeUInt32BE(42, 12);
    peer.send(header);
    const nack = await peer.expect('generic_nack');
    expect(nack.command_status).toBe(CommandStatus.ESME_RINVCMDID);
    expect(nack.sequence_number).toBe(42);
  });

  it('answers a command_length over the maximum with generic_nack ESME_RINVCMDLEN and closes', async () => {
    const { peer, smsc } = await smscWithRawEsme({ maxPduLength: 1024 });
    await peer.bind();
    const closed = once(smsc, 'close') as Promise<[CloseInfo]>;
    const header = Buffer.alloc(16);
    header.writeUInt32BE(1_000_000, 0);
    header.writeUInt32BE(0x00000004, 4);
    header.writeUInt32BE(9, 12);
    peer.send(header);
    const nack = await peer.expect('generic_nack');
    expect(nack.command_status).toBe(CommandStatus.ESME_RINVCMDLEN);
    expect(nack.sequence_number).toBe(9);
    const [info] = await closed;
    expect(info.reason).toMatch(/command_length/);
    await peer.closed;
  });

  it('answers a malformed submit_sm with its own status, and closes after repeated protocol errors', async () => {
    const { peer, smsc } = await smscWithRawEsme({ maxProtocolErrors: 3 });
    await peer.bind();
    const closed = once(smsc, 'close') as Promise<[CloseInfo]>;
    for (let seq = 10; seq < 13; seq++) await sendBadSubmit(peer, seq);
    const [info] = await closed;
    expect(info.reason).toBe('3 protocol errors in 60 s');
  });

  it('forgets protocol errors older than the window: an occasional bad PDU never closes the bind', async () => {
    const { peer, smsc, clock } = await smscWithRawEsme({
      maxProtocolErrors: 3,
      protocolErrorWindowMs: 1000,
    });
    await peer.bind();
    let closed = false;
    smsc.on('close', () => (closed = true));
    // Two errors a window, for three windows: six in all, never three within one.
    for (let seq = 10; seq < 16; seq++) {
      await sendBadSubmit(peer, seq);
      if (seq % 2 === 1) clock.advance(1000);
    }
    peer.send(encodePdu(makePdu('enquire_link', {}, { sequence_number: 99 })));
    expect((await peer.expect('enquire_link_resp')).sequence_number).toBe(99);
    expect(closed).toBe(false);
    // Three within one window close it.
    const closing = once(smsc, 'close') as Promise<[CloseInfo]>;
    for (let seq = 16; seq < 19; seq++) await sendBadSubmit(peer, seq);
    const [info] = await closing;
    expect(info.reason).toBe('3 protocol errors in 1 s');
  });

  it('still sends the generic_nack when a framing error is also the last protocol error tolerated', async () => {
    const { peer, smsc } = await smscWithRawEsme({ maxProtocolErrors: 3 });
    await peer.bind();
    const unknown = (seq: number) => {
      const h = Buffer.alloc(16);
      h.writeUInt32BE(16, 0);
      h.writeUInt32BE(0x99, 4);
      h.writeUInt32BE(seq, 12);
      return h;
    };
    peer.send(Buffer.concat([unknown(1), unknown(2)]));
    const huge = Buffer.alloc(16);
    huge.writeUInt32BE(0xffffffff, 0);
    huge.writeUInt32BE(0x04, 4);
    huge.writeUInt32BE(0x42, 12);
    const closed = once(smsc, 'close');
    peer.send(huge);
    const answers = [await peer.next(), await peer.next(), await peer.next()];
    expect(answers.map((p) => [p.command, p.command_status, p.sequence_number])).toEqual([
      ['generic_nack', CommandStatus.ESME_RINVCMDID, 1],
      ['generic_nack', CommandStatus.ESME_RINVCMDID, 2],
      ['generic_nack', CommandStatus.ESME_RINVCMDLEN, 0x42],
    ]);
    await closed;
    await peer.closed;
  });

  it('never answers a malformed generic_nack (a response is not answered)', async () => {
    const { peer, smsc } = await smscWithRawEsme();
    await peer.bind();
    const warning = once(smsc, 'warning');
    // A generic_nack with 3 stray bytes after its header.
    const bad = Buffer.alloc(19);
    bad.writeUInt32BE(19, 0);
    bad.writeUInt32BE(0x80000000, 4);
    bad.writeUInt32BE(5, 12);
    peer.send(bad);
    await warning;
    peer.sendPdu('enquire_link', {}, 6);
    // The next thing the peer hears is the enquire_link_resp: nothing answered the nack.
    const next = await peer.next();
    expect([next.command, next.sequence_number]).toEqual(['enquire_link_resp', 6]);
  });

  it('answers ESME_RSYSERR when the application handler throws, and stays up', async () => {
    const { peer, smsc } = await smscWithRawEsme();
    await peer.bind();
    const warning = once(smsc, 'warning') as Promise<[Error]>;
    smsc.on('request', () => {
      throw new Error('handler bug');
    });
    peer.sendPdu('submit_sm', submit, 21);
    const resp = await peer.expect('submit_sm_resp');
    expect(resp.command_status).toBe(CommandStatus.ESME_RSYSERR);
    expect((await warning)[0].message).toBe('handler bug');
    peer.sendPdu('enquire_link', {}, 22);
    expect((await peer.expect('enquire_link_resp')).sequence_number).toBe(22);
  });

  it('closes a connection that does not bind within bindTimeoutMs', async () => {
    const { clock, smsc, peer } = await smscWithRawEsme({ bindTimeoutMs: 5_000 });
    const closed = once(smsc, 'close') as Promise<[CloseInfo]>;
    clock.advance(5_000);
    const [info] = await closed;
    expect(info.reason).toMatch(/not bound within 5000 ms/);
    await peer.closed;
  });

  it('stops reading while the application is behind, and resumes when it catches up', async () => {
    const { peer, smsc } = await smscWithRawEsme({ inboundWindow: 4 });
    await peer.bind();
    const seen: AppRequest[] = [];
    let wake: (() => void) | null = null;
    smsc.on('request', (pdu) => {
      seen.push(pdu);
      wake?.();
    });
    const until = (n: number) =>
      new Promise<void>((resolve) => {
        if (seen.length >= n) resolve();
        else
          wake = () => {
            if (seen.length >= n) resolve();
          };
      });
    const burst = (from: number) =>
      Buffer.concat(
        [0, 1, 2, 3].map((i) => encodePdu(makePdu('submit_sm', submit, { sequence_number: from + i }))),
      );
    peer.send(burst(100));
    await until(4);
    expect(smsc.readPaused).toBe(true);
    peer.send(burst(200));
    // Answering three leaves one pending: at or below half the inbound window, reading resumes.
    for (const pdu of seen.slice(0, 3)) smsc.respond(pdu, { message_id: 'x' });
    expect(smsc.readPaused).toBe(false);
    await until(8);
    expect(seen.map((p) => p.sequence_number)).toEqual([100, 101, 102, 103, 200, 201, 202, 203]);
  });
});

describe('ESME side: the outbound window and its timeouts', () => {
  it('fails fast when the window is full and accepts again once a response arrives', async () => {
    const { esme, smsc } = await esmeWithRawSmsc({ window: 2 });
    const a = esme.request('submit_sm', submit);
    const b = esme.request('submit_sm', submit);
    await expect(esme.request('submit_sm', submit)).rejects.toBeInstanceOf(SmppWindowFullError);
    expect(esme.inFlight).toBe(2);
    const first = await smsc.expect('submit_sm');
    await smsc.expect('submit_sm');
    smsc.sendPdu('submit_sm_resp', { message_id: 'id-1' }, first.sequence_number);
    expect((await a).message_id).toBe('id-1');
    const c = esme.request('submit_sm', submit);
    expect(esme.inFlight).toBe(2);
    const third = await smsc.expect('submit_sm');
    smsc.sendPdu('submit_sm_resp', { message_id: 'id-3' }, third.sequence_number);
    expect((await c).message_id).toBe('id-3');
    esme.close();
    // Sent before the close: the peer may have acted on it.
    await expect(b).rejects.toMatchObject({ constructor: SmppClosedError, sent: true });
  });

  it('times a request out after requestTimeoutMs and ignores the late response', async () => {
    const { clock, esme, smsc } = await esmeWithRawSmsc({
      requestTimeoutMs: 2_000,
      enquireLinkIntervalMs: 0,
    });
    const p = esme.request('submit_sm', submit);
    const sent = await smsc.expect('submit_sm');
    clock.advance(1_999);
    expect(esme.inFlight).toBe(1);
    clock.advance(1);
    await expect(p).rejects.toBeInstanceOf(SmppTimeoutError);
    expect(esme.inFlight).toBe(0);
    smsc.sendPdu('submit_sm_resp', { message_id: 'late' }, sent.sequence_number);
    // The session stays usable: the next request is answered normally.
    const q = esme.request('submit_sm', submit);
    const next = await smsc.expect('submit_sm');
    smsc.sendPdu('submit_sm_resp', { message_id: 'on-time' }, next.sequence_number);
    expect((await q).message_id).toBe('on-time');
    expect(esme.state).toBe('bound_trx');
  });

  it('turns a non-zero command_status into SmppStatusError, marking throttling retryable', async () => {
    const { esme, smsc } = await esmeWithRawSmsc();
    const throttled = esme.request('submit_sm', submit);
    const rejected = esme.request('submit_sm', submit);
    const s1 = await smsc.expect('submit_sm');
    const s2 = await smsc.expect('submit_sm');
    smsc.sendPdu('submit_sm_resp', {}, s1.sequence_number, CommandStatus.ESME_RTHROTTLED);
    smsc.sendPdu('generic_nack', {}, s2.sequence_number, CommandStatus.ESME_RINVDSTADR);
    const e1 = await throttled.catch((e: unknown) => e);
    const e2 = await rejected.catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(SmppStatusError);
    expect((e1 as SmppStatusError).retryable).toBe(true);
    expect((e1 as SmppStatusError).commandStatus).toBe(CommandStatus.ESME_RTHROTTLED);
    expect((e2 as SmppStatusError).retryable).toBe(false);
    expect((e2 as SmppStatusError).message).toMatch(/ESME_RINVDSTADR/);
  });

  it('declares a silent peer dead when enquire_link goes unanswered', async () => {
    const { clock, esme, smsc } = await esmeWithRawSmsc({
      enquireLinkIntervalMs: 1_000,
      requestTimeoutMs: 500,
    });
    const closed = once(esme, 'close') as Promise<[CloseInfo]>;
    // The bind_resp arrived in the first interval; the second is silent, so the link is checked.
    clock.advance(1_000);
    expect(esme.inFlight).toBe(0);
    clock.advance(1_000);
    await smsc.expect('enquire_link');
    expect(esme.inFlight).toBe(1);
    clock.advance(499);
    expect(esme.state).toBe('bound_trx');
    clock.advance(1);
    const [info] = await closed;
    expect(info.reason).toMatch(/did not answer enquire_link within 500 ms/);
    await smsc.closed;
  });

  it('checks an idle link every interval, its own enquire_link_resp not counting as traffic', async () => {
    const { clock, esme, smsc } = await esmeWithRawSmsc({
      enquireLinkIntervalMs: 1_000,
      requestTimeoutMs: 500,
    });
    clock.advance(1_000); // the interval of the bind_resp
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      const el = await smsc.expect('enquire_link');
      smsc.sendPdu('enquire_link_resp', {}, el.sequence_number);
      // Answered: nothing in flight once the response is read.
      while (esme.inFlight > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(esme.state).toBe('bound_trx');
  });

  it('answers enquire_link from the SMSC and keeps quiet while traffic flows', async () => {
    const { clock, esme, smsc } = await esmeWithRawSmsc({
      enquireLinkIntervalMs: 1_000,
      requestTimeoutMs: 500,
    });
    smsc.sendPdu('enquire_link', {}, 77);
    expect((await smsc.expect('enquire_link_resp')).sequence_number).toBe(77);
    // Inbound traffic during the interval means the link is alive: no enquire_link of ours follows.
    clock.advance(1_000);
    const p = esme.request('submit_sm', submit);
    const next = await smsc.next();
    expect(next.command).toBe('submit_sm');
    smsc.sendPdu('submit_sm_resp', { message_id: 'ok' }, next.sequence_number);
    await p;
  });

  it('unbinds gracefully: refuses new requests, drains those in flight, then exchanges unbind', async () => {
    const { esme, smsc } = await esmeWithRawSmsc({ window: 10 });
    const inFlight = [1, 2, 3].map(() => esme.request('submit_sm', submit));
    const sent = [
      await smsc.expect('submit_sm'),
      await smsc.expect('submit_sm'),
      await smsc.expect('submit_sm'),
    ];
    const unbound = esme.unbind();
    expect(esme.state).toBe('unbinding');
    // Not sent: the session is unbinding.
    await expect(esme.request('submit_sm', submit)).rejects.toMatchObject({
      constructor: SmppClosedError,
      sent: false,
    });
    for (const s of sent)
      smsc.sendPdu('submit_sm_resp', { message_id: `m${s.sequence_number}` }, s.sequence_number);
    const ids = (await Promise.all(inFlight)).map((r) => r.message_id);
    expect(ids).toEqual(sent.map((s) => `m${s.sequence_number}`));
    // Only once all three were answered does the unbind go out.
    const unbind = await smsc.expect('unbind');
    smsc.sendPdu('unbind_resp', {}, unbind.sequence_number);
    await unbound;
    expect(esme.state).toBe('closed');
    expect(esme.closeInfo?.reason).toBe('unbound');
    await smsc.closed;
  });

  it('fails everything in flight when the peer unbinds', async () => {
    const { esme, smsc } = await esmeWithRawSmsc();
    const outcome = esme.request('submit_sm', submit).catch((e: unknown) => e);
    await smsc.expect('submit_sm');
    smsc.sendPdu('unbind', {}, 500);
    expect((await smsc.expect('unbind_resp')).sequence_number).toBe(500);
    expect(await outcome).toBeInstanceOf(SmppClosedError);
    expect(esme.closeInfo?.reason).toBe('peer unbound');
  });

  it('hands deliver_sm to the application', async () => {
    const { esme, smsc } = await esmeWithRawSmsc();
    const got = once(esme, 'request') as Promise<[AppRequest]>;
    smsc.sendPdu('deliver_sm', { source_addr: '447700900123', short_message: Buffer.from('yes') }, 31);
    const [pdu] = await got;
    expect(pdu.command).toBe('deliver_sm');
    esme.respond(pdu);
    const resp = await smsc.expect('deliver_sm_resp');
    expect(resp.sequence_number).toBe(31);
    expect(resp.command_status).toBe(0);
  });

  it('refuses deliver_sm on a transmitter bind with ESME_RINVBNDSTS', async () => {
    const { esme, smsc } = await esmeWithRawSmsc({}, 'transmitter');
    expect(esme.state).toBe('bound_tx');
    smsc.sendPdu('deliver_sm', { source_addr: '447700900123', short_message: Buffer.from('yes') }, 32);
    const resp = await smsc.expect('deliver_sm_resp');
    expect(resp.command_status).toBe(CommandStatus.ESME_RINVBNDSTS);
    expect(resp.sequence_number).toBe(32);
  });
});
