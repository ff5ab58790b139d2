/**
 * Quiet hours end to end, on an injected clock: a message to a number whose local time is outside
 * the sender's window waits as `queued` with the reason and the instant it opens (worked out in the
 * recipient's zone, across a daylight-saving change), and goes out when the clock gets there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { SenderConfig } from '../../src/config/types.js';
import type { MessageRecord } from '../../src/core/types.js';
import { type Rig, startRig } from './helpers.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

/** The dev configuration's short code, with a 08:00–21:00 sending window. */
function withWindow(senders: SenderConfig[]): void {
  for (const s of senders) s.quietHours = { start: '08:00', end: '21:00' };
}

/** Resolves with the message as GET shows it once the dispatcher has put it on hold. */
async function waitForHold(r: Rig, id: string): Promise<Record<string, unknown>> {
  // Listen first, then look: a hold written between the two is not missed.
  const held = new Promise<void>((resolve) => {
    const onStatus = (m: MessageRecord) => {
      if (m.id === id && m.reason) {
        r.gateway.events.off('status', onStatus);
        resolve();
      }
    };
    r.gateway.events.on('status', onStatus);
  });
  const [now] = await r.gateway.store.messages.getMany([id]);
  if (!now?.reason) await held;
  return (await r.get(`/v1/messages/${id}`)).json;
}

describe('quiet hours', () => {
  it('holds a New York message at 01:30 local on the spring-forward night until 08:00 EDT', async () => {
    // 2026-03-08 06:30Z = 01:30 EST; at 02:00 the clocks jump to 03:00 EDT (UTC-4).
    const clock = new ManualClock(Date.UTC(2026, 2, 8, 6, 30));
    rig = await startRig({ store: { kind: 'memory' }, clock, edit: (c) => withWindow(c.senders) });
    const res = await rig.post('/v1/messages', {
      from: '12345',
      to: '+12125550100',
      body: 'Appointment reminder',
    });
    expect(res.status).toBe(202);
    const id = res.json.id as string;
    const held = await waitForHold(rig, id);
    expect(held).toMatchObject({ status: 'queued', reason: 'quiet_hours' });
    // 08:00 EDT is 12:00Z (13:00Z had the change been missed).
    expect(held.heldUntil).toBe('2026-03-08T12:00:00.000Z');
    expect(rig.sim.stats().submits).toBe(0);

    const delivered = rig.statusReached(id, 'delivered');
    clock.advance(Date.UTC(2026, 2, 8, 12, 0) - clock.now());
    const done = await delivered;
    expect(done.reason ?? null).toBeNull();
    expect(rig.sim.stats().submits).toBe(1);
  });

  it('sends at once where the window is open, and holds in the zone where it is not', async () => {
    // 2026-11-22 15:00Z: 15:00 in London (open), 07:00 in Los Angeles (closed until 08:00 PST).
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 15, 0));
    rig = await startRig({ store: { kind: 'memory' }, clock, edit: (c) => withWindow(c.senders) });
    const uk = await rig.post('/v1/messages', { from: '12345', to: '+447700900123', body: 'Parcel today' });
    const la = await rig.post('/v1/messages', { from: '12345', to: '+13105550100', body: 'Parcel today' });
    await rig.statusReached(uk.json.id as string, 'delivered');
    const held = await waitForHold(rig, la.json.id as string);
    expect(held.heldUntil).toBe('2026-11-22T16:00:00.000Z');
  });

  it('blocks a held message at dispatch when its recipient texts STOP while it waits', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 0)); // 04:00 in New York
    rig = await startRig({ store: { kind: 'memory' }, clock, edit: (c) => withWindow(c.senders) });
    const r = rig;
    const res = await r.post('/v1/messages', {
      from: '12345',
      to: '+12125550100',
      body: 'Your statement is ready',
    });
    const id = res.json.id as string;
    await waitForHold(r, id);
    // The confirmation goes out at once (replies ignore the window) and is the only submit.
    const confirmation = new Promise<string>((resolve) =>
      r.sim.once('submit', (s) => resolve(s.destination)),
    );
    r.sim.injectMo({ from: '12125550100', to: '12345', text: 'STOP' });
    expect(await confirmation).toBe('12125550100');

    const blocked = r.statusReached(id, 'blocked');
    clock.advance(Date.UTC(2026, 10, 22, 13, 0) - clock.now()); // 08:00 EST: the window opens
    const done = await blocked;
    expect(done.reason).toBe('opted_out');
    expect(done.parts.every((p) => p.smscId === null)).toBe(true);
    expect(r.sim.stats().submits).toBe(1);
  });

  it('lets a campaign send at any hour with quietHours: false, and keyword replies ignore the window', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 0)); // 04:00 in New York
    rig = await startRig({ store: { kind: 'memory' }, clock, edit: (c) => withWindow(c.senders) });
    const alert = await rig.post('/v1/messages', {
      from: '12345',
      to: '+12125550100',
      body: 'Fraud alert: reply YES if this was you',
      quietHours: false,
    });
    await rig.statusReached(alert.json.id as string, 'delivered');
    const reply = new Promise<string>((resolve) => rig!.sim.once('submit', (s) => resolve(s.destination)));
    rig.sim.injectMo({ from: '12125550100', to: '12345', text: 'HELP' });
    expect(await reply).toBe('12125550100');
  });
});
