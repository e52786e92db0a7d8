/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function and per package
 * (node_modules/<pkg>, the project's own folders, node internals, GC, idle).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  byPackage: Array<{ name: string; ms: number; share: number }>;
  byFunction: Array<{ name: string; ms: number; share: number }>;
}

function packageOf(url: string, root: string): string {
  if (!url) return '(native / gc)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const rel = relative(root, path);
  return rel.startsWith('..') ? path : `project: ${rel.split('/')[0]}/`;
}

/**
 * `window` (µs of the monotonic clock, as process.hrtime gives it in any process of this machine) keeps only the
 * samples taken while the load ran, leaving out start-up and shutdown.
 */
export function summarizeProfile(file: string, root: string, top = 15, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.fromUs || t > window.toUs)) return;
    self.set(id, (self.get(id) ?? 0) + delta / 1000);
  });
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    total += ms;
    if (functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const pkg = functionName === '(garbage collector)' ? 'GC' : packageOf(url, root);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    const fn = `${functionName || '(anonymous)'} ${url ? `${packageOf(url, root).replace('project: ', '')}${url.split('/').pop()}:${lineNumber + 1}` : ''}`.trim();
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
  }
  const busy = total - idle;
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Number(ms.toFixed(1)), share: Number((ms / busy).toFixed(3)) }));
  return { totalMs: total, busyMs: busy, byPackage: list(packages), byFunction: list(functions) };
}

/** The main thread's profile: the largest one (the tsx loader's worker thread writes a small one of its own). */
export function mainThreadProfile(dir: string): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  return files[0];
}
