/**
 * A DirectoryService on the Microsoft Graph directory, pointed at the Graph / Entra stand-in (test/support/graph), with
 * the bot's own state on the test Redis under a random key root. The stand-in's clock is the directory's fake clock.
 *
 *   const t = await createGraphTestDirectory();           // { directory, graph, redis, keys, clock, waits, ... }
 *   const c = t.seed({ users: [{ username: 'alice', licenses: ['ENTERPRISEPACK'] }] });   // a customer tenant
 *   await t.asAgent(t.admin, () => t.directory.listUsers(c.tenantId));                     // signed-in agent
 *   await t.cleanup();
 *
 * Agents: `admin` (User + License Administrator in every seeded tenant), `helpdesk` (Helpdesk Administrator),
 * `nobody` (no GDAP role). `waits` records every Retry-After wait instead of sleeping.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { runAsCaller } from '../../services/caller';
import { DirectoryService } from '../../services/directory';
import { createGraphDirectory, GraphDirectory } from '../../services/directories/graph';
import { KeyLayout } from '../../services/store/keys';
import type { RedisClient } from '../../services/store/redis';
import type { Actor } from '../../services/types';
import { GraphStandIn, ROLE, SeededTenant, startGraphStandIn } from './graph';
import { connectTestRedis, deterministicPasswords, FakeClock, fakeClock, scanAll } from './testDirectory';

export const GRAPH_CLIENT_ID = '5d1f0c3a-7e2b-4c8d-9a6f-0b1c2d3e4f50';
export const GRAPH_CLIENT_SECRET = 'graph-test-secret~not-real';
export const PARTNER_TENANT = 'd1e2f3a4-0000-4000-8000-00000000beef';

export interface GraphAgent extends Actor {
  roles: string[];
}

export const GRAPH_ADMIN: GraphAgent = { id: '11111111-aaaa-4000-8000-000000000001', name: 'Megan Admin', roles: [ROLE.userAdministrator, ROLE.licenseAdministrator] };
export const GRAPH_HELPDESK: GraphAgent = { id: '22222222-bbbb-4000-8000-000000000002', name: 'Lee Helpdesk', roles: [ROLE.helpdeskAdministrator] };
export const GRAPH_NOBODY: GraphAgent = { id: '33333333-cccc-4000-8000-000000000003', name: 'No Roles', roles: [] };

export interface GraphSeedUser {
  username: string;
  displayName?: string;
  licenses?: string[];
  role?: string;
  usageLocation?: string | null;
}

export interface GraphSeed {
  name?: string;
  domains?: string[];
  skus?: Array<{ skuPartNumber: string; seats: number }>;
  users?: GraphSeedUser[];
}

export interface GraphTestDirectory {
  directory: DirectoryService;
  backend: GraphDirectory;
  graph: GraphStandIn;
  redis: RedisClient;
  keys: KeyLayout;
  clock: FakeClock;
  /** Every Retry-After wait the directory asked for (ms), instead of sleeping. */
  waits: number[];
  admin: GraphAgent;
  helpdesk: GraphAgent;
  nobody: GraphAgent;
  seed(def?: GraphSeed): SeededTenant;
  /** Runs `work` as this agent, signed in (its Teams SSO token from the stand-in). */
  asAgent<T>(agent: GraphAgent, work: () => Promise<T>): Promise<T>;
  scanKeys(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export async function createGraphTestDirectory(options: { passwords?: 'deterministic' } = {}): Promise<GraphTestDirectory> {
  const clock = fakeClock();
  const graph = await startGraphStandIn({ clientId: GRAPH_CLIENT_ID, clientSecret: GRAPH_CLIENT_SECRET, partnerTenantId: PARTNER_TENANT, clock, restoreAcceptsNewUserPrincipalName: true });
  const redis = connectTestRedis();
  const root = `pabtest:${randomBytes(6).toString('hex')}:`;
  const keys = new KeyLayout(root);
  const waits: number[] = [];
  const backend = createGraphDirectory({
    graphBaseUrl: graph.graphBaseUrl,
    authorityHost: graph.authorityHost,
    clientId: GRAPH_CLIENT_ID,
    clientSecret: GRAPH_CLIENT_SECRET,
    partnerTenantId: PARTNER_TENANT,
    redis,
    keys,
    now: () => clock.now(),
    sleep: async (ms) => void waits.push(ms),
  });
  const directory = new DirectoryService({ redis, keys, clock, backend, generatePassword: options.passwords === 'deterministic' ? deterministicPasswords() : undefined });
  const agents = [GRAPH_ADMIN, GRAPH_HELPDESK, GRAPH_NOBODY];

  function seed(def: GraphSeed = {}): SeededTenant {
    const domains = def.domains ?? ['contoso.onmicrosoft.com', 'contoso.com'];
    const tenant = graph.addCustomerTenant({
      tenantId: randomUUID(),
      displayName: def.name ?? 'Contoso Ltd',
      domains,
      skus: def.skus ?? [
        { skuPartNumber: 'ENTERPRISEPACK', seats: 25 },
        { skuPartNumber: 'SPE_E5', seats: 5 },
      ],
      users: (def.users ?? []).map((u) => ({
        userPrincipalName: `${u.username}@${domains[0]}`,
        displayName: u.displayName ?? u.username,
        usageLocation: u.usageLocation === undefined ? 'US' : u.usageLocation,
        licenses: u.licenses ?? [],
        role: u.role,
      })),
    });
    for (const agent of agents) graph.grantGdap(agent.id, tenant.tenantId, agent.roles);
    return tenant;
  }

  async function asAgent<T>(agent: GraphAgent, work: () => Promise<T>): Promise<T> {
    const sso = await graph.issueUserToken({ agentId: agent.id, name: agent.name, tenantId: PARTNER_TENANT, audience: GRAPH_CLIENT_ID, expiresInSeconds: 3600 * 24 * 365 });
    return runAsCaller({ actor: { id: agent.id, name: agent.name }, userAssertion: async () => sso }, work);
  }

  const scanKeys = () => scanAll(redis, `${root}*`);

  async function cleanup(): Promise<void> {
    try {
      const all = await scanKeys();
      for (const k of all) await redis.del(k);
    } finally {
      redis.disconnect();
      await graph.close();
    }
  }

  return { directory, backend, graph, redis, keys, clock, waits, admin: GRAPH_ADMIN, helpdesk: GRAPH_HELPDESK, nobody: GRAPH_NOBODY, seed, asAgent, scanKeys, cleanup };
}
