/**
 * The console's languages: typed dictionaries and `t(key, params)`. A key's parameters are read from its English
 * text (`'Node {node} is down'` needs `{ node }`), so a missing or misspelt parameter is a compile error, and every
 * other dictionary must have exactly en's keys with the same placeholders per key (the checks below).
 */
import { en, type MessageKey } from './en.js';
import { zhCN } from './zh-CN.js';

export { en, zhCN, type MessageKey };

export const LANGUAGES = ['en', 'zh-CN'] as const;
export type Language = (typeof LANGUAGES)[number];

/** The `{name}` placeholders of a message text, as a union of names. */
export type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
export type MessageParams<K extends MessageKey> = { readonly [P in Placeholders<(typeof en)[K]>]: string | number };
/** Keys without placeholders may omit the params argument. */
export type ParamsArg<K extends MessageKey> = [Placeholders<(typeof en)[K]>] extends [never] ? [params?: MessageParams<K>] : [params: MessageParams<K>];

type Dictionary = { readonly [K in MessageKey]: string };
export const dictionaries: { readonly [L in Language]: Dictionary } = { en, 'zh-CN': zhCN };

// ---- compile-time parity: zh-CN has exactly en's keys (satisfies in zh-CN.ts rejects missing ones, this extra
// ones) and, per key, exactly the same placeholders. A mismatch names the offending keys in the error.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type ExtraKeys<D> = Exclude<keyof D, MessageKey>;
type PlaceholderMismatch<D extends Dictionary> = {
  [K in MessageKey]: Same<Placeholders<D[K]>, Placeholders<(typeof en)[K]>> extends true ? never : K
}[MessageKey];
/** Fails with "Type '"the.key"' does not satisfy the constraint 'never'" naming each offending key. */
type NoKeys<T extends never> = T;
export type _ZhCnHasNoExtraKeys = NoKeys<ExtraKeys<typeof zhCN>>;
export type _ZhCnPlaceholdersMatch = NoKeys<PlaceholderMismatch<typeof zhCN>>;

/** Translates with `{name}` substitution; a placeholder without a value is left visible rather than blanked. */
export function translate<K extends MessageKey>(language: Language, key: K, ...[params]: ParamsArg<K>): string {
  const text = dictionaries[language][key] ?? en[key];
  if (params === undefined) return text;
  const values = params as Readonly<Record<string, string | number>>;
  return text.replace(/\{([A-Za-z0-9_]+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole);
}

export type Translate = <K extends MessageKey>(key: K, ...params: ParamsArg<K>) => string;

/** `t(key, params)` bound to one language. */
export function translator(language: Language): Translate {
  return (key, ...params) => translate(language, key, ...params);
}

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}
