/**
 * A pseudo-locale for finding untranslated text: every English message wrapped as ⟦…⟧ (placeholders kept),
 * registered as language `qps` (`qps-ploc`, the pseudo-locale tag Windows uses). A card drawn in it must show
 * nothing but wrapped messages, data from its view model (names, UPNs, domains, sku ids …) and separators.
 */
import { registerCatalog, Catalog, translator, Translator } from '../../cards/i18n';
import { en } from '../../cards/i18n/en';
import { formatMessage, Message } from '../../cards/i18n/format';

export const PSEUDO_LOCALE = 'qps-ploc';
const OPEN = '\u27e6';
const CLOSE = '\u27e7';

const wrap = (s: string): string => `${OPEN}${s}${CLOSE}`;

export function pseudoCatalog(): Catalog {
  return Object.fromEntries(
    Object.entries(en as Record<string, Message>).map(([key, m]) => [
      key,
      typeof m === 'string' ? wrap(m) : { ...(m.one !== undefined ? { one: wrap(m.one) } : {}), other: wrap(m.other) },
    ]),
  ) as Catalog;
}

export function pseudoTranslator(): Translator {
  registerCatalog('qps', pseudoCatalog());
  return translator(PSEUDO_LOCALE);
}

/** A date as the catalog's formatter writes it in the pseudo-locale (dates are data, not text). */
export const pseudoDate = (at: number | Date): string => formatMessage(PSEUDO_LOCALE, '{d}', { d: at instanceof Date ? at : new Date(at) });

// ------------------------------------------------------------------------------------------ collecting

export interface VisibleString {
  path: string;
  value: string;
}

/** Every string a person sees on a card: texts, action titles, input labels/placeholders/errors, choice and fact titles. */
export function visibleStrings(node: unknown, path = '$', out: VisibleString[] = []): VisibleString[] {
  if (Array.isArray(node)) {
    node.forEach((child, i) => visibleStrings(child, `${path}[${i}]`, out));
    return out;
  }
  if (!node || typeof node !== 'object') return out;
  const o = node as Record<string, unknown>;
  const type = typeof o.type === 'string' ? o.type : '';
  const take = (prop: string) => {
    if (typeof o[prop] === 'string') out.push({ path: `${path}.${prop}`, value: o[prop] as string });
  };
  if (type === 'TextRun' || type === 'TextBlock') take('text');
  if (type.startsWith('Action.')) take('title');
  if (type.startsWith('Input.')) ['label', 'placeholder', 'errorMessage'].forEach(take);
  ['fallbackText', 'speak', 'altText', 'tooltip'].forEach(take);
  if (Array.isArray(o.choices)) (o.choices as Array<Record<string, unknown>>).forEach((c, i) => typeof c?.title === 'string' && out.push({ path: `${path}.choices[${i}].title`, value: c.title }));
  if (Array.isArray(o.facts)) (o.facts as Array<Record<string, unknown>>).forEach((f, i) => typeof f?.title === 'string' && out.push({ path: `${path}.facts[${i}].title`, value: f.title }));
  for (const [key, value] of Object.entries(o)) {
    if (key === 'choices' || key === 'facts') continue;
    if (value && typeof value === 'object') visibleStrings(value, `${path}.${key}`, out);
  }
  return out;
}

// ------------------------------------------------------------------------------------------ checking

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const SLOT = '\u0000';

/** Every English message form as an anchored pattern, placeholders as captures. */
const TEMPLATES: RegExp[] = Object.values(en as Record<string, Message>)
  .flatMap((m) => (typeof m === 'string' ? [m] : Object.values(m).filter((f): f is string => typeof f === 'string')))
  .map((form) => new RegExp(`^${form.split(/\{\w+\}/).map(escape).join('([\\s\\S]*?)')}$`));

const hasLetters = (s: string): boolean => /\p{L}/u.test(s);

/** What is left once the data values are taken out: letters there are text that came from nowhere. */
function withoutData(s: string, data: string[]): string {
  let rest = s.split(SLOT).join(' ');
  for (const d of data) rest = rest.split(d).join(' ');
  return rest;
}

/**
 * Problems with one visible string: a wrapped message must be an English message whose placeholders hold
 * data, numbers, dates or other wrapped messages; outside wrappers only data and separators may appear.
 */
export function untranslated(value: string, data: string[]): string | undefined {
  const sorted = [...new Set(data.filter((d) => d.length > 0))].sort((a, b) => b.length - a.length);
  let s = value;
  // Innermost wrapped messages first, each replaced by a slot once it checks out.
  for (;;) {
    const m = new RegExp(`${OPEN}([^${OPEN}${CLOSE}]*)${CLOSE}`).exec(s);
    if (!m) break;
    const content = m[1];
    const fits = TEMPLATES.some((re) => {
      const match = re.exec(content);
      return !!match && match.slice(1).every((capture) => !hasLetters(withoutData(capture, sorted)));
    });
    if (!fits) return `"${content}" is wrapped but is no English message with data in its placeholders`;
    s = s.slice(0, m.index) + SLOT + s.slice(m.index + m[0].length);
  }
  if (s.includes(OPEN) || s.includes(CLOSE)) return 'unbalanced ⟦ ⟧';
  const rest = withoutData(s, sorted);
  return hasLetters(rest) ? `untranslated text "${rest.replace(/\s+/g, ' ').trim()}"` : undefined;
}

/** `path: problem (value)` for every visible string of a card that is not translated. */
export function untranslatedStrings(card: unknown, data: string[]): string[] {
  return visibleStrings(card).flatMap(({ path, value }) => {
    const problem = untranslated(value, data);
    return problem ? [`${path}: ${problem} in ${JSON.stringify(value)}`] : [];
  });
}
