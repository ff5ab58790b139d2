/**
 * Interop over TCP loopback with an independent SMPP implementation, the `smpp` npm package
 * (node-smpp, which speaks v5.0 and binds with interface_version 0x50): its client against our
 * SmppServer and our Simulator, and our SmppClient against its server. Every byte crosses a real
 * socket; both sides use only their public APIs.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SmppStatusError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { Simulator } from '../../src/sim/index.js';
import {
  type AppRequest,
  type CloseInfo,
  CommandStatus,
  ESM_CLASS_TYPE_MASK,
  EsmClass,
  MessageState,
  type Session as OurSession,
  SmppClient,
  SmppServer,
} from '../../src/smpp/index.js';
import {
  call,
  closePeerServer,
  concatInfo,
  connectPeer,
  listenPeerServer,
  type PDU,
  PeerInbox,
  type Session as PeerSession,
  peerClosed,
  peerText,
  smpp,
} from './peer.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  // Last registered first: package peers go before the servers they are connected to.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A vendor TLV, so the package sends a tag our stack does not define. */
const VENDOR_TAG = 0x1401;
smpp.addTLV('vendor_x', { id: VENDOR_TAG, type: smpp.types.tlv.buffer });

const ucs2 = (text: string): Buffer => Buffer.from(text, 'utf16le').swap16();

/** A package client that is connected (not bound) and is torn down after the test. */
async function peerClient(port: number): Promise<PeerSession> {
  const peer = await connectPeer(port);
  // A well-behaved ESME answers the SMSC's unbind and closes (our servers unbind on close()).
  peer.on('unbind', (pdu) => {
    peer.send(pdu.response());
    peer.close();
  });
  cleanups.push(async () => {
    peer.destroy();
    await peerClosed(peer);
  });
  return peer;
}

/** Structured log lines of our stack, to see what it concluded. */
interface LogLine {
  msg?: string;
  level: number;
}

function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

// -----------------------------------------------------------------------------------------------

