import type { ThrowawayCluster } from './redisCluster';

export default async function clusterGlobalTeardown(): Promise<void> {
  const cluster = (globalThis as { __testCluster?: ThrowawayCluster }).__testCluster;
  if (cluster) await cluster.stop();
}
