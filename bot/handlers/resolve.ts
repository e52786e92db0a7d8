import { choiceCard, errorCard } from '../../cards/common';
import { DirectoryError, isDirectoryError } from '../../services/errors';
import type { Customer, CustomerUser } from '../../services/types';
import { CallerRole, mayRun } from '../agents';
import { tokenize } from '../commands/parse';
import { CardReply, HandlerContext } from './context';
import { describeError } from './errors';

const quote = (token: string): string => (/[\s"]/.test(token) ? `"${token.replace(/"/g, '')}"` : token);

/** The typed command again with one token (customer or user reference) replaced. */
function rewrite(text: string, from: string, to: string): string {
  const tokens = tokenize(text);
  const i = tokens.findIndex((tk, idx) => idx > 0 && tk === from);
  if (i >= 0) tokens[i] = to;
  const line = tokens.map(quote).join(' ');
  if (i >= 0 || !from || !tokens.length) return line;
  // A name in a comma-separated user list may be typed without quotes ("delete user contoso bob, Alex Kim"): it spans
  // several tokens or shares one with a comma. Replace it where it stands between separators; left as it was, every
  // button of the choice card ran the same ambiguous command again.
  const edge = (ch: string | undefined) => ch === undefined || ch === ',' || /\s/.test(ch);
  for (let at = line.indexOf(from, quote(tokens[0]).length); at >= 0; at = line.indexOf(from, at + 1)) {
    if (edge(line[at - 1]) && edge(line[at + from.length])) return line.slice(0, at) + quote(to) + line.slice(at + from.length);
  }
  return line;
}

const RANK: Record<CallerRole, number> = { none: 0, helpdesk: 1, admin: 2 };

/**
 * The directory's gate, once the customer is known: a directory that grants rights of its own (Graph: the agent's
 * GDAP roles in that customer) caps the caller's role for this turn, so the cards offer only what the agent may do
 * there; a command the capped role may not run is refused with the directory roles that are missing. The Redis
 * directory grants nothing of its own (null): the bot's role table alone counts.
 */
async function gateDirectoryAccess(ctx: HandlerContext, customer: Customer): Promise<void> {
  const access = await ctx.directory.accessFor(customer.id);
  if (!access) return;
  if (RANK[access.level] < RANK[ctx.caller.role]) ctx.caller.role = access.level;
  if (!mayRun(ctx.caller.role, ctx.access)) throw new DirectoryError('DIRECTORY_ROLE_MISSING', { roles: access.missing.join(', ') });
}

/** Customer by id, domain or name; none → error card, several → a card to choose. Then the directory's gate. */
export async function resolveCustomer(ctx: HandlerContext, reference: string): Promise<Customer> {
  const found = async (customer: Customer): Promise<Customer> => {
    ctx.resolved.customerId = customer.id;
    await gateDirectoryAccess(ctx, customer);
    return customer;
  };
  // A card's button names the customer by its id: read that customer alone rather than every customer's name.
  if (!ctx.text) {
    try {
      return found(await ctx.directory.getCustomer(reference));
    } catch (err) {
      if (!isDirectoryError(err) || err.code !== 'CUSTOMER_NOT_FOUND') throw err;
    }
  }
  const matches = await ctx.directory.findCustomers(reference);
  if (matches.length === 1) return found(matches[0]);
  if (!matches.length || !ctx.text) {
    throw new CardReply(errorCard(ctx.t, { message: ctx.t('error.customerNotFound', { customer: reference }), hint: ctx.t('error.tryHelp') }));
  }
  throw new CardReply(
    choiceCard({
      title: ctx.t('choice.customerTitle'),
      prompt: ctx.t('choice.customerPrompt', { text: reference }),
      options: matches.map((c) => ({ title: `${c.name} (${c.domains[0]})`, commandText: rewrite(ctx.text, reference, c.id) })),
    }),
  );
}

/** User by id, UPN or username; failing those, by exact display name (several → choose). */
export async function resolveUser(ctx: HandlerContext, customer: Customer, reference: string): Promise<CustomerUser> {
  try {
    return await ctx.directory.findUser(customer.id, reference);
  } catch (err) {
    if (!isDirectoryError(err) || err.code !== 'USER_NOT_FOUND') throw err;
  }
  const page = await ctx.directory.listUsers(customer.id, { search: reference, pageSize: 20 });
  const named = page.users.filter((u) => u.displayName.toLowerCase() === reference.trim().toLowerCase());
  if (named.length === 1) return named[0];
  if (named.length > 1 && ctx.text) {
    throw new CardReply(
      choiceCard({
        title: ctx.t('choice.userTitle'),
        prompt: ctx.t('choice.userPrompt', { text: reference }),
        options: named.map((u) => ({ title: `${u.displayName} (${u.userPrincipalName})`, commandText: rewrite(ctx.text, reference, u.userPrincipalName) })),
      }),
    );
  }
  throw new CardReply(errorCard(ctx.t, { message: describeError(ctx.t, new DirectoryError('USER_NOT_FOUND', { user: reference })) }));
}

export async function resolveUsers(ctx: HandlerContext, customer: Customer, references: string[]): Promise<CustomerUser[]> {
  const users: CustomerUser[] = [];
  for (const ref of references) users.push(await resolveUser(ctx, customer, ref));
  return users;
}
