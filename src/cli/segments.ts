/**
 * `sluice segments [options] TEXT`: how a text would be sent: encoding, parts and their text, the
 * characters that forced UCS-2, smart-encoding replacements, warnings.
 */
import { parseArgs } from 'node:util';
import {
  type EncodingChoice,
  type MessagePreview,
  NATIONAL_LANGUAGE,
  type NationalLanguage,
  type PlanOptions,
  previewMessage,
  SEGMENT_MODE,
  type SegmentMode,
} from '../codec/index.js';
import { CodecOptionError, TooManyPartsError, UnencodableTextError } from '../errors.js';
import type { Command } from './main.js';

export interface SegmentsIo {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
}

const USAGE = `usage: sluice segments [options] TEXT
       sluice segments [options] -        (reads the text from standard input)

Shows how TEXT would be sent: encoding, parts, each part's text and size, the characters that
forced UCS-2, smart-encoding replacements and warnings.

options:
  --mode MODE         udh8 (default), udh16, sar or payload
  --encoding ENC      auto (default), gsm7 or ucs2
  --no-smart          do not replace look-alike characters (curly quotes, dashes...)
  --national LANGS    allow national shift tables: turkish,spanish,portuguese (or tr,es,pt)
  --max-parts N       most parts allowed, 1..255 (default 10)
  --packed            pack GSM-7 septets (8 in 7 octets)
  --json              print one JSON object
  -h, --help          this help

From standard input, one trailing line break is dropped (the one a shell or editor adds).
Exit status: 0 shown, 1 the text cannot be sent as asked, 2 usage error.`;

const LANGUAGE_ALIASES: Readonly<Record<string, NationalLanguage>> = {
  tr: 'turkish',
  es: 'spanish',
  pt: 'portuguese',
  turkish: 'turkish',
  spanish: 'spanish',
  portuguese: 'portuguese',
};

class UsageError extends Error {}

/** Characters listed as forcing UCS-2 in the table view; --json lists them all. */
const MAX_LISTED = 12;

