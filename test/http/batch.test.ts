import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { makeRecord, post, startServer, VALID } from './helpers.js';

interface BatchBody {
  results: Array<{
    index: number;
    status: number;
    message?: { id: string; from: string };
    error?: { type: string; status: number; errors?: Array<{ field: string; message: string }> };
  }>;
  accepted: number;
  rejected: number;
}

describe('POST /v1/messages/batch', () => {
  it('sends the valid items, reports the invalid ones by index, and the core’s per-item errors', async () => {
    const { base, api } = await startServer();
    api.onBatch = async (requests) =>
      requests.map((r) =>
        r.from === 'NOPE'
          ? {
              ok: false,
              error: new ApiError(403, 'forbidden', 'may not send as NOPE', [
                { field: 'from', message: 'x' },
              ]),
            }
          : { ok: true, message: makeRecord({ from: r.from }) },
      );
    const messages = [
      { ...VALID, from: 'A0' },
      { ...VALID, to: 447700900123 },
      { ...VALID, from: 'NOPE' },
      'not an object',
      { ...VALID, from: 'A4', colour: 'red' },
      { ...VALID, from: 'A5' },
    ];
    const res = await post(base, '/v1/messages/batch', { messages });
    expect(res.status).toBe(200);
    const body = (await res.json()) as BatchBody;
    expect(body.results.map((r) => [r.index, r.status])).toEqual([
      [0, 202],
      [1, 400],
      [2, 403],
      [3, 400],
      [4, 400],
      [5, 202],
    ]);
    expect(body.accepted).toBe(2);
    expect(body.rejected).toBe(4);
    expect(body.results[0]!.message!.from).toBe('A0');
    expect(body.results[5]!.message!.from).toBe('A5');
    expect(body.results[1]!.error).toMatchObject({
      type: 'https://sluice.dev/problems/invalid-request',
      status: 400,
      errors: [{ field: 'messages[1].to', message: 'must be a string' }],
    });
    expect(body.results[2]!.error).toMatchObject({
      type: 'https://sluice.dev/problems/forbidden',
      status: 403,
    });
    expect(body.results[3]!.error!.errors).toEqual([
      { field: 'messages[3]', message: 'must be a JSON object' },
    ]);
    expect(body.results[4]!.error!.errors).toEqual([
      { field: 'messages[4].colour', message: 'unknown field' },
    ]);
    // One call to the core with the items of the right shape, in order.
    expect(api.batches).toHaveLength(1);
    expect(api.batches[0]!.requests.map((r) => r.from)).toEqual(['A0', 'NOPE', 'A5']);
    expect(api.batches[0]!.account.name).toBe('acme');
  });

  it('does not call the core when no item has the right shape', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages/batch', { messages: [{}, { from: 1 }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as BatchBody;
    expect(body).toMatchObject({ accepted: 0, rejected: 2 });
    expect(api.batches).toHaveLength(0);
  });

  it('answers more than 1,000 items with 413 for the whole request', async () => {
    const { base, api } = await startServer();
    // Items of the smallest JSON there is (0) keep 1,001 of them under the test server's 4 KiB limit.
    const res = await post(base, '/v1/messages/batch', `{"messages":[${'0,'.repeat(1000)}0]}`);
    expect(res.status).toBe(413);
    const p = (await res.json()) as { type: string; errors: Array<{ field: string; message: string }> };
    expect(p.type).toBe('https://sluice.dev/problems/payload-too-large');
    expect(p.errors[0]!.field).toBe('messages');
    expect(p.errors[0]!.message).toContain('1001');
    expect(api.batches).toHaveLength(0);
  });

  it('takes exactly 1,000 items', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages/batch', `{"messages":[${'0,'.repeat(999)}0]}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as BatchBody;
    expect(body.results).toHaveLength(1000);
    expect(body.rejected).toBe(1000);
    expect(body.results[999]!.index).toBe(999);
    expect(api.batches).toHaveLength(0);
  });

  it.each([
    ['an array', [VALID], [{ field: '(body)', message: 'must be a JSON object' }]],
    ['without messages', {}, [{ field: 'messages', message: 'is required' }]],
    ['with messages not an array', { messages: VALID }, [{ field: 'messages', message: 'must be an array' }]],
    ['with no messages', { messages: [] }, [{ field: 'messages', message: 'must hold 1 to 1000 messages' }]],
    [
      'with an unknown field',
      { messages: [VALID], dryRun: true },
      [{ field: 'dryRun', message: 'unknown field' }],
    ],
  ])('answers a body %s with 400 invalid-request', async (_what, body, errors) => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages/batch', body);
    expect(res.status).toBe(400);
    const p = (await res.json()) as { type: string; errors: unknown };
    expect(p.type).toBe('https://sluice.dev/problems/invalid-request');
    expect(p.errors).toEqual(errors);
    expect(api.batches).toHaveLength(0);
  });

  it('refuses an Idempotency-Key, which the batch cannot honour, rather than ignore it', async () => {
    const { base, api } = await startServer();
    const res = await post(base, '/v1/messages/batch', { messages: [VALID] }, { 'idempotency-key': 'k1' });
    expect(res.status).toBe(400);
    const p = (await res.json()) as { errors: Array<{ field: string }> };
    expect(p.errors.map((e) => e.field)).toEqual(['Idempotency-Key']);
    expect(api.batches).toHaveLength(0);
  });

  it('answers an ApiError thrown for the whole batch with its problem', async () => {
    const { base, api } = await startServer();
    api.onBatch = async () => {
      throw new ApiError(503, 'unavailable', 'store down');
    };
    const res = await post(base, '/v1/messages/batch', { messages: [VALID] });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { type: string }).type).toBe('https://sluice.dev/problems/unavailable');
  });

  it('answers 500 when the core answers a different number of results than it was given', async () => {
    const { base, api, log } = await startServer();
    api.onBatch = async () => [];
    const res = await post(base, '/v1/messages/batch', { messages: [VALID] });
    expect(res.status).toBe(500);
    expect((await log.waitFor((l) => l.level === 50)).route).toBe('/v1/messages/batch');
  });
});
