/**
 * The opt-out store contract (OptOutStore in src/policy/optouts.ts), one suite for every
 * implementation.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type OptOutEntry,
  type OptOutScope,
  type OptOutStore,
  scopeGlobal,
  scopeProgram,
  scopeSender,
} from '../../src/policy/optouts.js';

export interface OptOutHarness {
  store: OptOutStore;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);
const GLOBAL = scopeGlobal();
const PROMO = scopeProgram('promo');
const SHORTCODE = scopeSender('12345');

export function optOut(
  number: string,
  scope: OptOutScope,
  overrides: Partial<OptOutEntry> = {},
): OptOutEntry {
  return {
    number,
    scope,
    at: T0,
    source: 'api',
    keyword: null,
    reason: null,
    sender: null,
    ...overrides,
  };
}

async function collect(pages: AsyncIterable<OptOutEntry[]>): Promise<OptOutEntry[][]> {
  const out: OptOutEntry[][] = [];
  for await (const page of pages) out.push(page);
  return out;
}

function byNumberAndScope(a: OptOutEntry, b: OptOutEntry): number {
  return a.number === b.number ? (a.scope < b.scope ? -1 : 1) : a.number < b.number ? -1 : 1;
}

/** n distinct valid numbers, 12 digits each, starting at a UK-looking base. */
function numbers(n: number, base = 447700000000): string[] {
  return Array.from({ length: n }, (_, i) => String(base + i));
}

