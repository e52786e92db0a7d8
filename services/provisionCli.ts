/** `npm run provision -- <file.json>`: loads customers, subscriptions and users into REDIS_URL (or REDIS_CLUSTER_NODES). */
import { DirectoryService } from './directory';
import { provision, ProvisioningError, readProvisioningFile } from './provisioning';
import { connectRedis, isEmbedded, parseClusterNodes } from './store/redis';

async function main(): Promise<number> {
  const path = process.argv[2];
  if (!path) {
    console.error('Usage: npm run provision -- <file.json>   (loads into the Redis at REDIS_URL)');
    return 2;
  }
  const clusterNodes = process.env.REDIS_CLUSTER_NODES ? parseClusterNodes(process.env.REDIS_CLUSTER_NODES) : undefined;
  if (clusterNodes === null) {
    console.error('REDIS_CLUSTER_NODES must be host:port,host:port (seed nodes of the cluster).');
    return 2;
  }
  const redis = connectRedis(clusterNodes ? { clusterNodes } : { url: process.env.REDIS_URL });
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
