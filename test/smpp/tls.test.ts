import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmppClient, SmppServer } from '../../src/smpp/index.js';

let dir: string;
let key: Buffer;
let cert: Buffer;

beforeAll(() => {
  // A throwaway self-signed certificate for localhost, made for this run only.
  dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  key = readFileSync(join(dir, 'key.pem'));
  cert = readFileSync(join(dir, 'cert.pem'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SMPP over TLS', () => {
  it('binds and submits over TLS, verifying the server certificate', async () => {
    const server = new SmppServer({ authenticate: () => 0, tls: { key, cert } });
    server.on('bound', (s) => s.on('request', (pdu) => s.respond(pdu, { message_id: 'tls-1' })));
    const { port } = await server.listen(0);
    const client = new SmppClient({
      host: 'localhost',
      port,
      system_id: 'esme',
      password: 'pw',
      tls: { ca: cert },
    });
    const bound = once(client, 'bound');
    client.start();
    await bound;
    expect((await client.submit({ destination_addr: '447700900123' })).message_id).toBe('tls-1');
    await client.stop();
    await server.close();
  });

  it('refuses a server whose certificate it does not trust', async () => {
    const server = new SmppServer({ authenticate: () => 0, tls: { key, cert } });
    const { port } = await server.listen(0);
    const client = new SmppClient({ host: 'localhost', port, system_id: 'esme', password: 'pw', tls: true });
    const failed = once(client, 'connect_failed') as Promise<[{ error: Error }]>;
    client.start();
    const [info] = await failed;
    expect(info.error.message).toMatch(/self[- ]signed|certificate/i);
    await client.stop();
    await server.close();
  });
});