describe('smpp package client → our SmppServer', () => {
  interface Harness {
    server: SmppServer;
    port: number;
    /** Requests our server's sessions received, in order. */
    received: AppRequest[];
  }

  async function startServer(): Promise<Harness> {
    const server = new SmppServer({
      authenticate: ({ system_id, password }) => {
        if (system_id !== 'pkg') return CommandStatus.ESME_RINVSYSID;
        return password === 'secret' ? CommandStatus.ESME_ROK : CommandStatus.ESME_RINVPASWD;
      },
      systemId: 'sluice',
      session: { requestTimeoutMs: 2_000, enquireLinkIntervalMs: 0 },
    });
    const received: AppRequest[] = [];
    let n = 0;
    server.on('bound', (session) =>
      session.on('request', (pdu) => {
        received.push(pdu);
        if (pdu.command === 'submit_sm') session.respond(pdu, { message_id: `sl${++n}` });
        else session.respond(pdu, {}, CommandStatus.ESME_RINVCMDID);
      }),
    );
    const { port } = await server.listen(0, '127.0.0.1');
    cleanups.push(() => server.close());
    return { server, port, received };
  }

  async function bindPeer(h: Harness): Promise<{ peer: PeerSession; ours: OurSession; resp: PDU }> {
    const peer = await peerClient(h.port);
    const bound = new Promise<OurSession>((resolve) => h.server.once('bound', resolve));
    const resp = await call(peer, 'bind_transceiver', { system_id: 'pkg', password: 'secret' });
    return { peer, ours: await bound, resp };
  }

  it('binds as transceiver: bind_transceiver_resp OK with our system_id and sc_interface_version', async () => {
    const h = await startServer();
    const { resp, ours } = await bindPeer(h);
    expect(resp.command).toBe('bind_transceiver_resp');
    expect(resp.command_status).toBe(CommandStatus.ESME_ROK);
    expect(resp.system_id).toBe('sluice');
    expect(resp.sc_interface_version).toBe(0x34);
    expect(ours.mode).toBe('transceiver');
    expect(ours.systemId).toBe('pkg');
  });

  it('refuses a wrong password with ESME_RINVPASWD and closes the connection', async () => {
    const h = await startServer();
    const peer = await peerClient(h.port);
    const closed = peerClosed(peer);
    const refused = new Promise<number>((resolve) =>
      h.server.once('bind_refused', (_a, status) => resolve(status)),
    );
    const resp = await call(peer, 'bind_transceiver', { system_id: 'pkg', password: 'wrong' });
    expect(resp.command).toBe('bind_transceiver_resp');
    expect(resp.command_status).toBe(smpp.ESME_RINVPASWD);
    expect(resp.command_status).toBe(0x0e);
    expect(await refused).toBe(0x0e);
    await closed;
  });

  it('answers its submit_sm with our message_id, TLVs and a 160-character message included', async () => {
    const h = await startServer();
    const { peer } = await bindPeer(h);

    const plain = await call(peer, 'submit_sm', {
      source_addr: 'Sluice',
      destination_addr: '447700900123',
      short_message: Buffer.from('hello'),
    });
    expect(plain.command).toBe('submit_sm_resp');
    expect(plain.command_status).toBe(0);
    expect(plain.message_id).toBe('sl1');

    const withTlvs = await call(peer, 'submit_sm', {
      source_addr: 'Sluice',
      destination_addr: '447700900123',
      data_coding: 8,
      short_message: 'Привет', // the package encodes it as UCS2
      user_message_reference: 0x1234,
      source_port: 1000,
      dest_port: 2000,
      sar_msg_ref_num: 7,
      sar_total_segments: 2,
      sar_segment_seqnum: 1,
      vendor_x: Buffer.from([1, 2, 3]),
    });
    expect(withTlvs.command_status).toBe(0);
    expect(withTlvs.message_id).toBe('sl2');

    const text = 'The quick brown fox jumps over the lazy dog 0123456789 '.repeat(3).slice(0, 160);
    expect(text).toHaveLength(160);
    const validity = new Date(Date.UTC(2030, 5, 15, 12, 30, 45, 600));
    const long = await call(peer, 'submit_sm', {
      source_addr_ton: 5,
      source_addr: 'Sluice',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '447700900123',
      registered_delivery: 1,
      schedule_delivery_time: '0430', // the package expands it to the relative form
      validity_period: validity, // and a Date to the absolute form, UTC
      data_coding: 0,
      short_message: text, // GSM 03.38, one septet per octet
    });
    expect(long.command_status).toBe(0);
    expect(long.message_id).toBe('sl3');

    // Longer than a short_message can carry: the package puts it in message_payload.
    const payload = 'A long message in message_payload, as the package sends it. '.repeat(7);
    const viaPayload = await call(peer, 'submit_sm', {
      destination_addr: '447700900123',
      data_coding: 3,
      message_payload: payload,
    });
    expect(viaPayload.command_status).toBe(0);
    expect(viaPayload.message_id).toBe('sl4');

    const [a, b, c, d] = h.received;
    expect(h.received).toHaveLength(4);
    if (a?.command !== 'submit_sm' || b?.command !== 'submit_sm' || c?.command !== 'submit_sm') {
      throw new Error('expected three submit_sm');
    }
    expect(a.destination_addr).toBe('447700900123');
    expect(a.source_addr).toBe('Sluice');
    expect(a.short_message).toEqual(Buffer.from('hello'));

    expect(b.data_coding).toBe(8);
    expect(b.short_message).toEqual(ucs2('Привет'));
    expect(b.tlvs.user_message_reference).toBe(0x1234);
    expect(b.tlvs.source_port).toBe(1000);
    expect(b.tlvs.destination_port).toBe(2000);
    expect(b.tlvs.sar_msg_ref_num).toBe(7);
    expect(b.tlvs.sar_total_segments).toBe(2);
    expect(b.tlvs.sar_segment_seqnum).toBe(1);
    expect(b.tlvs.unknown).toEqual([{ tag: VENDOR_TAG, value: Buffer.from([1, 2, 3]) }]);

    expect(c.short_message).toHaveLength(160);
    expect(c.short_message.toString('latin1')).toBe(text);
    expect(c.data_coding).toBe(0);
    expect(c.registered_delivery).toBe(1);
    expect(c.source_addr_ton).toBe(5);
    expect(c.dest_addr_ton).toBe(1);
    expect(c.dest_addr_npi).toBe(1);
    expect(c.schedule_delivery_time).toBe('000000000430000R');
    expect(c.validity_period).toBe('300615123045600+');

    if (d?.command !== 'submit_sm') throw new Error('expected a fourth submit_sm');
    expect(d.short_message).toHaveLength(0);
    expect(d.data_coding).toBe(3);
    expect(d.tlvs.message_payload?.toString('latin1')).toBe(payload);
  });

  it('answers a command v3.4 does not define (v5.0 broadcast_sm) with generic_nack ESME_RINVCMDID', async () => {
    const h = await startServer();
    const { peer, ours } = await bindPeer(h);
    const resp = await call(peer, 'broadcast_sm', { message_id: 'x', source_addr: 'Sluice' });
    expect(resp.command).toBe('generic_nack');
    expect(resp.command_status).toBe(smpp.ESME_RINVCMDID);
    expect(ours.bound).toBe(true);
    // The session goes on: the next request is served as usual.
    expect((await call(peer, 'enquire_link')).command_status).toBe(0);
  });

  it('answers its enquire_link', async () => {
    const h = await startServer();
    const { peer } = await bindPeer(h);
    const resp = await call(peer, 'enquire_link');
    expect(resp.command).toBe('enquire_link_resp');
    expect(resp.command_status).toBe(0);
  });

  it('sends it deliver_sm, which it decodes and answers', async () => {
    const h = await startServer();
    const { peer, ours } = await bindPeer(h);
    const inbox = new PeerInbox(peer, 'deliver_sm');
    const resp = await ours.request('deliver_sm', {
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '447700900123',
      destination_addr: 'Sluice',
      data_coding: 8,
      short_message: ucs2('Привет, мир'),
      tlvs: { user_message_reference: 42 },
    });
    expect(resp.command).toBe('deliver_sm_resp');
    expect(resp.command_status).toBe(0);
    const got = await inbox.next();
    expect(got.source_addr).toBe('447700900123');
    expect(got.destination_addr).toBe('Sluice');
    expect(got.data_coding).toBe(8);
    expect(peerText(got)).toBe('Привет, мир');
  });

  it('unbinds cleanly: unbind_resp, and our session closes as peer unbound', async () => {
    const h = await startServer();
    const { peer, ours } = await bindPeer(h);
    const closed = new Promise<CloseInfo>((resolve) => ours.once('close', resolve));
    const peerGone = peerClosed(peer);
    const resp = await call(peer, 'unbind');
    expect(resp.command).toBe('unbind_resp');
    expect(resp.command_status).toBe(0);
    expect((await closed).reason).toBe('peer unbound');
    await peerGone;
    expect(h.server.sessions.size).toBe(0);
  });

  it('answers submit_sm before bind with ESME_RINVBNDSTS', async () => {
    const h = await startServer();
    const peer = await peerClient(h.port);
    const resp = await call(peer, 'submit_sm', { destination_addr: '447700900123', short_message: 'early' });
    expect(resp.command).toBe('submit_sm_resp');
    expect(resp.command_status).toBe(smpp.ESME_RINVBNDSTS);
    expect(resp.command_status).toBe(0x04);
    expect(h.received).toHaveLength(0);
  });
});