export function describeOptOutStoreContract(name: string, makeStore: () => Promise<OptOutHarness>): void {
  describe(`opt-out store contract: ${name}`, () => {
    let h: OptOutHarness;
    let store: OptOutStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe('check', () => {
      it('answers each query with the entry of the first scope given in which the number is opted out', async () => {
        const viaKeyword = optOut('447700900001', SHORTCODE, {
          source: 'keyword',
          keyword: 'STOP',
          sender: '12345',
          at: T0 + 5,
        });
        const everywhere = optOut('447700900001', GLOBAL, { reason: 'complaint', at: T0 + 9 });
        await store.add([viaKeyword, everywhere, optOut('447700900002', PROMO)]);

        const answers = await store.check([
          { number: '447700900001', scopes: [SHORTCODE, PROMO, GLOBAL] },
          { number: '447700900001', scopes: [PROMO, GLOBAL, SHORTCODE] },
          { number: '447700900001', scopes: [PROMO] },
          { number: '447700900002', scopes: [SHORTCODE, PROMO, GLOBAL] },
          { number: '447700900003', scopes: [SHORTCODE, PROMO, GLOBAL] },
          { number: '447700900001', scopes: [] },
        ]);
        expect(answers).toEqual([viaKeyword, everywhere, null, optOut('447700900002', PROMO), null, null]);
      });

      it('answers an empty batch with an empty list', async () => {
        expect(await store.check([])).toEqual([]);
      });
    });

    describe('add', () => {
      it('reports per entry whether it is new in its scope, and keeps the first entry as it was', async () => {
        const first = optOut('447700900001', GLOBAL, { source: 'import', reason: 'list A', at: T0 });
        expect(await store.add([first, optOut('447700900001', PROMO)])).toEqual([true, true]);
        const again = optOut('447700900001', GLOBAL, { source: 'keyword', keyword: 'STOP', at: T0 + 1000 });
        expect(await store.add([again, optOut('447700900002', GLOBAL)])).toEqual([false, true]);
        expect(await store.check([{ number: '447700900001', scopes: [GLOBAL] }])).toEqual([first]);
        expect(await store.get('447700900001')).toEqual([first, optOut('447700900001', PROMO)]);
      });

      it('applies a batch in order: the same number and scope twice gives true, then false', async () => {
        const a = optOut('447700900001', GLOBAL, { at: T0 });
        const b = optOut('447700900001', GLOBAL, { at: T0 + 1 });
        expect(await store.add([a, b])).toEqual([true, false]);
        expect(await store.get('447700900001')).toEqual([a]);
        expect((await store.history('447700900001', 10)).map((e) => e.at)).toEqual([T0, T0 + 1]);
      });

      it('accepts an empty batch', async () => {
        expect(await store.add([])).toEqual([]);
        expect(await store.remove([])).toEqual([]);
      });

      it('shares no object with the caller, in or out', async () => {
        const entry = optOut('447700900001', GLOBAL, { reason: 'original' });
        await store.add([entry]);
        entry.reason = 'changed after add';
        const [got] = await store.get('447700900001');
        expect(got!.reason).toBe('original');
        got!.reason = 'changed after get';
        const [checked] = await store.check([{ number: '447700900001', scopes: [GLOBAL] }]);
        expect(checked!.reason).toBe('original');
        checked!.at = 0;
        const [event] = await store.history('447700900001', 1);
        expect(event!.reason).toBe('original');
        event!.reason = 'changed after history';
        expect((await store.history('447700900001', 1))[0]!.reason).toBe('original');
        expect((await store.get('447700900001'))[0]!.at).toBe(T0);
      });

      it('keeps every field, text with quotes, braces and non-BMP characters included', async () => {
        const entry = optOut('447700900001', scopeSender('Acme & Co. {x}'), {
          source: 'keyword',
          keyword: 'ARRÊT',
          reason: 'said "stop" 😀 {"at":1}\n',
          sender: 'Acme & Co. {x}',
          at: T0 + 123,
        });
        await store.add([entry]);
        expect(await store.get('447700900001')).toEqual([entry]);
        expect(await store.history('447700900001', 1)).toEqual([{ action: 'opt_out', ...entry }]);
      });

      it('rejects a batch with a malformed entry and writes none of it', async () => {
        const good = optOut('447700900001', GLOBAL);
        const bad: OptOutEntry[] = [
          optOut('+447700900002', GLOBAL),
          optOut('0447700900002', GLOBAL),
          optOut('1234567890123456', GLOBAL),
          optOut('4477}00', GLOBAL),
          optOut('44770*', GLOBAL),
          optOut('', GLOBAL),
          optOut('447700900002', 'everywhere' as OptOutScope),
          optOut('447700900002', 'program:' as OptOutScope),
          optOut('447700900002', GLOBAL, { at: -1 }),
          optOut('447700900002', GLOBAL, { at: 1.5 }),
          optOut('447700900002', GLOBAL, { source: 'fax' as OptOutEntry['source'] }),
          optOut('447700900002', GLOBAL, { reason: '' }),
          optOut('447700900002', GLOBAL, { reason: 'x'.repeat(501) }),
          optOut('447700900002', GLOBAL, { sender: 'é' }),
        ];
        for (const entry of bad) {
          await expect(store.add([good, entry])).rejects.toMatchObject({ code: 'SLUICE_ERR_OPTOUT_INVALID' });
          await expect(store.remove([good, entry])).rejects.toMatchObject({
            code: 'SLUICE_ERR_OPTOUT_INVALID',
          });
        }
        expect(await store.get('447700900001')).toEqual([]);
        expect(await store.history('447700900001', 10)).toEqual([]);
        await expect(store.check([{ number: '4477*', scopes: [GLOBAL] }])).rejects.toMatchObject({
          code: 'SLUICE_ERR_OPTOUT_INVALID',
          field: 'number',
        });
        await expect(store.get('x')).rejects.toMatchObject({ code: 'SLUICE_ERR_OPTOUT_INVALID' });
        await expect(store.history('447700900001', -1)).rejects.toMatchObject({ field: 'limit' });
        await expect(store.history('447700900001', 1.5)).rejects.toMatchObject({ field: 'limit' });
        expect(() => store.scan(null, 0)).toThrow(/pageSize must be a whole number of at least 1/);
        expect(() => store.scan('nowhere' as OptOutScope, 10)).toThrow(/scope must be 'global'/);
      });
    });

    describe('remove', () => {
      it('removes the entry of that scope only and reports whether there was one', async () => {
        await store.add([optOut('447700900001', GLOBAL), optOut('447700900001', PROMO)]);
        const optIn = optOut('447700900001', PROMO, { source: 'keyword', keyword: 'START', sender: '12345' });
        expect(await store.remove([optIn, optOut('447700900002', GLOBAL)])).toEqual([true, false]);
        expect(await store.get('447700900001')).toEqual([optOut('447700900001', GLOBAL)]);
        expect(await store.check([{ number: '447700900001', scopes: [PROMO] }])).toEqual([null]);
        expect(await store.remove([optOut('447700900001', GLOBAL)])).toEqual([true]);
        expect(await store.get('447700900001')).toEqual([]);
        // Opted out again after an opt-in: new again.
        expect(await store.add([optOut('447700900001', GLOBAL)])).toEqual([true]);
      });

      it('writes the audit event even when there was nothing to remove', async () => {
        const optIn = optOut('447700900009', GLOBAL, {
          source: 'api',
          reason: 'customer called',
          at: T0 + 7,
        });
        expect(await store.remove([optIn])).toEqual([false]);
        expect(await store.history('447700900009', 10)).toEqual([{ action: 'opt_in', ...optIn }]);
        expect(await store.get('447700900009')).toEqual([]);
      });
    });

    describe('get and history', () => {
      it('get lists every scope of the number: global, then programs, then senders', async () => {
        const entries = [
          optOut('447700900001', scopeSender('ACME')),
          optOut('447700900001', scopeProgram('zeta')),
          optOut('447700900001', GLOBAL),
          optOut('447700900001', scopeSender('12345')),
          optOut('447700900001', scopeProgram('alpha')),
        ];
        await store.add(entries);
        expect((await store.get('447700900001')).map((e) => e.scope)).toEqual([
          'global',
          'program:alpha',
          'program:zeta',
          'sender:12345',
          'sender:ACME',
        ]);
        expect(await store.get('447700900002')).toEqual([]);
      });

      it('history gives the latest events, oldest first, at most limit', async () => {
        const n = '447700900001';
        await store.add([optOut(n, GLOBAL, { at: T0 + 1, source: 'import', reason: 'list' })]);
        await store.add([
          optOut(n, SHORTCODE, { at: T0 + 2, source: 'keyword', keyword: 'STOP', sender: '12345' }),
        ]);
        await store.remove([optOut(n, GLOBAL, { at: T0 + 3, source: 'api', reason: 'consent renewed' })]);
        await store.add([
          optOut(n, SHORTCODE, { at: T0 + 4, source: 'keyword', keyword: 'STOP', sender: '12345' }),
        ]);
        await store.add([optOut('447700900002', GLOBAL, { at: T0 + 5 })]);

        const all = await store.history(n, 100);
        expect(all.map((e) => [e.action, e.scope, e.at])).toEqual([
          ['opt_out', 'global', T0 + 1],
          ['opt_out', 'sender:12345', T0 + 2],
          ['opt_in', 'global', T0 + 3],
          ['opt_out', 'sender:12345', T0 + 4],
        ]);
        expect(all[2]).toEqual({
          action: 'opt_in',
          ...optOut(n, GLOBAL, { at: T0 + 3, reason: 'consent renewed' }),
        });
        expect(await store.history(n, 2)).toEqual(all.slice(2));
        expect(await store.history(n, 4)).toEqual(all);
        expect(await store.history(n, 0)).toEqual([]);
        expect(await store.history('447700900003', 10)).toEqual([]);
      });
    });

    describe('scan', () => {
      it('yields every entry exactly once, over several non-empty pages of about pageSize', async () => {
        const all: OptOutEntry[] = [];
        for (const [i, n] of numbers(300).entries()) {
          all.push(optOut(n, GLOBAL, { at: T0 + i }));
          if (i % 3 === 0) all.push(optOut(n, PROMO, { at: T0 + i }));
        }
        await store.add(all);
        // Opted in again: gone from the export, still in the history.
        await store.remove([optOut(numbers(1)[0]!, GLOBAL)]);
        const expected = all.slice(1);

        const pages = await collect(store.scan(null, 50));
        expect(pages.length).toBeGreaterThan(1);
        for (const page of pages) {
          expect(page.length).toBeGreaterThan(0);
          // "About": a page may run over by what one step (one number's scopes, one SCAN) adds.
          expect(page.length).toBeLessThan(50 * 4);
        }
        expect(pages.flat().sort(byNumberAndScope)).toEqual(expected.sort(byNumberAndScope));
      });

      it('yields only the entries of the scope asked for', async () => {
        const entries = numbers(120).flatMap((n, i) =>
          i % 4 === 0 ? [optOut(n, GLOBAL), optOut(n, PROMO)] : [optOut(n, i % 2 === 0 ? PROMO : SHORTCODE)],
        );
        await store.add(entries);
        for (const scope of [GLOBAL, PROMO, SHORTCODE, scopeProgram('none')]) {
          const got = (await collect(store.scan(scope, 7))).flat();
          const want = entries.filter((e) => e.scope === scope);
          expect(got.sort(byNumberAndScope)).toEqual(want.sort(byNumberAndScope));
        }
      });

      it('yields nothing from an empty store, and may be abandoned after the first page', async () => {
        expect(await collect(store.scan(null, 10))).toEqual([]);
        await store.add(numbers(100).map((n) => optOut(n, GLOBAL)));
        for await (const page of store.scan(null, 10)) {
          expect(page.length).toBeGreaterThan(0);
          break;
        }
      });
    });

    it('handles a batch of 5,000 entries in one call each way', async () => {
      const many = numbers(5_000, 15550000000).map((n, i) =>
        optOut(n, i % 2 === 0 ? GLOBAL : PROMO, { source: 'import', at: T0 + i }),
      );
      expect(await store.add(many)).toEqual(many.map(() => true));
      expect(await store.add(many.slice(0, 10))).toEqual(many.slice(0, 10).map(() => false));
      const answers = await store.check(many.map((e) => ({ number: e.number, scopes: [GLOBAL, PROMO] })));
      expect(answers).toEqual(many);
      expect((await collect(store.scan(null, 1_000))).flat().length).toBe(5_000);
      expect(await store.remove(many)).toEqual(many.map(() => true));
      expect(await collect(store.scan(null, 1_000))).toEqual([]);
    });

    it('takes numbers of unusual but valid digits: short, 15 long, runs of zeros and nines', async () => {
      const unusual = ['1', '7', '10', '100000000000000', '999999999999999', '800000000', '123456789012345'];
      const entries = unusual.map((n) => optOut(n, GLOBAL, { at: T0 + n.length }));
      expect(await store.add(entries)).toEqual(unusual.map(() => true));
      expect(await store.check(unusual.map((n) => ({ number: n, scopes: [GLOBAL] })))).toEqual(entries);
      for (const e of entries) {
        expect(await store.get(e.number)).toEqual([e]);
        expect(await store.history(e.number, 5)).toEqual([{ action: 'opt_out', ...e }]);
      }
      // '1' is not a prefix of '10' or of anything else.
      expect(await store.remove([optOut('1', GLOBAL)])).toEqual([true]);
      expect((await store.check([{ number: '10', scopes: [GLOBAL] }]))[0]).toEqual(entries[2]);
      expect((await collect(store.scan(null, 3))).flat().sort(byNumberAndScope)).toEqual(
        entries.slice(1).sort(byNumberAndScope),
      );
    });
  });
}
