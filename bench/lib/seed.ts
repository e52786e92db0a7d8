/** Test data, written through the product's own DirectoryService (so the Redis layout is the real one). */
import type { DirectoryService } from '../../services/directory';
import type { Actor, CustomerUser, NewUserInput } from '../../services/types';

export const BENCH_ACTOR: Actor = { id: 'bench', name: 'Benchmark' };

const FIRST = ['Alex', 'Megan', 'Adele', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Joni', 'Lee', 'Lidia', 'Lynne', 'Miriam', 'Nestor', 'Patti',
  'Pradeep', 'Sakura', 'Min-jun', 'Ji-woo', 'Seo-yeon', 'Amara', 'Kofi', 'Lucia', 'Mateo', 'Noor', 'Omar', 'Priya', 'Ravi', 'Sofia', 'Tomas'];
const LAST = ['Wilber', 'Bowen', 'Vance', 'Siciliani', 'Archie', 'Cantrell', 'Langer', 'Lauer', 'Sherman', 'Gu', 'Holloway', 'Robbins', 'Graham',
  'Wilke', 'Fernandez', 'Gupta', 'Tanaka', 'Kim', 'Park', 'Lee', 'Okafor', 'Mensah', 'Garcia', 'Rossi'];

/** User number i of a bench customer: realistic name lengths (e.g. "Henrietta Cantrell 4711", henrietta.cantrell4711@…). */
export function benchUser(i: number, licenses: string[] = [], prefix = ''): NewUserInput {
  const first = FIRST[i % FIRST.length];
  const last = LAST[Math.floor(i / FIRST.length) % LAST.length];
  return {
    username: `${prefix}${first}.${last}${i}`.toLowerCase(),
    firstName: first,
    lastName: last,
    displayName: `${first} ${last} ${prefix}${i}`,
    usageLocation: 'US',
    role: 'user',
    licenses,
  };
}

export interface CreateManyOptions {
  count: number;
  licenses?: (i: number) => string[];
  /** Requests in flight at once (one connection: ioredis pipelines them). */
  inFlight?: number;
  withoutPassword?: boolean;
  prefix?: string;
  start?: number;
}

/** Creates users through DirectoryService.createUser, keeping `inFlight` calls going. */
export async function createMany(directory: DirectoryService, customerId: string, o: CreateManyOptions): Promise<CustomerUser[]> {
  const users: CustomerUser[] = new Array(o.count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= o.count) return;
      const n = (o.start ?? 0) + i;
      const created = await directory.createUser(customerId, benchUser(n, o.licenses?.(n) ?? [], o.prefix), {
        actor: BENCH_ACTOR,
        withoutPassword: o.withoutPassword ?? true,
      });
      users[i] = created.user;
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.inFlight ?? 200, o.count) }, worker));
  return users;
}

export async function customer(directory: DirectoryService, id: string, name: string, subscriptions: Array<{ skuId: string; name: string; seats: number }>): Promise<void> {
  await directory.upsertCustomer({ id, name, domains: [`${id}.onmicrosoft.com`, `${id}.com`], subscriptions }, BENCH_ACTOR);
}
