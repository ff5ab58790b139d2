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
    for (const name of [
      'SubmitRequest',
      'Message',
      'Problem',
      'BatchResult',
      'Preview',
      'OptOutEntry',
      'OptOutStatus',
      'OptOutImportReport',
    ]) {
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
    // Per operation: its body, media type and query. Operations run in the document's order, so
    // the opt-out PUT comes before the DELETE that needs its entry.
    const requests: Record<string, { body?: string; type?: string; query?: string }> = {
      'post /v1/messages': { body: JSON.stringify(VALID) },
      'post /v1/messages/batch': { body: JSON.stringify({ messages: [VALID] }) },
      'post /v1/segments': { body: JSON.stringify({ text: 'hello' }) },
      'put /v1/optouts/{number}': { body: JSON.stringify({ reason: 'asked' }) },
      'delete /v1/optouts/{number}': { query: '?scope=global' },
      'post /v1/optouts/import': { body: '+447700900124\n', type: 'text/csv' },
    };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item).filter(([m]) => METHODS.includes(m))) {
        const url = base + path.replace('{id}', record.id).replace('{number}', '+447700900123');
        const { body, type = 'application/json', query = '' } = requests[`${method} ${path}`] ?? {};
        const res = await fetch(url + query, {
          method: method.toUpperCase(),
          headers: { authorization: ACME, 'content-type': type },
          body,
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
        const url = base + path.replace('{id}', 'x').replace('{number}', '447700900123');
        const res = await fetch(url, { method: method.toUpperCase() });
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

  it('describes the rendered opt-out entry and import report field for field', async () => {
    const { base } = await startServer();
    const res = await fetch(`${base}/v1/optouts/447700900123`, {
      method: 'PUT',
      headers: { authorization: ACME, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'sender:ACME', reason: 'asked' }),
    });
    const entry = (await res.json()) as Record<string, unknown>;
    const schema = doc.components.schemas.OptOutEntry!;
    expect(Object.keys(entry).sort()).toEqual([...schema.required!].sort());
    expect(Object.keys(schema.properties!).sort()).toEqual([...schema.required!].sort());
    const request = doc.components.schemas.OptOutRequest!;
    expect(request.additionalProperties).toBe(false);
    expect(Object.keys(request.properties!).sort()).toEqual(['reason', 'scope']);

    const imported = await fetch(`${base}/v1/optouts/import?report=rows`, {
      method: 'POST',
      headers: { authorization: ACME, 'content-type': 'text/csv' },
      body: '447700900123\nbad\n',
    });
    const report = (await imported.json()) as Record<string, unknown>;
    const reportSchema = doc.components.schemas.OptOutImportReport!;
    expect(Object.keys(report).sort()).toEqual([...reportSchema.required!, 'results'].sort());
    expect(Object.keys(reportSchema.properties!).sort()).toEqual(Object.keys(report).sort());
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
