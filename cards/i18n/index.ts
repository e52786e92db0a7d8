import { en, MessageKey } from './en';
import { formatMessage, Message, Params } from './format';
import { ko } from './ko';

export type { MessageKey } from './en';

/** Every shipped catalog must have exactly the keys of English (the type enforces it). */
export type Catalog = Record<MessageKey, Message>;

const catalogs: Record<string, Catalog> = { en };

export function registerCatalog(language: string, catalog: Catalog): void {
  catalogs[language] = catalog;
}

export interface Translator {
  locale: string;
  t(key: MessageKey, params?: Params): string;
}

/** Picks the catalog for a Teams locale such as `ko-KR`; English when the language is not shipped. */
export function translator(locale?: string): Translator {
  const language = (locale ?? 'en').toLowerCase().split(/[-_]/)[0];
  const catalog = catalogs[language] ?? catalogs.en;
  const effective = catalogs[language] ? (locale as string) : 'en-US';
  return {
    locale: effective,
    t: (key, params) => formatMessage(effective, catalog[key] ?? en[key], params),
  };
}

export const supportedLanguages = (): string[] => Object.keys(catalogs);

// Shipped languages, registered at module load so `translator('ko-KR')` is Korean everywhere.
registerCatalog('ko', ko);

/** The raw messages of the catalog `translator(locale)` uses (for a browser page that formats them itself). */
export function catalogFor(locale?: string): Catalog {
  const language = (locale ?? 'en').toLowerCase().split(/[-_]/)[0];
  return catalogs[language] ?? catalogs.en;
}
