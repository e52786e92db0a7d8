import { startThrowawayCluster } from './redisCluster';

/**
 * The cluster run (jest.cluster.config.js): the service suite against a Redis Cluster. Uses the cluster named by
 * REDIS_CLUSTER_NODES when it is set; otherwise starts a throwaway 3-master cluster on 127.0.0.1.
 * test/support/testDirectory.ts connects with connectRedis({ clusterNodes }) when TEST_REDIS_CLUSTER is set.
 */
export default async function clusterGlobalSetup(): Promise<void> {
  if (process.env.REDIS_CLUSTER_NODES) {
    process.env.TEST_REDIS_CLUSTER = process.env.REDIS_CLUSTER_NODES;
    return;
  }
  const cluster = await startThrowawayCluster();
  process.env.TEST_REDIS_CLUSTER = cluster.spec;
  (globalThis as { __testCluster?: unknown }).__testCluster = cluster;
}
