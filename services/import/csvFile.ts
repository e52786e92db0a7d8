import { parse } from 'csv-parse/sync';

/**
 * Reads a CSV as Excel saves it (SPEC §6): UTF-8 with or without BOM, UTF-16 ("Unicode text", with BOM,
 * usually tab-separated), the Windows code page when the bytes are not UTF-8; comma, semicolon or tab;
 * quoted fields with commas and line breaks; CRLF or LF; trailing empty lines.
 */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;
export const MAX_ROWS = 10_000;

export type CsvProblem =
  | { kind: 'tooLarge'; maxBytes: number }
  | { kind: 'empty' }
  | { kind: 'binary' }
  | { kind: 'malformed'; line: number; reason: string }
  | { kind: 'tooManyRows'; max: number; rows: number };

export interface CsvRow {
  /** 1-based line number in the file where the row starts (the header is line 1). */
  line: number;
  cells: string[];
}

export interface CsvTable {
  headers: string[];
  rows: CsvRow[];
  delimiter: string;
  encoding: string;
}

export type CsvResult = { ok: true; table: CsvTable } | { ok: false; problem: CsvProblem };

function decode(bytes: Buffer): { text: string; encoding: string } | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { text: bytes.subarray(3).toString('utf8'), encoding: 'utf-8' };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder('utf-16le').decode(bytes.subarray(2)), encoding: 'utf-16le' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder('utf-16be').decode(bytes.subarray(2)), encoding: 'utf-16be' };
  // UTF-16 without a BOM: every other byte of ASCII text is zero.
  const sample = bytes.subarray(0, 512);
  let zerosOdd = 0;
  let zerosEven = 0;
  for (let i = 0; i < sample.length; i++) if (sample[i] === 0) (i % 2 ? zerosOdd++ : zerosEven++);
  if (sample.length >= 4 && zerosOdd > sample.length / 4 && zerosEven === 0) return { text: new TextDecoder('utf-16le').decode(bytes), encoding: 'utf-16le' };
  if (sample.length >= 4 && zerosEven > sample.length / 4 && zerosOdd === 0) return { text: new TextDecoder('utf-16be').decode(bytes), encoding: 'utf-16be' };
  if (bytes.includes(0)) return null;
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    // Excel's "CSV (Comma delimited)" writes the Windows code page.
    return { text: decodeWindows1252(bytes), encoding: 'windows-1252' };
  }
}

/** Windows-1252 at 0x80–0x9F (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ); the five unassigned bytes stay as they are. */
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * Node's TextDecoder('windows-1252') decodes as ISO-8859-1, turning the curly apostrophe of O’Brien, dashes and €
 * into control characters; the rest of the code page is Latin-1.
 */
function decodeWindows1252(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/[\u0080-\u009f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]);
}

/** Control characters other than tab and line breaks mean this is not a text file. */
const BINARY = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

/** The first line that is not blank (Excel keeps blank lines above a header that was moved down). */
function firstNonBlankLine(text: string): string {
  const line = /[^\r\n]*/y;
  for (let at = 0; at <= text.length; ) {
    line.lastIndex = at;
    const found = (line.exec(text) as RegExpExecArray)[0];
    if (found.trim()) return found;
    at += found.length + 1;
  }
  return '';
}

function detectDelimiter(text: string): string {
  const firstLine = firstNonBlankLine(text);
  const counts = [',', ';', '\t'].map((d) => [d, firstLine.split(d).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ',';
}

/** SPEC §6's limits; only the benchmark's scaling row reads a larger file (bench/importChild.ts). */
export interface CsvLimits {
  maxBytes: number;
  maxRows: number;
}
export const SPEC_LIMITS: CsvLimits = { maxBytes: MAX_FILE_BYTES, maxRows: MAX_ROWS };

export function readCsv(bytes: Buffer, limits: CsvLimits = SPEC_LIMITS): CsvResult {
  if (bytes.length > limits.maxBytes) return { ok: false, problem: { kind: 'tooLarge', maxBytes: limits.maxBytes } };
  const decoded = decode(bytes);
  if (!decoded) return { ok: false, problem: { kind: 'binary' } };
  if (BINARY.test(decoded.text.slice(0, 64 * 1024))) return { ok: false, problem: { kind: 'binary' } };
  const text = decoded.text.replace(/^\ufeff/, '');
  if (!text.trim()) return { ok: false, problem: { kind: 'empty' } };
  const delimiter = detectDelimiter(text);
  let records: Array<{ record: string[]; info: { bytes: number } }>;
  try {
    records = parse(text, {
      delimiter,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
      trim: false,
      max_record_size: 256 * 1024,
    }) as unknown as Array<{ record: string[]; info: { bytes: number } }>;
  } catch (err) {
    const e = err as { lines?: number; message?: string; code?: string };
    return { ok: false, problem: { kind: 'malformed', line: e.lines ?? 0, reason: e.code ?? 'CSV_INVALID' } };
  }
  // Line numbers: csv-parse's own line count is off after empty lines and after CRLF inside quotes, so each
  // record's first line is counted here from where the previous record ended (info.bytes, in UTF-8 bytes of the
  // text), skipping the empty lines in between.
  // A line ends at LF, at CRLF, or at a CR alone (the old Mac line ending, which csv-parse also reads as one).
  const utf8 = Buffer.from(text, 'utf8');
  const endsLine = (at: number) => utf8[at] === 0x0a || (utf8[at] === 0x0d && utf8[at + 1] !== 0x0a);
  let cursor = 0;
  let lineNo = 1;
  const startLines = records.map((r, i) => {
    const from = i === 0 ? 0 : records[i - 1].info.bytes;
    for (; cursor < from; cursor++) if (endsLine(cursor)) lineNo++;
    for (; cursor < utf8.length && (utf8[cursor] === 0x0a || utf8[cursor] === 0x0d); cursor++) if (endsLine(cursor)) lineNo++;
    return lineNo;
  });
  // Rows of only empty cells (Excel's trailing ";;;") are not rows.
  const meaningful = records.map((r, i) => ({ ...r, line: startLines[i] })).filter((r) => r.record.some((c) => c.trim() !== ''));
  if (!meaningful.length) return { ok: false, problem: { kind: 'empty' } };
  const [header, ...body] = meaningful;
  if (body.length > limits.maxRows) return { ok: false, problem: { kind: 'tooManyRows', max: limits.maxRows, rows: body.length } };
  const rows: CsvRow[] = body.map((r) => ({ line: r.line, cells: r.record }));
  return { ok: true, table: { headers: header.record.map((h) => h.trim()), rows, delimiter, encoding: decoded.encoding } };
}
