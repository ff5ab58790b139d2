/**
 * `npm run bench -- codec [--json] [--duration MS]`: messages per second through the text engine on
 * one core. Each case warms up, then runs for a fixed time in batches, reading the clock once per
 * batch; the result of every call feeds a checksum so that no call can be optimised away.
 */
import { parseArgs } from 'node:util';
import { decodeShortMessage, type PlanOptions, planMessage } from '../src/codec/index.js';

/** A one-time-password notification, 117 characters of GSM-7: the typical one-part message. */
const GSM_ONE_PART =
  'Your Sluice verification code is 482913. It expires in 10 minutes. Never share this code, not even with our support team.';

/** The same with a euro amount: an ESC pair takes planMessage off its fast path. */
const GSM_ONE_PART_ESC =
  'Your Sluice order of €24.90 has shipped. Track it at https://example.com/t/8f3k2 or reply HELP for help.';

/** An appointment reminder with a link, 412 characters of GSM-7 (an escaped € included): 3 parts. */
const GSM_THREE_PARTS =
  'Hello Maria, this is a reminder of your appointment at the Riverside dental clinic on Tuesday 14 May at 09:30. ' +
  'Please arrive ten minutes early and bring your insurance card and a list of the medicines you take. ' +
  'The consultation costs €45, payable at the desk. To confirm, reschedule or cancel, use https://example.com/a/8f3k2 ' +
  'or call us on 020 7946 0018 between 8:00 and 18:00. Reply STOP to stop these reminders.';

/** Cyrillic, 120 UTF-16 units: 2 parts as UCS-2 (70 would fit one). */
const UCS2_TWO_PARTS =
  'Здравствуйте! Ваш заказ №48213 передан в службу доставки. Курьер привезёт его завтра с 10:00 до 14:00. Спасибо за покупку!';

/** Cyrillic with emoji (a ZWJ family, a flag, a skin tone): grapheme clusters are computed. */
const UCS2_EMOJI =
  'Поздравляем с днём рождения! 🎉🎂 Желаем счастья всей семье 👨‍👩‍👧 и удачи во всём 👍🏽 — ваш магазин 🇷🇺. Скидка 20% до конца недели!';

interface Case {
  readonly name: string;
  readonly parts: number;
  readonly run: () => number;
}

interface Result {
  readonly name: string;
  readonly parts: number;
  readonly messagesPerSecond: number;
  readonly nsPerMessage: number;
  readonly iterations: number;
}

function planCase(name: string, text: string, options: PlanOptions): Case {
  const parts = planMessage(text, options).parts.length;
  return { name, parts, run: () => planMessage(text, options).parts[0]!.bytes.length };
}

function cases(): Case[] {
  const opts: PlanOptions = { mode: 'udh8', reference: 42 };
  const sample = planMessage(GSM_ONE_PART, opts).parts[0]!.bytes;
  return [
    planCase('plan: 1-part GSM-7', GSM_ONE_PART, opts),
    planCase('plan: 1-part GSM-7 with ESC', GSM_ONE_PART_ESC, opts),
    planCase('plan: 3-part GSM-7', GSM_THREE_PARTS, opts),
    planCase('plan: 2-part UCS-2', UCS2_TWO_PARTS, opts),
    planCase('plan: UCS-2 with emoji', UCS2_EMOJI, opts),
    planCase('plan: 1-part GSM-7, packed', GSM_ONE_PART, { ...opts, packed: true }),
    {
      name: 'decode: 1-part GSM-7',
      parts: 1,
      run: () => decodeShortMessage(sample, 0x00).text!.length,
    },
  ];
}

const BATCH = 1000;

function measure(c: Case, durationMs: number): Result & { checksum: number } {
  let checksum = 0;
  // Warm-up: let the JIT settle on optimised code before timing.
  const warmEnd = performance.now() + Math.min(500, durationMs / 2);
  while (performance.now() < warmEnd) for (let i = 0; i < BATCH; i++) checksum += c.run();
  let iterations = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(durationMs * 1e6));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < BATCH; i++) checksum += c.run();
    iterations += BATCH;
    now = process.hrtime.bigint();
  }
  const ns = Number(now - start);
  return {
    name: c.name,
    parts: c.parts,
    messagesPerSecond: Math.round((iterations * 1e9) / ns),
    nsPerMessage: Math.round((ns / iterations) * 10) / 10,
    iterations,
    checksum,
  };
}

export async function main(argv: string[]): Promise<number> {
  let values: { json?: boolean; duration?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        duration: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`bench codec: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (values.help) {
    console.log('usage: npm run bench -- codec [--json] [--duration MS]   (MS per case, default 3000)');
    return 0;
  }
  const durationMs = values.duration === undefined ? 3000 : Number(values.duration);
  if (!Number.isFinite(durationMs) || durationMs < 100) {
    console.error(`bench codec: --duration must be a number of milliseconds >= 100, got ${values.duration}`);
    return 2;
  }
  const results: Result[] = [];
  let checksum = 0;
  for (const c of cases()) {
    const { checksum: sum, ...r } = measure(c, durationMs);
    checksum += sum;
    results.push(r);
  }
  const onePart = results[0]!.messagesPerSecond;
  const goal = 1_000_000;
  const environment = { node: process.version, platform: `${process.platform}-${process.arch}`, durationMs };
  if (values.json) {
    console.log(
      JSON.stringify({
        bench: 'codec',
        environment,
        results,
        goal: { onePartPerSecond: goal, met: onePart >= goal },
      }),
    );
    return 0;
  }
  console.log(`codec bench: node ${process.version}, ${durationMs} ms per case, one core\n`);
  console.log(`${'case'.padEnd(30)} ${'parts'.padStart(5)} ${'msgs/s'.padStart(12)} ${'ns/msg'.padStart(9)}`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(30)} ${String(r.parts).padStart(5)} ${r.messagesPerSecond.toLocaleString('en-US').padStart(12)} ${r.nsPerMessage.toFixed(1).padStart(9)}`,
    );
  }
  console.log(
    `\ngoal: >= ${goal.toLocaleString('en-US')} one-part messages/s: ${onePart >= goal ? 'met' : 'NOT met'} (checksum ${checksum})`,
  );
  return 0;
}
