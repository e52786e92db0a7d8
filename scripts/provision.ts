/** `npm run provision -- <file.json>`: loads customers, subscriptions and users into REDIS_URL (or REDIS_CLUSTER_NODES). */
import { loadSomeSettings, SettingsError } from '../bot/config';
import { DirectoryService } from '../services/directory';
import { provision, ProvisioningError, readProvisioningFile } from '../services/provisioning';
import { connectRedis, isEmbedded } from '../services/store/redis';

async function main(): Promise<number> {
  const path = process.argv[2];
  if (!path) {
    console.error('Usage: npm run provision -- <file.json>   (loads into the Redis at REDIS_URL)');
    return 2;
  }
  // The bot's own rules and messages for the two settings (bot/config.ts).
  let settings: ReturnType<typeof loadSomeSettings<'REDIS_URL' | 'REDIS_CLUSTER_NODES'>>;
  try {
    settings = loadSomeSettings(['REDIS_URL', 'REDIS_CLUSTER_NODES']);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    console.error(err.message);
    return 2;
  }
  if (settings.REDIS_URL && settings.REDIS_CLUSTER_NODES) {
    console.error('Set REDIS_URL or REDIS_CLUSTER_NODES, not both (a single Redis or a cluster).');
    return 2;
  }
  const clusterNodes = settings.REDIS_CLUSTER_NODES?.map((n) => ({ ...n }));
  const redis = connectRedis(clusterNodes ? { clusterNodes } : { url: settings.REDIS_URL });
  if (isEmbedded(redis)) {
    console.error('REDIS_URL is not set: the embedded store lives inside the bot process; set REDIS_URL (or REDIS_CLUSTER_NODES) to provision a real Redis.');
    return 2;
  }
  try {
    const summary = await provision(new DirectoryService({ redis }), await readProvisioningFile(path));
    console.log(`Provisioned ${summary.customers} customer(s): ${summary.usersCreated} user(s) created, ${summary.usersExisting} already existed.`);
    return 0;
  } catch (err) {
    console.error(err instanceof ProvisioningError ? err.message : `Provisioning failed: ${(err as Error).message}`);
    return 1;
  } finally {
    redis.disconnect();
  }
}

main().then((code) => process.exit(code));