// -----------------------------------------------------------------------------------------------

describe('smpp package client → our Simulator', () => {
  async function startSim(): Promise<{ sim: Simulator; port: number }> {
    const sim = new Simulator({
      port: 0,
      accounts: [{ systemId: 'acme', password: 'secret' }],
      dlrDelayMs: 5,
    });
    const { smpp: address } = await sim.start();
    cleanups.push(() => sim.stop());
    return { sim, port: address.port };
  }

  async function bindPeer(port: number): Promise<{ peer: PeerSession; deliveries: PeerInbox }> {
    const peer = await peerClient(port);
    // Installed before the bind: the simulator pumps whatever is queued as soon as it is bound.
    const deliveries = new PeerInbox(peer, 'deliver_sm');
    const resp = await call(peer, 'bind_transceiver', { system_id: 'acme', password: 'secret' });
    expect(resp.command_status).toBe(0);
    expect(resp.system_id).toBe('sluicesim');
    return { peer, deliveries };
  }

  it('answers submit_sm and sends a receipt whose ids match the message_id; enquire_link; unbind', async () => {
    const { sim, port } = await startSim();
    const { peer, deliveries } = await bindPeer(port);
    expect(sim.stats().binds.transceiver).toBe(1);

    const accepted = new Promise<void>((resolve) => sim.once('delivered', () => resolve()));
    const resp = await call(peer, 'submit_sm', {
      source_addr: 'Acme',
      destination_addr: '447700900123',
      registered_delivery: 1,
      short_message: 'Hello from node-smpp',
    });
    expect(resp.command_status).toBe(0);
    const messageId = resp.message_id ?? '';
    expect(messageId).not.toBe('');

    const receipt = await deliveries.next();
    await accepted; // the simulator read the package's deliver_sm_resp as success
    expect(receipt.esm_class).toBeDefined();
    expect((receipt.esm_class ?? 0) & ESM_CLASS_TYPE_MASK).toBe(EsmClass.DELIVERY_RECEIPT);
    expect(receipt.source_addr).toBe('447700900123');
    expect(receipt.destination_addr).toBe('Acme');
    expect(receipt.receipted_message_id).toBe(messageId);
    expect(receipt.message_state).toBe(MessageState.DELIVERED);
    const text = peerText(receipt);
    expect(text).toMatch(
      /^id:\S+ sub:001 dlvrd:001 submit date:\d{10} done date:\d{10} stat:DELIVRD err:000 text:Hello from node-smp/,
    );
    expect(/^id:(\S+) /.exec(text)?.[1]).toBe(messageId);
    expect(sim.stats().receiptsSent).toBe(1);

    const link = await call(peer, 'enquire_link');
    expect(link.command).toBe('enquire_link_resp');
    expect(link.command_status).toBe(0);

    const gone = peerClosed(peer);
    const unbound = await call(peer, 'unbind');
    expect(unbound.command).toBe('unbind_resp');
    expect(unbound.command_status).toBe(0);
    await gone;
    expect(sim.stats().binds.transceiver).toBe(0);
  });

  it('delivers injected MO: single, and long in concatenated parts (UDH) in and out of order', async () => {
    const { sim, port } = await startSim();
    const { deliveries } = await bindPeer(port);
    const from = '447700900123';

    // The simulator's MO text encoding is about to move to the codec: accept GSM (0) or UCS2 (8).
    const expectCoding = (pdu: PDU) => expect([0, 8]).toContain(pdu.data_coding);
    const reassemble = (parts: PDU[]): string => {
      const infos = parts.map((p) => concatInfo(p));
      for (const [i, info] of infos.entries()) {
        expect(info, `part ${i} has a concatenation IE`).not.toBeNull();
        expect((parts[i]!.esm_class ?? 0) & EsmClass.UDHI).toBe(EsmClass.UDHI);
        expect(info?.total).toBe(parts.length);
        expect(info?.ref).toBe(infos[0]?.ref);
        expectCoding(parts[i]!);
      }
      return parts
        .map((p, i) => ({ seq: infos[i]?.seq ?? 0, text: peerText(p) }))
        .sort((x, y) => x.seq - y.seq)
        .map((p) => p.text)
        .join('');
    };

    expect(sim.injectMo({ from, to: 'Acme', text: 'Hi there' })).toBe(1);
    const single = await deliveries.next();
    expect(single.source_addr).toBe(from);
    expect(single.destination_addr).toBe('Acme');
    expect((single.esm_class ?? 0) & (EsmClass.UDHI | ESM_CLASS_TYPE_MASK)).toBe(0);
    expectCoding(single);
    expect(peerText(single)).toBe('Hi there');

    // GSM-range text: however it is encoded, it takes more than one part.
    const latin = 'Sluice MO interop, part of a long message. '.repeat(10);
    const n = sim.injectMo({ from, to: 'Acme', text: latin });
    expect(n).toBeGreaterThan(1);
    expect(reassemble(await deliveries.take(n))).toBe(latin);

    // Cyrillic is UCS2 under any encoder: 160 characters are 3 parts (66 or 67 per part).
    const cyrillic = 'Съешь же ещё этих мягких французских булок, да выпей чаю. '.repeat(3).slice(0, 160);
    expect(sim.injectMo({ from, to: 'Acme', text: cyrillic, order: [3, 1, 2] })).toBe(3);
    const parts = await deliveries.take(3);
    expect(parts.map((p) => concatInfo(p)?.seq)).toEqual([3, 1, 2]);
    for (const p of parts) expect(p.data_coding).toBe(8);
    expect(reassemble(parts)).toBe(cyrillic);
    expect(sim.stats().moSent).toBe(1 + n + 3);
  });
});

