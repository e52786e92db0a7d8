import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DirectoryService } from './directory';
import { DirectoryError, isDirectoryError } from './errors';
import { Actor, USER_ROLES } from './types';

/** The provisioning file (SPEC §7), validated with errors that name the path of the bad field. */
const subscriptionSchema = z.strictObject({
  skuId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." or "-", at most 64'),
  name: z.string().trim().min(1).max(128),
  seats: z.number().int().min(0).max(1_000_000),
});

const userSchema = z.strictObject({
  username: z.string().min(1).max(64),
  domain: z.string().optional(),
  firstName: z.string().max(64).optional(),
  lastName: z.string().max(64).optional(),
  displayName: z.string().min(1).max(256),
  usageLocation: z.string().length(2),
  role: z.enum(USER_ROLES).optional(),
  licenses: z.array(z.string()).optional(),
});

const customerSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and "-", at most 63'),
  name: z.string().trim().min(1).max(256),
  domains: z
    .array(z.string().toLowerCase().regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'a domain name'))
    .min(1),
  subscriptions: z.array(subscriptionSchema).default([]),
  users: z.array(userSchema).optional(),
});

export const provisioningSchema = z.strictObject({
  customers: z.array(customerSchema).superRefine((customers, ctx) => {
    const seen = new Set<string>();
    customers.forEach((c, i) => {
      if (seen.has(c.id)) ctx.addIssue({ code: 'custom', message: `duplicate customer id "${c.id}"`, path: [i, 'id'] });
      seen.add(c.id);
    });
  }),
});
export type ProvisioningFile = z.infer<typeof provisioningSchema>;

export class ProvisioningError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid provisioning file:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ProvisioningError';
  }
}

export function parseProvisioning(json: unknown): ProvisioningFile {
  const parsed = provisioningSchema.safeParse(json);
  if (!parsed.success) {
    throw new ProvisioningError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}

export async function readProvisioningFile(path: string): Promise<ProvisioningFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ProvisioningError([`cannot read ${path}: ${(err as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ProvisioningError([`${path} is not valid JSON: ${(err as Error).message}`]);
  }
  return parseProvisioning(json);
}

export const PROVISIONING_ACTOR: Actor = { id: 'provisioning', name: 'Provisioning' };

export interface ProvisioningSummary {
  customers: number;
  usersCreated: number;
  usersExisting: number;
}

/**
 * Idempotent upsert of customers, subscriptions and existing users. Users are created without a
 * password (the bot never learns one for them); a user that already exists is left as it is.
 */
export async function provision(directory: DirectoryService, file: ProvisioningFile): Promise<ProvisioningSummary> {
  const summary: ProvisioningSummary = { customers: 0, usersCreated: 0, usersExisting: 0 };
  for (const customer of file.customers) {
    await directory.upsertCustomer(customer, PROVISIONING_ACTOR);
    summary.customers++;
    const users = customer.users ?? [];
    for (let i = 0; i < users.length; i += 50) {
      await Promise.all(
        users.slice(i, i + 50).map(async (u, j) => {
          try {
            await directory.createUser(customer.id, u, { actor: PROVISIONING_ACTOR, withoutPassword: true });
            summary.usersCreated++;
          } catch (err) {
            if (isDirectoryError(err) && err.code === 'UPN_TAKEN') summary.usersExisting++;
            else throw new ProvisioningError([`customers.${customer.id}.users.${i + j} (${u.username}): ${describe(err)}`]);
          }
        }),
      );
    }
  }
  return summary;
}

function describe(err: unknown): string {
  return err instanceof DirectoryError ? `${err.code} ${JSON.stringify(err.params)}` : String(err);
}
