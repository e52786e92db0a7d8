/**
 * One test body, both directories: the Redis test directory and the Graph one (signed in as its admin agent).
 *
 *   describe.each(BACKENDS)('%s directory', (kind) => {
 *     let d: Backend;
 *     beforeEach(async () => (d = await startBackend(kind, { users: [{ username: 'alice', licenses: ['E3'] }] })));
 *     afterEach(() => d.cleanup());
 *     test('…', () => d.as(d.admin, async () => { await d.directory.blockSignIn(d.customerId, …) }));
 *   });
 *
 * Licenses are named by their place: 'E3' and 'E5' become O365_E3 / SPE_E5 on Redis, ENTERPRISEPACK / SPE_E5 on Graph.
 */
import type { DirectoryService } from '../../services/directory';
import type { RedisClient } from '../../services/store/redis';
import type { KeyLayout } from '../../services/store/keys';
import type { Actor, CustomerUser } from '../../services/types';
import { createGraphTestDirectory } from './graphDirectory';
import { createTestDirectory, FakeClock } from './testDirectory';

export const BACKENDS = ['redis', 'graph'] as const;
export type BackendKind = (typeof BACKENDS)[number];

export interface BackendSeedUser {
  username: string;
  displayName?: string;
  licenses?: Array<'E3' | 'E5'>;
  role?: 'user' | 'global-admin';
}

export interface Backend {
  kind: BackendKind;
  directory: DirectoryService;
  redis: RedisClient;
  keys: KeyLayout;
  clock: FakeClock;
  customerId: string;
  /** Sku ids of the place names. */
  sku: { E3: string; E5: string };
  admin: Actor;
  /** A second and a third admin agent (the Redis directory does not check; on Graph they share the admin's rights). */
  admin2: Actor;
  helpdesk: Actor;
  /** Runs work as this agent (Graph: signed in; the second admin signs in as the first, who holds the GDAP roles). */
  as<T>(agent: Actor, work: () => Promise<T>): Promise<T>;
  user(username: string): Promise<CustomerUser>;
  cleanup(): Promise<void>;
}

/** Seats of each license (default E3 25, E5 5, as the test directories seed them). */
export type BackendSeats = Partial<Record<'E3' | 'E5', number>>;

export async function startBackend(kind: BackendKind, users: BackendSeedUser[], seats: BackendSeats = {}): Promise<Backend> {
  const e3 = seats.E3 ?? 25;
  const e5 = seats.E5 ?? 5;
  if (kind === 'redis') {
    const t = await createTestDirectory({ passwords: 'deterministic' });
    const sku = { E3: 'O365_E3', E5: 'SPE_E5' };
    const c = await t.seed({
      subscriptions: [
        { skuId: sku.E3, name: 'Office 365 E3', seats: e3 },
        { skuId: sku.E5, name: 'Microsoft 365 E5', seats: e5 },
      ],
      users: users.map((u) => ({ username: u.username, displayName: u.displayName ?? u.username, role: u.role ?? 'user', licenses: (u.licenses ?? []).map((l) => sku[l]) })) });
    return {
      kind,
      directory: t.directory,
      redis: t.redis,
      keys: t.keys,
      clock: t.clock,
      customerId: c.customer.id,
      sku,
      admin: { id: 'admin-1', name: 'Megan Admin' },
      admin2: { id: 'admin-2', name: 'Nestor Admin' },
      helpdesk: { id: 'helpdesk-1', name: 'Lee Helpdesk' },
      as: (_agent, work) => work(),
      user: async (username) => t.directory.findUser(c.customer.id, username),
      cleanup: () => t.cleanup(),
    };
  }
  const t = await createGraphTestDirectory({ passwords: 'deterministic' });
  const sku = { E3: 'ENTERPRISEPACK', E5: 'SPE_E5' };
  const c = t.seed({
    skus: [
      { skuPartNumber: sku.E3, seats: e3 },
      { skuPartNumber: sku.E5, seats: e5 },
    ],
    users: users.map((u) => ({
      username: u.username,
      displayName: u.displayName ?? u.username,
      licenses: (u.licenses ?? []).map((l) => sku[l]),
      role: u.role === 'global-admin' ? '62e90394-69f5-4237-9190-012177145e10' : undefined,
    })),
  });
  const admin2 = { id: 'admin-2', name: 'Nestor Admin' };
  return {
    kind,
    directory: t.directory,
    redis: t.redis,
    keys: t.keys,
    clock: t.clock,
    customerId: c.tenantId,
    sku,
    admin: { id: t.admin.id, name: t.admin.name },
    admin2,
    helpdesk: { id: t.helpdesk.id, name: t.helpdesk.name },
    as: (agent, work) => t.asAgent(agent.id === t.helpdesk.id ? t.helpdesk : t.admin, work),
    user: (username) => t.asAgent(t.admin, () => t.directory.findUser(c.tenantId, username)),
    cleanup: () => t.cleanup(),
  };
}
