/**
 * GET /metrics after real traffic (a delivered message, a failed one, a batch, refused requests),
 * checked by Prometheus's own linter: `promtool check metrics` must find nothing to say. And every
 * family the SRE dashboards are built on has samples.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandStatus } from '../../src/smpp/constants.js';
import { gatewayOnRawSmsc, type Rig, startRig, storeMatrix } from './helpers.js';

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
    // Every answered submit is timed, the refused ones too (not only those the SMSC took).
    const sum = (family: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(family))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(text).toMatch(/^sluice_parts_submitted_total\{[^}]*outcome="ESME_RINVDSTADR"\} 1$/m);
    expect(sum('sluice_submit_response_seconds_count')).toBe(sum('sluice_parts_submitted_total'));
    expect(text).toMatch(/^sluice_build_info\{version="\d+\.\d+\.\d+",node="[\d.]+"\} 1$/m);
    // No duplicate yet, and the series says so (an alert on increase() sees the first).
    expect(text).toMatch(/^sluice_duplicate_submits_total\{connector="[^"]+",reason="reclaimed"\} 0$/m);

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
      'sluice_binds_configured',
      'sluice_build_info',
      'sluice_bind_attempts_total',
      'sluice_queue_depth',
      'sluice_queue_oldest_seconds',
      'sluice_http_requests_total',
      'sluice_http_request_seconds',
    ]) {
      expect(sampled, family).toContain(family);
    }
  });
});

describe('bind metrics', () => {
  it('show a connector that has never bound as 0 of 1, and count refused and successful binds', async () => {
    const { raw, gateway, config } = await gatewayOnRawSmsc();
    const scrape = async () => (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
    const sample = (text: string, series: string) =>
      new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1];
    const name = config.connectors[0]!.name;
    try {
      // Before any bind: the alert `sluice_binds_up < sluice_binds_configured` can fire.
      const before = await scrape();
      expect(sample(before, `sluice_binds_up{connector="${name}",mode="transceiver"}`)).toBe('0');
      expect(sample(before, `sluice_binds_configured{connector="${name}",mode="transceiver"}`)).toBe('1');

      const first = await raw.accept();
      const refused = await first.expect('bind_transceiver');
      first.sendPdu('bind_transceiver_resp', {}, refused.sequence_number, CommandStatus.ESME_RINVPASWD);
      // The client dials again only after it has counted the refusal.
      const second = await raw.accept();
      const bind = await second.expect('bind_transceiver');
      second.sendPdu('bind_transceiver_resp', { system_id: 'raw' }, bind.sequence_number);
      // An enquire_link answered on the new bind: the client has taken the bind by then.
      second.sendPdu('enquire_link', {}, 77);
      expect((await second.expect('enquire_link_resp')).sequence_number).toBe(77);

      const after = await scrape();
      expect(sample(after, `sluice_bind_attempts_total{connector="${name}",result="refused"}`)).toBe('1');
      expect(sample(after, `sluice_bind_attempts_total{connector="${name}",result="bound"}`)).toBe('1');
      expect(sample(after, `sluice_binds_up{connector="${name}",mode="transceiver"}`)).toBe('1');
      expect(await promtoolCheck(after)).toEqual({ code: 0, output: '' });
    } finally {
      await raw.close();
      await gateway.stop('test done');
    }
  });
});