function parseRaw(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        mode: { type: 'string' },
        encoding: { type: 'string' },
        'no-smart': { type: 'boolean' },
        national: { type: 'string' },
        'max-parts': { type: 'string' },
        packed: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function parse(argv: string[]): {
  options: PlanOptions;
  json: boolean;
  help: boolean;
  text: string | undefined;
} {
  const parsed = parseRaw(argv);
  const v = parsed.values;
  if (v.help) return { options: {}, json: false, help: true, text: undefined };
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0
        ? 'missing TEXT (use - to read it from standard input)'
        : `expected one TEXT argument, got ${parsed.positionals.length}: quote the text`,
    );
  }
  const options: {
    mode?: SegmentMode;
    encoding?: EncodingChoice;
    smartEncoding?: boolean;
    nationalLanguages?: NationalLanguage[];
    maxParts?: number;
    packed?: boolean;
  } = {};
  if (v.mode !== undefined) {
    if (!Object.hasOwn(SEGMENT_MODE, v.mode)) {
      throw new UsageError(`--mode must be one of ${Object.keys(SEGMENT_MODE).join(', ')}, got '${v.mode}'`);
    }
    options.mode = v.mode as SegmentMode;
  }
  if (v.encoding !== undefined) {
    if (v.encoding !== 'auto' && v.encoding !== 'gsm7' && v.encoding !== 'ucs2') {
      throw new UsageError(`--encoding must be auto, gsm7 or ucs2, got '${v.encoding}'`);
    }
    options.encoding = v.encoding;
  }
  if (v['no-smart']) options.smartEncoding = false;
  if (v.national !== undefined) {
    options.nationalLanguages = v.national.split(',').map((name) => {
      const lang = LANGUAGE_ALIASES[name.trim().toLowerCase()];
      if (lang === undefined) {
        throw new UsageError(`--national takes ${Object.keys(NATIONAL_LANGUAGE).join(', ')}, got '${name}'`);
      }
      return lang;
    });
  }
  if (v['max-parts'] !== undefined) {
    const n = Number(v['max-parts']);
    if (!Number.isInteger(n) || n < 1 || n > 255) {
      throw new UsageError(`--max-parts must be an integer 1..255, got '${v['max-parts']}'`);
    }
    options.maxParts = n;
  }
  if (v.packed) options.packed = true;
  return { options, json: v.json === true, help: false, text: parsed.positionals[0] };
}

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function render(p: MessagePreview): string {
  const unit = p.encoding === 'gsm7' ? 'septets' : 'UTF-16 units';
  const national =
    p.national === null
      ? p.encoding === 'gsm7'
        ? ', default alphabet'
        : ''
      : `, national tables: locking ${p.national.locking ?? 'default'}, single shift ${p.national.single ?? 'default'}`;
  const lines = [
    `encoding   ${p.encoding === 'gsm7' ? 'GSM-7' : 'UCS-2'} (data_coding 0x${p.dataCoding.toString(16).padStart(2, '0')})${national}`,
    p.mode === 'payload'
      ? `mode       payload: one message_payload; the SMSC sends it as about ${p.segmentCount} part(s)`
      : p.partCount === 1
        ? `mode       ${p.mode}, one part of up to ${p.unitsPerPart} ${unit}`
        : `mode       ${p.mode}, ${p.unitsPerPart} ${unit} per part`,
    `parts      ${p.partCount} (${p.units} ${unit})`,
  ];
  const width = String(p.unitsPerPart).length;
  for (const part of p.parts) {
    const size =
      p.mode === 'payload' ? String(part.units) : `${String(part.units).padStart(width)}/${p.unitsPerPart}`;
    lines.push(`  #${part.seq}  ${size}  ${JSON.stringify(part.text)}`);
  }
  if (p.forcedUcs2.length > 0) {
    lines.push('forced UCS-2 by:');
    for (const c of p.forcedUcs2.slice(0, MAX_LISTED)) {
      const shown = c.char.codePointAt(0)! < 0x20 ? '' : `'${c.char}' `;
      lines.push(`  ${shown}${c.codePoint} at ${c.index}${c.count > 1 ? ` (×${c.count})` : ''}`);
    }
    if (p.forcedUcs2.length > MAX_LISTED)
      lines.push(`  and ${p.forcedUcs2.length - MAX_LISTED} more (see --json)`);
  }
  if (p.replacements.length > 0) {
    lines.push(`smart encoding replaced ${p.replacements.length} character(s):`);
    for (const r of p.replacements) {
      lines.push(
        `  at ${r.index}: ${JSON.stringify(r.from)} (${codePoint(r.from)}) -> ${JSON.stringify(r.to)}`,
      );
    }
  }
  if (p.warnings.length > 0) {
    lines.push('warnings:');
    for (const w of p.warnings) lines.push(`  ${w.code}: ${w.message}`);
  }
  return lines.join('\n');
}

function dropTrailingNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

export async function runSegments(argv: string[], io: SegmentsIo): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`sluice segments: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  const text = args.text === '-' ? dropTrailingNewline(await io.readStdin()) : args.text!;
  let preview: MessagePreview;
  try {
    preview = previewMessage(text, args.options);
  } catch (err) {
    if (err instanceof UnencodableTextError || err instanceof TooManyPartsError) {
      io.err(`sluice segments: ${err.message}`);
      return 1;
    }
    if (err instanceof CodecOptionError) {
      io.err(`sluice segments: ${err.message}`);
      return 2;
    }
    throw err;
  }
  io.out(args.json ? JSON.stringify(preview) : render(preview));
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const command: Command = {
  summary: 'preview the encoding and parts of a text',
  run: (argv) =>
    runSegments(argv, {
      out: (text) => console.log(text),
      err: (text) => console.error(text),
      readStdin,
    }),
};
