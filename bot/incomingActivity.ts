import { z } from 'zod';

/**
 * The fields of an incoming activity that the bot reads as text or sends back in its reply (reply-to id, the caller
 * as recipient, the conversation). The body is JSON from outside: an object or a number where text belongs is refused
 * with a 400 before a turn starts, instead of failing half-way through one (String() throws on some objects, and the
 * connector client cannot serialise a reply addressed to them). Everything else is left to the Bot Framework adapter:
 * other fields are not looked at (z.object leaves them out of its result, which serves only for the verdict).
 */
const text = z.string().max(100_000).optional();
const account = z.object({ id: text, name: text, aadObjectId: text, role: text }).optional();

const activityShape = z.object({
  type: z.string().max(100),
  id: text,
  name: text,
  text: z.string().optional(),
  locale: text,
  replyToId: text,
  serviceUrl: text,
  channelId: text,
  from: account,
  recipient: account,
  conversation: z.object({ id: text, tenantId: text, conversationType: text, name: text }).optional(),
});

/** undefined when the activity is well formed; otherwise the first offending field, e.g. `from.name`. */
export function malformedActivityField(body: unknown): string | undefined {
  const result = activityShape.safeParse(body);
  return result.success ? undefined : result.error.issues[0].path.join('.') || '(body)';
}
