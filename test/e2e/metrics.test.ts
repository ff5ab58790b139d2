/**
 * GET /metrics after real traffic (a delivered message, a failed one, a batch, refused requests),
 * checked by Prometheus's own linter: `promtool check metrics` must find nothing to say. And every
 * family the SRE dashboards are built on has samples.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandStatus } from '../../src/smpp/constants.js';
import { type Rig, startRig, storeMatrix } from './helpers.js';

let rig: Rig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

const stores = storeMatrix('metrics');

/** promtool's verdict on an exposition: its exit code and everything it printed. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe.each(stores)('GET /metrics with the %s store', (_, store) => {
  it('passes promtool check metrics after traffic, every family with samples', async () => {
    rig = await startRig({
      store: store(),
      sim: {
        decideSubmit: (pdu) => (pdu.destination_addr.endsWith('99') ? CommandStatus.ESME_RINVDSTADR : 0),
      },
    });
    const ok = await rig.post('/v1/messages', {
      from: '12345',
      to: '+447700900123',
      body: 'Your code is 4711',
    });
    const bad = await rig.post('/v1/messages', {
      from: '12345',
      to: '+447700900199',
      body: 'Your code is 4712',
    });
    expect([ok.status, bad.status]).toEqual([202, 202]);
    await rig.statusReached(ok.json.id as string, 'delivered');
    await rig.statusReached(bad.json.id as string, 'failed');
    const batch = await rig.post('/v1/messages/batch', {
      messages: [
        { from: '12345', to: '+447700900124', body: 'one' },
        { from: '12345', to: 'not a number', body: 'two' },
      ],
    });
    expect(batch.status).toBe(200);
    expect((await rig.post('/v1/messages', { from: '12345' })).status).toBe(400);
    expect((await rig.get('/v1/messages/01KAQ5Z4J8X3M1V2B7N6C5D4E3')).status).toBe(404);

    const res = await fetch(`http://127.0.0.1:${rig.gateway.httpPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: '' });

    const sampled = new Set(
      text
        .split('\n')
        .filter((l) => l.startsWith('sluice_'))
        .map((l) => /^(\w+?)(?:_bucket|_sum|_count)?[{ ]/.exec(l)?.[1]),
    );
    for (const family of [
      'sluice_messages_total',
      'sluice_parts_submitted_total',
      'sluice_submit_response_seconds',
      'sluice_submit_receipt_seconds',
      'sluice_receipts_total',
      'sluice_window_in_flight',
      'sluice_binds_up',
      'sluice_queue_depth',
      'sluice_http_requests_total',
      'sluice_http_request_seconds',
    ]) {
      expect(sampled, family).toContain(family);
    }
  });
});
