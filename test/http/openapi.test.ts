/**
 * openapi.yaml against the server: the same routes both ways, every documented operation answers with
 * a status it documents, and the documented shapes are the rendered ones.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROUTES } from '../../src/http/index.js';
import { ACME, makeRecord, startServer, VALID } from './helpers.js';

interface Operation {
  security?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}
interface Schema {
  required?: string[];
  properties?: Record<string, unknown>;
  additionalProperties?: boolean;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Schema>;
    securitySchemes: Record<string, { type: string; scheme: string }>;
  };
  security: Array<Record<string, unknown>>;
}

const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as Document;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function documented(): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((k) => METHODS.includes(k))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

describe('openapi.yaml', () => {
  it('is OpenAPI 3.1 with bearer security and the named schemas', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.components.securitySchemes.bearer).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const name of ['SubmitRequest', 'Message', 'Problem', 'BatchResult', 'Preview']) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
  });

  it('documents exactly the routes the server serves', () => {
    const served = ROUTES.map((r) => `${r.method.toUpperCase()} ${r.template}`);
    expect(documented().sort()).toEqual(served.sort());
  });

  it('marks exactly the routes without authentication as security: []', () => {
    for (const r of ROUTES) {
      const op = doc.paths[r.template]![r.method]!;
      expect(op.security, `${r.method} ${r.template}`).toEqual(r.auth ? undefined : []);
      expect(op.requestBody !== undefined, `${r.method} ${r.template}`).toBe(r.body);
    }
  });

  it('every documented operation answers over HTTP with a status it documents', async () => {
    const { base, api } = await startServer();
    const record = makeRecord();
    api.records.set(record.id, record);
    const bodies: Record<string, unknown> = {
      '/v1/messages': VALID,
      '/v1/messages/batch': { messages: [VALID] },
      '/v1/segments': { text: 'hello' },
    };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const url = base + path.replace('{id}', record.id);
        const body = bodies[path];
        const res = await fetch(url, {
          method: method.toUpperCase(),
          headers: { authorization: ACME, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        expect(Object.keys(op.responses), `${method} ${path}`).toContain(String(res.status));
        expect(res.status, `${method} ${path}`).toBeLessThan(300);
      }
    }
  });

  it('answers 405 to every method a documented path does not document', async () => {
    const { base } = await startServer();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of ['get', 'post', 'put', 'delete', 'patch'].filter((m) => !(m in item))) {
        const res = await fetch(base + path.replace('{id}', 'x'), { method: method.toUpperCase() });
        expect(res.status, `${method} ${path}`).toBe(405);
      }
    }
  });

  it('describes the rendered message field for field, and every field the API takes', async () => {
    const { base } = await startServer();
    const res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: ACME, 'content-type': 'application/json' },
      body: JSON.stringify(VALID),
    });
    const message = (await res.json()) as Record<string, unknown>;
    const schema = doc.components.schemas.Message!;
    expect(Object.keys(message).sort()).toEqual([...schema.required!].sort());
    expect(Object.keys(schema.properties!).sort()).toEqual([...schema.required!].sort());

    // A request holding every documented property is of the right shape (none is unknown).
    const submit = doc.components.schemas.SubmitRequest!;
    expect(submit.additionalProperties).toBe(false);
    const everything = {
      ...VALID,
      reference: 'r',
      campaignId: 'c',
      callbackUrl: 'https://example.com/cb',
      validitySeconds: 60,
      encoding: 'auto',
      smartEncoding: true,
      quietHours: { start: '08:00', end: '21:00' },
    };
    expect(Object.keys(everything).sort()).toEqual(Object.keys(submit.properties!).sort());
    const full = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { authorization: ACME, 'content-type': 'application/json' },
      body: JSON.stringify(everything),
    });
    expect(full.status).toBe(202);
  });

  it('describes the rendered preview field for field', async () => {
    const { base } = await startServer();
    const res = await fetch(`${base}/v1/segments`, {
      method: 'POST',
      headers: { authorization: ACME, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello' }),
    });
    const preview = (await res.json()) as Record<string, unknown>;
    const schema = doc.components.schemas.Preview!;
    expect(Object.keys(preview).sort()).toEqual([...schema.required!].sort());
    expect(Object.keys(schema.properties!).sort()).toEqual([...schema.required!].sort());
  });
});
