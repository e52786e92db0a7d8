/**
 * `npm run check-store -- [REDIS_URL] [--root <key prefix>]`: checks the store's invariants (services/storeCheck.ts)
 * and prints a report; exits 1 when anything is violated, 2 when the store cannot be read.
 *
 * Without a URL argument it uses REDIS_URL, or the Redis Cluster at REDIS_CLUSTER_NODES (host:port,host:port).
 * `--root` names the key prefix (default `pab:`, the bot's). Read-only: SCAN and reads, never a write.
 */
import { KeyLayout } from '../services/store/keys';
import { loadSomeSettings, SettingsError } from '../bot/config';
import { connectRedis, RedisClient } from '../services/store/redis';
import { checkStore, formatReport } from '../services/storeCheck';

const USAGE = 'Usage: npm run check-store -- [redis://host:port] [--root pab:]   (or set REDIS_URL / REDIS_CLUSTER_NODES)';

async function main(argv: string[]): Promise<number> {
  let url: string | undefined;
  let root = 'pab:';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root' && argv[i + 1] !== undefined) root = argv[++i];
    else if (/^rediss?:\/\//.test(argv[i]) && !url) url = argv[i];
    else {
      console.error(USAGE);
      return 2;
    }
  }
  // The bot's own rules and messages for the two settings (bot/config.ts); a URL on the command line wins.
  let settings: ReturnType<typeof loadSomeSettings<'REDIS_URL' | 'REDIS_CLUSTER_NODES'>>;
  try {
    settings = loadSomeSettings(url ? ['REDIS_CLUSTER_NODES'] : ['REDIS_URL', 'REDIS_CLUSTER_NODES']);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
  url ??= settings.REDIS_URL;
  const clusterNodes = url ? undefined : settings.REDIS_CLUSTER_NODES?.map((n) => ({ ...n }));
  if (!url && !clusterNodes) {
    console.error(`No Redis to check. ${USAGE}`);
    return 2;
  }
  const redis: RedisClient = connectRedis(url ? { url } : { clusterNodes });
  redis.on('error', () => undefined); // reported below through the failing command
  try {
    const report = await checkStore(redis, new KeyLayout(root));
    console.log(formatReport(report));
    return report.ok ? 0 : 1;
  } catch (err) {
    console.error(`Cannot check the store: ${(err as Error).message}`);
    return 2;
  } finally {
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
