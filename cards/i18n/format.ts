/**
 * Message formatting: `{name}` placeholders, plural forms chosen by Intl.PluralRules on `count`,
 * numbers and dates formatted for the locale. Catalogs are typed TypeScript tables, so a missing
 * key is a compile error; placeholder parity between languages is checked by a test.
 */
export type PluralMessage = { one?: string; other: string };
export type Message = string | PluralMessage;
export type Params = Record<string, string | number | Date>;

/**
 * Intl formatters are costly to build (tens of µs each; a users card formats dozens of values) and safe to reuse,
 * so each locale's are built once. The locale comes from the request: the cache is bounded, later locales are
 * served with formatters built per call as before.
 */
interface Formatters {
  plural?: Intl.PluralRules;
  number?: Intl.NumberFormat;
  date?: Intl.DateTimeFormat;
}
const MAX_CACHED_LOCALES = 32;
const cache = new Map<string, Formatters>();

function formattersFor(locale: string): Formatters {
  let f = cache.get(locale);
  if (!f) {
    f = {};
    if (cache.size < MAX_CACHED_LOCALES) cache.set(locale, f);
  }
  return f;
}

export function formatMessage(locale: string, message: Message, params: Params = {}): string {
  const f = formattersFor(locale);
  let template: string;
  if (typeof message === 'string') {
    template = message;
  } else {
    const count = Number(params.count ?? 0);
    const form = (f.plural ??= new Intl.PluralRules(locale)).select(count) as keyof PluralMessage;
    template = message[form] ?? message.other;
  }
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    if (value === undefined) return whole;
    if (value instanceof Date) {
      return (f.date ??= new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' })).format(value) + ' UTC';
    }
    if (typeof value === 'number') return (f.number ??= new Intl.NumberFormat(locale)).format(value);
    return value;
  });
}

export function placeholders(message: Message): string[] {
  const texts = typeof message === 'string' ? [message] : Object.values(message);
  return [...new Set(texts.flatMap((t) => [...(t ?? '').matchAll(/\{(\w+)\}/g)].map((m) => m[1])))].sort();
}
