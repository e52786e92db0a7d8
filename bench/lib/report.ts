/** Figures, the printed table and the JSON file of a benchmark run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { round } from './stats';

/** A target is checked on the figure's value or on its ratio to the floor. */
export interface Target {
  on: 'value' | 'ratio';
  op: '>=' | '<=' | '==';
  limit: number;
  /** How the target reads in the table, e.g. "≥ 60% of floor". */
  text: string;
}

export interface Figure {
  row: string;
  what: string;
  value: number | null;
  unit: string;
  floor?: number | null;
  /** value / floor. */
  ratio?: number | null;
  target?: Target;
  pass?: boolean | null;
  note?: string;
}

export function check(target: Target | undefined, value: number | null, ratio: number | null | undefined): boolean | null {
  if (!target) return null;
  const x = target.on === 'value' ? value : ratio;
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  if (target.op === '>=') return x >= target.limit;
  if (target.op === '<=') return x <= target.limit;
  return x === target.limit;
}

export function figure(f: Omit<Figure, 'ratio' | 'pass'> & { ratio?: number | null }): Figure {
  const ratio = f.ratio !== undefined ? f.ratio : f.floor && f.value !== null ? f.value / f.floor : null;
  return { ...f, ratio, pass: check(f.target, f.value, ratio) };
}

export const atLeastFloor = (share: number): Target => ({ on: 'ratio', op: '>=', limit: share, text: `≥ ${Math.round(share * 100)}% of floor` });
export const atMostFloor = (times: number): Target => ({ on: 'ratio', op: '<=', limit: times, text: `≤ ${times}× floor` });
export const atMost = (limit: number, unit: string): Target => ({ on: 'value', op: '<=', limit, text: `≤ ${limit} ${unit}` });
export const exactly = (limit: number, unit = ''): Target => ({ on: 'value', op: '==', limit, text: `= ${limit}${unit ? ' ' + unit : ''}` });

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

const HEADER = ['row', 'measurement', 'value', 'floor', 'ratio', 'target', 'result'];

/** One figure's cells, in HEADER order; `miss` is how a missed target is written. */
function cells(f: Figure, miss: string): string[] {
  return [
    f.row,
    f.what + (f.note ? ` (${f.note})` : ''),
    f.value === null ? 'not measured' : `${fmt(f.value)} ${f.unit}`,
    f.floor === undefined || f.floor === null ? '—' : `${fmt(f.floor)} ${f.unit}`,
    f.ratio === undefined || f.ratio === null ? '—' : `${fmt(f.ratio)}×`,
    f.target?.text ?? '',
    f.pass === true ? 'pass' : f.pass === false ? miss : '',
  ];
}

export function renderTable(figures: Figure[]): string {
  const lines = figures.map((f) => cells(f, 'MISS'));
  const widths = HEADER.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(line)].join('\n');
}

/** The same table as Markdown (for the README). */
export function renderMarkdown(figures: Figure[]): string {
  const rows = figures.map((f) => `| ${cells(f, '**miss**').join(' | ')} |`);
  return [`| ${HEADER.join(' | ')} |`, '| --- | --- | ---: | ---: | ---: | --- | --- |', ...rows].join('\n');
}

export interface RunRecord {
  startedAt: string;
  seconds: number;
  machine: Record<string, unknown>;
  figures: Figure[];
  details: Record<string, unknown>;
}

export function writeResult(record: RunRecord): string {
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${record.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ ...record, figures: record.figures.map((f) => ({ ...f, value: f.value === null ? null : round(f.value, 3) })) }, null, 2));
  return file;
}
