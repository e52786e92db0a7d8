/**
 * Medians over the latest benchmark runs: `npx tsx bench/median.ts [runs=2] [--markdown]`. Reads the newest
 * bench/results/*.json files (full runs only), takes the median of each figure's value and floor across them,
 * recomputes ratio and pass/miss from those medians, and prints the table (or Markdown, for the README).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, Figure, renderMarkdown, renderTable, RunRecord } from './lib/report';
import { median } from './lib/stats';

const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 2);
const dir = join(__dirname, 'results');
const records = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, record: JSON.parse(readFileSync(join(dir, f), 'utf8')) as RunRecord }))
  .filter((r) => !r.record.machine?.quick)
  .slice(-runs);
if (!records.length) {
  console.error('no full benchmark results in bench/results/; run npm run bench first');
  process.exit(1);
}

const key = (f: Figure) => `${f.row}|${f.what}`;
const first = records[records.length - 1].record.figures;
const figures: Figure[] = first.map((f) => {
  const same = records.map((r) => r.record.figures.find((g) => key(g) === key(f))).filter((g): g is Figure => !!g);
  const values = same.map((g) => g.value).filter((v): v is number => v !== null);
  const floors = same.map((g) => g.floor).filter((v): v is number => typeof v === 'number');
  const value = values.length ? median(values) : null;
  const floor = floors.length ? median(floors) : f.floor;
  const ratio = f.ratio === null || f.ratio === undefined ? f.ratio : value !== null && floor ? value / floor : null;
  return { ...f, value, floor, ratio, pass: check(f.target, value, ratio) };
});

console.log(`medians of ${records.length} run(s): ${records.map((r) => `${r.file} (${r.record.machine?.commit ?? '?'}, ${Math.round(r.record.seconds)} s)`).join(', ')}\n`);
console.log(args.includes('--markdown') ? renderMarkdown(figures) : renderTable(figures));
