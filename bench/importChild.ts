/**
 * One bulk import in a process of its own, for row 4's scaling figures: `tsx bench/importChild.ts` with REDIS_URL,
 * IMPORT_ROWS and PASSWORD_HASH_KEY set. The import runs as the bot runs it (ImportService: preview, start, run, then the
 * results CSV fetched once, part by part as the download route sends it), with SPEC §6's row and size limits raised to the file's. Prints one JSON line: seconds,
 * and this process's memory high-water above what it used before the import began (RSS sampled every 20 ms, heap
 * after each sample; VmHWM as Linux reports it).
 */
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { CredentialVault } from '../services/credentials';
import { DirectoryService } from '../services/directory';
import { ImportService } from '../services/import/importer';
import { keyedPasswordHasher } from '../services/passwords';
import { connectRedis } from '../services/store/redis';
import { BENCH_ACTOR, customer } from './lib/seed';
import { importCsv } from './serviceRows';

const vm = (field: 'VmRSS' | 'VmHWM'): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;

async function main(): Promise<void> {
  const rows = Number(process.env.IMPORT_ROWS);
  const redis = connectRedis({ url: process.env.REDIS_URL }) as Redis;
  const directory = new DirectoryService({ redis, passwordHasher: keyedPasswordHasher(Buffer.from(String(process.env.PASSWORD_HASH_KEY), 'base64')) });
  const vault = new CredentialVault(redis, directory.keys, directory.clock);
  const importer = new ImportService(directory, vault, { maxRows: rows, maxBytes: 1 << 30 });
  const CID = `scale${rows}`;
  await customer(directory, CID, `Scale ${rows}`, [
    { skuId: 'O365_E3', name: 'Office 365 E3', seats: 2 * rows },
    { skuId: 'M365_E5', name: 'Microsoft 365 E5', seats: 2 * rows },
  ]);
  // The file as the bot holds it after the download (a Buffer), made before the baseline like a download would be.
  const csv = importCsv(CID, rows);
  global.gc?.();
  const base = { rss: vm('VmRSS'), heap: process.memoryUsage().heapUsed };
  const peak = { rss: base.rss, heap: base.heap };
  const sample = setInterval(() => {
    peak.rss = Math.max(peak.rss, vm('VmRSS'));
    peak.heap = Math.max(peak.heap, process.memoryUsage().heapUsed);
  }, 20);
  const t0 = performance.now();
  const previewed = await importer.preview(CID, csv, 'users.csv', BENCH_ACTOR);
  if (!previewed.ok) throw new Error(`preview refused the file: ${JSON.stringify(previewed.problem)}`);
  const { started } = await importer.start(CID, previewed.preview.jobId, BENCH_ACTOR, { mode: 'validRows' });
  if (!started) throw new Error('the job did not start');
  const result = await importer.run(CID, previewed.preview.jobId);
  if (!result || result.created !== rows) throw new Error(`created ${result?.created} of ${rows}`);
  // The results fetched once as the download route sends them: part by part (counting the CRLF-ended lines).
  const download = await vault.openDownload(result.downloadToken);
  let lines = -1; // the header line
  if (download.ok) for await (const part of download.parts) for (let at = part.indexOf('\n'); at >= 0; at = part.indexOf('\n', at + 1)) lines++;
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sample);
  peak.rss = Math.max(peak.rss, vm('VmRSS'));
  redis.disconnect();
  console.log(JSON.stringify({ rows, seconds, lines, rssPeakAboveBase: peak.rss - base.rss, heapPeakAboveBase: peak.heap - base.heap, vmHWM: vm('VmHWM'), baseRss: base.rss }));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
