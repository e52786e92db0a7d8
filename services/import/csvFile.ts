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
    return { text: new TextDecoder('windows-1252').decode(bytes), encoding: 'windows-1252' };
  }
}

/** Control characters other than tab and line breaks mean this is not a text file. */
const BINARY = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

function detectDelimiter(text: string): string {
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  const counts = [',', ';', '\t'].map((d) => [d, firstLine.split(d).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ',';
}

export function readCsv(bytes: Buffer): CsvResult {
  if (bytes.length > MAX_FILE_BYTES) return { ok: false, problem: { kind: 'tooLarge', maxBytes: MAX_FILE_BYTES } };
  const decoded = decode(bytes);
  if (!decoded) return { ok: false, problem: { kind: 'binary' } };
  if (BINARY.test(decoded.text.slice(0, 64 * 1024))) return { ok: false, problem: { kind: 'binary' } };
  const text = decoded.text.replace(/^\ufeff/, '');
  if (!text.trim()) return { ok: false, problem: { kind: 'empty' } };
  const delimiter = detectDelimiter(text);
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, {
      delimiter,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
      trim: false,
      max_record_size: 256 * 1024,
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (err) {
    const e = err as { lines?: number; message?: string; code?: string };
    return { ok: false, problem: { kind: 'malformed', line: e.lines ?? 0, reason: e.code ?? 'CSV_INVALID' } };
  }
  // Rows of only empty cells (Excel's trailing ";;;") are not rows.
  const meaningful = records.filter((r) => r.record.some((c) => c.trim() !== ''));
  if (!meaningful.length) return { ok: false, problem: { kind: 'empty' } };
  const [header, ...body] = meaningful;
  if (body.length > MAX_ROWS) return { ok: false, problem: { kind: 'tooManyRows', max: MAX_ROWS, rows: body.length } };
  // info.lines is the line where the record ends; a row starts after the previous one ended.
  const rows: CsvRow[] = [];
  let previousEnd = header.info.lines;
  for (const r of body) {
    const start = records[records.indexOf(r) - 1]?.info.lines ?? previousEnd;
    rows.push({ line: start + 1, cells: r.record });
    previousEnd = r.info.lines;
  }
  return { ok: true, table: { headers: header.record.map((h) => h.trim()), rows, delimiter, encoding: decoded.encoding } };
}
