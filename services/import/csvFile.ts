import { isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { Parser } from 'csv-parse';

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

/**
 * Which encoding the file is in, and where its text starts (after a BOM). Decided from the bytes without decoding the
 * whole file: the text is then read in chunks, so that a large file is never held twice.
 */
function detectEncoding(bytes: Buffer): { encoding: Encoding; start: number } | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf-8', start: 3 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', start: 2 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', start: 2 };
  // UTF-16 without a BOM: every other byte of ASCII text is zero.
  const sample = bytes.subarray(0, 512);
  let zerosOdd = 0;
  let zerosEven = 0;
  for (let i = 0; i < sample.length; i++) if (sample[i] === 0) (i % 2 ? zerosOdd++ : zerosEven++);
  if (sample.length >= 4 && zerosOdd > sample.length / 4 && zerosEven === 0) return { encoding: 'utf-16le', start: 0 };
  if (sample.length >= 4 && zerosEven > sample.length / 4 && zerosOdd === 0) return { encoding: 'utf-16be', start: 0 };
  if (bytes.includes(0)) return null;
  // Excel's "CSV (Comma delimited)" writes the Windows code page.
  return { encoding: isUtf8(bytes) ? 'utf-8' : 'windows-1252', start: 0 };
}

type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';
const CHUNK_BYTES = 64 * 1024;

/**
 * The file's text as UTF-8 chunks, without its BOM (one more U+FEFF right after it is dropped too, as before). UTF-8
 * input is passed through as slices of the file; the other encodings are decoded a chunk at a time.
 */
function* utf8Chunks(bytes: Buffer, encoding: Encoding, start: number, chunkBytes = CHUNK_BYTES): Generator<Buffer> {
  let first = true;
  const out = (text: string): Buffer => {
    if (first && text) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return Buffer.from(text, 'utf8');
  };
  if (encoding === 'utf-8') {
    if (bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) start += 3;
    for (let at = start; at < bytes.length; at += chunkBytes) yield bytes.subarray(at, Math.min(bytes.length, at + chunkBytes));
    return;
  }
  if (encoding === 'windows-1252') {
    for (let at = start; at < bytes.length; at += chunkBytes) yield out(decodeWindows1252(bytes.subarray(at, at + chunkBytes)));
    return;
  }
  const decoder = new TextDecoder(encoding);
  for (let at = start; at < bytes.length; at += chunkBytes) yield out(decoder.decode(bytes.subarray(at, at + chunkBytes), { stream: true }));
  yield out(decoder.decode());
}

