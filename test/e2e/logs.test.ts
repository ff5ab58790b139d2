/**
 * What sluice logs at info level over a message's whole life, on real sockets: no message text and
 * no full phone number in any line (the numbers appear masked, +4477******23), through a delivered
 * message, a throttled and retried one, a permanent failure, a STOP keyword with its reply, a
 * message then blocked by that opt-out, an MO that is no keyword, and the shutdown. Each line is
 * one JSON object with no key twice, and none is a warning: nothing in that run is one.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { maskNumber } from '../../src/logger.js';
import { CommandStatus } from '../../src/smpp/constants.js';
import { type Rig, startRig, storeMatrix } from './helpers.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

const stores = storeMatrix('logs');

const DELIVERED = '447700900123';
const THROTTLED = '447700900124';
const REJECTED = '447700900199';
const BODIES = ['Your code is 4711', 'Parcel 88213 arrives today', 'Payment of 42.17 due', 'see you at 5'];

describe.each(stores)('info-level logs with the %s store', (storeKind, store) => {
  it('never carry a message text or a full phone number', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    let throttledOnce = false;
    rig = await startRig({
      store: store(),
      logger,
      sim: {
        // The simulator logs to the same stream, as the embedded default's built-in one does.
        logger,
        decideSubmit: (pdu) => {
          if (pdu.destination_addr === REJECTED) return CommandStatus.ESME_RINVDSTADR;
          if (pdu.destination_addr === THROTTLED && !throttledOnce) {
            throttledOnce = true;
            return CommandStatus.ESME_RTHROTTLED;
          }
          return 0;
        },
      },
    });
    const submit = async (to: string, body: string) => {
      const res = await rig!.post('/v1/messages', { from: '12345', to: `+${to}`, body });
      expect(res.status).toBe(202);
      return res.json as { id: string; status: string };
    };
    await rig.statusReached((await submit(DELIVERED, BODIES[0]!)).id, 'delivered');
    await rig.statusReached((await submit(THROTTLED, BODIES[1]!)).id, 'delivered');
    await rig.statusReached((await submit(REJECTED, BODIES[2]!)).id, 'failed');

    // STOP, answered with a confirmation: the next message to that number is blocked.
    const confirmation = new Promise<void>((resolve) =>
      rig!.sim.on('submit', (s: { destination: string }) => {
        if (s.destination === DELIVERED) resolve();
      }),
    );
    rig.sim.injectMo({ from: DELIVERED, to: '12345', text: 'STOP' });
    await confirmation;
    expect((await submit(DELIVERED, BODIES[0]!)).status).toBe('blocked');
    // sluice answers an MO's deliver_sm once it has handled it.
    const handled = new Promise<void>((resolve) =>
      rig!.sim.on('delivered', (pdu: { source_addr?: string }) => {
        if (pdu.source_addr === THROTTLED) resolve();
      }),
    );
    rig.sim.injectMo({ from: THROTTLED, to: '12345', text: BODIES[3]! });
    await handled;

    await rig.stop();
    rig = null;
    const all = lines.join('');
    expect(all).toContain('keyword handled');
    expect(all).toContain(maskNumber(DELIVERED));
    for (const number of [DELIVERED, THROTTLED, REJECTED]) expect(all).not.toContain(number);
    for (const body of BODIES) expect(all).not.toContain(body);
    for (const line of lines) {
      // One JSON object a line, no key twice (a child logger's field shadowed by its parent's
      // reads as the wrong value in most log stores).
      expect(JSON.stringify(JSON.parse(line))).toBe(line.trimEnd());
    }
    // A throttle, a refusal and an orderly shutdown are business as usual: nothing to alert on.
    // The one warning is the store's, at start, about what it keeps: the memory store keeps
    // nothing, and the test's Redis runs without an append-only file (as it must be told).
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level >= 40);
    expect(warnings.map((w) => w.msg.slice(0, w.msg.indexOf(':')))).toEqual([
      storeKind === 'memory' ? 'memory store' : 'redis store',
    ]);
  });
});