// -----------------------------------------------------------------------------------------------

describe('our SmppClient → smpp package server', () => {
  interface PeerSmsc {
    port: number;
    /** Package-side sessions, one per accepted connection. */
    sessions: PeerSession[];
    /** Requests the package server received, in order. */
    received: PDU[];
    /** Resolves with the n-th (1-based) bound package session. */
    bound(n: number): Promise<PeerSession>;
  }

  /** A package server that plays a plain SMSC: authenticates, answers submit, enquire_link, unbind. */
  async function startPeerSmsc(submitStatus: (n: number) => number = () => 0): Promise<PeerSmsc> {
    const sessions: PeerSession[] = [];
    const received: PDU[] = [];
    const boundSessions: PeerSession[] = [];
    const waiters = new Map<number, (s: PeerSession) => void>();
    let n = 0;
    const server = smpp.createServer((session) => {
      sessions.push(session);
      session.on('error', () => {});
      session.on('bind_transceiver', (pdu) => {
        received.push(pdu);
        if (pdu.password !== 'secret') {
          session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
          return;
        }
        session.send(pdu.response({ system_id: 'pkgsmsc' }));
        boundSessions.push(session);
        waiters.get(boundSessions.length)?.(session);
      });
      session.on('submit_sm', (pdu) => {
        received.push(pdu);
        const status = submitStatus(received.filter((p) => p.command === 'submit_sm').length);
        // The package answers a non-zero status with a header-only response, as §4 allows.
        if (status !== 0) session.send(pdu.response({ command_status: status }));
        else session.send(pdu.response({ message_id: `pkg-${++n}` }));
      });
      session.on('enquire_link', (pdu) => session.send(pdu.response()));
      session.on('unbind', (pdu) => {
        received.push(pdu);
        session.send(pdu.response());
        session.close();
      });
    });
    const port = await listenPeerServer(server);
    cleanups.push(() => closePeerServer(server));
    return {
      port,
      sessions,
      received,
      bound: (k) => {
        const s = boundSessions[k - 1];
        if (s) return Promise.resolve(s);
        return new Promise((resolve) => waiters.set(k, resolve));
      },
    };
  }

  function startClient(port: number, logger?: Logger, password = 'secret'): SmppClient {
    const client = new SmppClient({
      host: '127.0.0.1',
      port,
      system_id: 'sluice',
      password,
      bind: 'transceiver',
      session: { requestTimeoutMs: 2_000, enquireLinkIntervalMs: 0 },
      reconnect: { initialDelayMs: 10, maxDelayMs: 10, jitter: 0 },
      ...(logger ? { logger } : {}),
    });
    cleanups.push(() => client.stop());
    return client;
  }

  const nextBound = (client: SmppClient): Promise<OurSession> =>
    new Promise((resolve) => client.once('bound', (info) => resolve(info.session)));

  it('binds, submits, answers its deliver_sm and enquire_link, and unbinds on stop()', async () => {
    const smsc = await startPeerSmsc();
    const { logger, lines } = captureLogger();
    const client = startClient(smsc.port, logger);
    const requests: AppRequest[] = [];
    client.on('request', (pdu, session) => {
      requests.push(pdu);
      session.respond(pdu, {});
    });

    const boundP = nextBound(client);
    client.start();
    const ours = await boundP;
    const peer = await smsc.bound(1);
    const bind = smsc.received[0];
    expect(bind?.command).toBe('bind_transceiver');
    expect(bind?.system_id).toBe('sluice');
    expect(bind?.interface_version).toBe(0x34);
    expect(ours.mode).toBe('transceiver');

    const resp = await client.submit({
      source_addr: 'Sluice',
      destination_addr: '447700900123',
      short_message: Buffer.from('hello package'),
    });
    expect(resp.command).toBe('submit_sm_resp');
    expect(resp.message_id).toBe('pkg-1');
    const submit = smsc.received[1];
    expect(submit?.command).toBe('submit_sm');
    expect(submit?.destination_addr).toBe('447700900123');
    expect(submit ? peerText(submit) : '').toBe('hello package');

    // A receipt as the package writes one (receipted_message_id TLV with its NUL), then plain MO.
    const receiptText =
      'id:pkg-1 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:hello';
    const dlr = await call(peer, 'deliver_sm', {
      source_addr: '447700900123',
      destination_addr: 'Sluice',
      esm_class: EsmClass.DELIVERY_RECEIPT,
      short_message: Buffer.from(receiptText, 'latin1'),
      receipted_message_id: 'pkg-1',
      message_state: MessageState.DELIVERED,
    });
    expect(dlr.command).toBe('deliver_sm_resp');
    expect(dlr.command_status).toBe(0);
    const mo = await call(peer, 'deliver_sm', {
      source_addr: '447700900123',
      destination_addr: 'Sluice',
      short_message: { udh: Buffer.from([5, 0, 3, 9, 1, 1]), message: 'Hello sluice' },
    });
    expect(mo.command).toBe('deliver_sm_resp');
    expect(mo.command_status).toBe(0);

    expect(requests).toHaveLength(2);
    const [r1, r2] = requests;
    if (r1?.command !== 'deliver_sm' || r2?.command !== 'deliver_sm') throw new Error('expected deliver_sm');
    expect(r1.esm_class).toBe(EsmClass.DELIVERY_RECEIPT);
    expect(r1.short_message.toString('latin1')).toBe(receiptText);
    expect(r1.tlvs.receipted_message_id).toBe('pkg-1');
    expect(r1.tlvs.message_state).toBe(MessageState.DELIVERED);
    expect(r2.esm_class & EsmClass.UDHI).toBe(EsmClass.UDHI);
    expect(r2.short_message.subarray(0, 6)).toEqual(Buffer.from([5, 0, 3, 9, 1, 1]));
    expect(r2.short_message.subarray(6).toString('latin1')).toBe('Hello sluice');

    const link = await call(peer, 'enquire_link');
    expect(link.command).toBe('enquire_link_resp');
    expect(link.command_status).toBe(0);

    const closed = new Promise<CloseInfo>((resolve) => ours.once('close', resolve));
    const unbindSent = new Promise<void>((resolve) =>
      peer.on('send', (pdu) => {
        if (pdu.command === 'unbind_resp') resolve();
      }),
    );
    await client.stop();
    await unbindSent;
    expect(smsc.received.at(-1)?.command).toBe('unbind');
    expect((await closed).reason).toBe('unbound');
    // Our session saw the unbind_resp (it did not give up waiting for one).
    expect(lines.some((l) => l.msg === 'unbound')).toBe(true);
    expect(lines.some((l) => l.msg?.startsWith('unbind not answered'))).toBe(false);
    await peerClosed(peer);
  });

  it('reports a refused bind (the package answers with a header-only bind_transceiver_resp)', async () => {
    const smsc = await startPeerSmsc();
    const client = startClient(smsc.port, undefined, 'wrong');
    const failed = new Promise<Error>((resolve) =>
      client.once('connect_failed', (info) => resolve(info.error)),
    );
    client.start();
    const error = await failed;
    expect(error).toBeInstanceOf(SmppStatusError);
    expect((error as SmppStatusError).commandStatus).toBe(CommandStatus.ESME_RINVPASWD);
    await client.stop();
  });

  it('surfaces a header-only ESME_RTHROTTLED submit_sm_resp as a retryable status error', async () => {
    const smsc = await startPeerSmsc((n) => (n === 1 ? smpp.ESME_RTHROTTLED : 0));
    const client = startClient(smsc.port);
    const bound = nextBound(client);
    client.start();
    await bound;
    const fields = { destination_addr: '447700900123', short_message: Buffer.from('hi') };
    const error = await client.submit(fields).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(SmppStatusError);
    expect((error as SmppStatusError).commandStatus).toBe(CommandStatus.ESME_RTHROTTLED);
    expect((error as SmppStatusError).retryable).toBe(true);
    expect((await client.submit(fields)).message_id).toBe('pkg-1');
  });

  it('keeps the link up with enquire_link, which the package answers', async () => {
    const smsc = await startPeerSmsc();
    const client = new SmppClient({
      host: '127.0.0.1',
      port: smsc.port,
      system_id: 'sluice',
      password: 'secret',
      session: { requestTimeoutMs: 2_000, enquireLinkIntervalMs: 20 },
    });
    cleanups.push(() => client.stop());
    const bound = nextBound(client);
    client.start();
    const ours = await bound;
    const peer = await smsc.bound(1);
    let answered = 0;
    peer.on('send', (pdu) => {
      if (pdu.command === 'enquire_link_resp') answered++;
    });
    // Our side sends enquire_link after each silent interval; wait for the package to answer two.
    await new Promise<void>((resolve) =>
      peer.on('send', (pdu) => {
        if (pdu.command === 'enquire_link_resp' && answered >= 2) resolve();
      }),
    );
    expect(ours.bound).toBe(true);
    expect(client.sessions).toEqual([ours]);
  });

  it('answers an unbind from the package server with unbind_resp, then reconnects', async () => {
    const smsc = await startPeerSmsc();
    const client = startClient(smsc.port);
    const first = nextBound(client);
    client.start();
    await first;
    const peer1 = await smsc.bound(1);
    const disconnected = new Promise<string>((resolve) =>
      client.once('disconnected', (info) => resolve(info.reason)),
    );
    const second = nextBound(client);
    const resp = await call(peer1, 'unbind');
    expect(resp.command).toBe('unbind_resp');
    expect(resp.command_status).toBe(0);
    expect(await disconnected).toBe('peer unbound');
    await peerClosed(peer1);
    await second;
    await smsc.bound(2);
  });

  it('reconnects and binds again after the package server drops the connection', async () => {
    const smsc = await startPeerSmsc();
    const client = startClient(smsc.port);
    const first = nextBound(client);
    client.start();
    const s1 = await first;
    const peer1 = await smsc.bound(1);

    const disconnected = new Promise<string>((resolve) =>
      client.once('disconnected', (info) => resolve(info.reason)),
    );
    const second = nextBound(client);
    peer1.destroy();
    expect(await disconnected).toMatch(/closed|reset|socket/);
    const s2 = await second;
    expect(s2).not.toBe(s1);
    expect(s1.state).toBe('closed');
    await smsc.bound(2);
    expect(smsc.sessions).toHaveLength(2);

    const resp = await client.submit({
      destination_addr: '447700900123',
      short_message: Buffer.from('again'),
    });
    expect(resp.message_id).toBe('pkg-1');
  });
});