/** The first `chars` characters of the text at least (all of it when shorter), decoding only as much as needed. */
function textHead(bytes: Buffer, encoding: Encoding, start: number, chars: number): { text: string; whole: boolean } {
  const decoder = new StringDecoder('utf8');
  let text = '';
  for (const chunk of utf8Chunks(bytes, encoding, start)) {
    text += decoder.write(chunk);
    if (text.length >= chars) return { text, whole: false };
  }
  return { text: text + decoder.end(), whole: true };
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

/**
 * The first line that is not blank (Excel keeps blank lines above a header that was moved down); `ended` says whether
 * a line break follows it in `text` (when `text` is only the start of the file, a line without one may go on).
 */
function firstNonBlankLine(text: string): { line: string; ended: boolean } {
  const line = /[^\r\n]*/y;
  for (let at = 0; at <= text.length; ) {
    line.lastIndex = at;
    const found = (line.exec(text) as RegExpExecArray)[0];
    if (found.trim()) return { line: found, ended: at + found.length < text.length };
    at += found.length + 1;
  }
  return { line: '', ended: false };
}

function detectDelimiter(bytes: Buffer, encoding: Encoding, start: number): string {
  let firstLine = '';
  for (let chars = 64 * 1024; ; chars *= 4) {
    const head = textHead(bytes, encoding, start, chars);
    const found = firstNonBlankLine(head.text);
    firstLine = found.line;
    if (found.ended || head.whole) break;
  }
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

export interface CsvHead {
  headers: string[];
  delimiter: string;
  encoding: string;
}

/** How reading the rows ended: every row read, or a problem found further down the file. */
export type CsvEnd = { ok: true; rows: number } | { ok: false; problem: CsvProblem };

export type CsvOpened = { ok: true; head: CsvHead; rows: Generator<CsvRow, CsvEnd, void> } | { ok: false; problem: CsvProblem };

interface ParsedRecord {
  record: string[];
  info: { bytes: number };
}

/** csv-parse's incremental parser, as its stream and its sync API drive it (the stream's `api`, not in its types). */
interface IncrementalParser {
  parse(chunk: Buffer | undefined, end: boolean, push: (r: ParsedRecord) => void, close: () => void): Error | undefined;
}

/**
 * Opens a file for reading row by row: checks what can be checked before the rows (size, encoding, binary content),
 * and reads up to the header. The rows then come one at a time from `rows`, parsed a chunk of the file at a time, so
 * that only the rows in use are in memory; at most `limits.maxRows` are handed out, and its return value says whether
 * the whole file was good (a malformed record or too many rows further down refuse the file, as `readCsv` would).
 */
export function openCsv(bytes: Buffer, limits: CsvLimits = SPEC_LIMITS): CsvOpened {
  if (bytes.length > limits.maxBytes) return { ok: false, problem: { kind: 'tooLarge', maxBytes: limits.maxBytes } };
  const detected = detectEncoding(bytes);
  if (!detected) return { ok: false, problem: { kind: 'binary' } };
  const { encoding, start } = detected;
  const head = textHead(bytes, encoding, start, 64 * 1024);
  if (BINARY.test(head.text.slice(0, 64 * 1024))) return { ok: false, problem: { kind: 'binary' } };
  if (head.whole && !head.text.trim()) return { ok: false, problem: { kind: 'empty' } };
  const delimiter = detectDelimiter(bytes, encoding, start);
  const records = parseRecords(utf8Chunks(bytes, encoding, start), delimiter);
  const header = records.next();
  if (header.done) return { ok: false, problem: header.value === 'empty' ? { kind: 'empty' } : header.value };
  const headers = header.value.cells.map((h) => h.trim());
  function* rows(): Generator<CsvRow, CsvEnd, void> {
    let count = 0;
    let next = records.next();
    for (; !next.done; next = records.next()) {
      // Past the limit the rows are only counted (the refusal says how many there are) and checked.
      if (++count <= limits.maxRows) yield next.value;
    }
    if (next.value !== 'empty') return { ok: false, problem: next.value };
    if (count > limits.maxRows) return { ok: false, problem: { kind: 'tooManyRows', max: limits.maxRows, rows: count } };
    return { ok: true, rows: count };
  }
  return { ok: true, head: { headers, delimiter, encoding }, rows: rows() };
}

/**
 * The meaningful records of the text (rows of only empty cells are not rows), with the line each starts on; returns
 * 'empty' at the end of the text, or the parse problem.
 */
function* parseRecords(chunks: Iterable<Buffer>, delimiter: string): Generator<CsvRow, 'empty' | CsvProblem, void> {
  const parser = (new Parser({
    delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    trim: false,
    max_record_size: 256 * 1024,
  }) as unknown as { api: IncrementalParser }).api;
  // Line numbers: csv-parse's own line count is off after empty lines and after CRLF inside quotes, so each
  // record's first line is counted here from where the previous record ended (info.bytes, in UTF-8 bytes of the
  // text), skipping the empty lines in between.
  const text = new ByteWindow();
  let cursor = 0;
  let lineNo = 1;
  let previousEnd = 0;
  let ready: CsvRow[] = [];
  const push = (r: ParsedRecord) => {
    if (cursor < previousEnd) {
      lineNo += text.lineEnds(cursor, previousEnd);
      cursor = previousEnd;
    }
    for (let b = text.at(cursor); cursor < text.end && (b === 0x0a || b === 0x0d); b = text.at(++cursor)) if (text.endsLine(cursor)) lineNo++;
    previousEnd = r.info.bytes;
    if (r.record.some((c) => c.trim() !== '')) ready.push({ line: lineNo, cells: r.record });
  };
  const failed = (err: Error): CsvProblem => {
    const e = err as { lines?: number; code?: string };
    return { kind: 'malformed', line: e.lines ?? 0, reason: e.code ?? 'CSV_INVALID' };
  };
  for (const chunk of chunks) {
    text.add(chunk);
    const err = parser.parse(chunk, false, push, () => undefined);
    if (err) return failed(err);
    yield* ready;
    ready = [];
    // What the next record's line count can still look at: from the cursor on.
    text.dropBefore(Math.min(cursor, previousEnd));
  }
  const err = parser.parse(undefined, true, push, () => undefined);
  if (err) return failed(err);
  yield* ready;
  return 'empty';
}

/** The bytes of the text fed to the parser and not yet behind the line count, by their offset in the whole text. */
class ByteWindow {
  private chunks: Array<{ start: number; bytes: Buffer }> = [];
  end = 0;
  add(bytes: Buffer): void {
    this.chunks.push({ start: this.end, bytes });
    this.end += bytes.length;
  }
  at(offset: number): number | undefined {
    for (const c of this.chunks) if (offset < c.start + c.bytes.length) return offset >= c.start ? c.bytes[offset - c.start] : undefined;
    return undefined;
  }
  /** A line ends at LF, at CRLF, or at a CR alone (the old Mac line ending, which csv-parse also reads as one). */
  endsLine(offset: number): boolean {
    const b = this.at(offset);
    return b === 0x0a || (b === 0x0d && this.at(offset + 1) !== 0x0a);
  }
  /** How many lines end in [from, to): every LF, and every CR not followed by an LF (found by indexOf, not byte by byte). */
  lineEnds(from: number, to: number): number {
    let count = 0;
    for (const c of this.chunks) {
      const lo = Math.max(from, c.start) - c.start;
      const hi = Math.min(to, c.start + c.bytes.length) - c.start;
      if (lo >= hi) continue;
      for (let at = c.bytes.indexOf(0x0a, lo); at >= 0 && at < hi; at = c.bytes.indexOf(0x0a, at + 1)) count++;
      for (let at = c.bytes.indexOf(0x0d, lo); at >= 0 && at < hi; at = c.bytes.indexOf(0x0d, at + 1)) if (!this.isLf(c.start + at + 1)) count++;
    }
    return count;
  }
  private isLf(offset: number): boolean {
    return this.at(offset) === 0x0a;
  }
  dropBefore(offset: number): void {
    while (this.chunks.length > 1 && this.chunks[0].start + this.chunks[0].bytes.length <= offset) this.chunks.shift();
  }
}

/** The whole table at once (the upload check of the Import users dialog; small files). */
export function readCsv(bytes: Buffer, limits: CsvLimits = SPEC_LIMITS): CsvResult {
  const opened = openCsv(bytes, limits);
  if (!opened.ok) return opened;
  const rows: CsvRow[] = [];
  let next = opened.rows.next();
  for (; !next.done; next = opened.rows.next()) rows.push(next.value);
  if (!next.value.ok) return { ok: false, problem: next.value.problem };
  return { ok: true, table: { ...opened.head, rows } };
}
