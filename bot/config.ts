/**
 * Settings: the one place that reads the environment (SPEC §7, §8).
 *
 * `loadSettings()` validates every variable with zod and returns a frozen, typed `Settings` object, or throws a
 * `SettingsError` whose message has one line per bad setting, e.g.
 *   Invalid setting PORT: must be an integer between 1 and 65535 (got "abc")
 * An empty or blank variable counts as unset (a `.env` line `MicrosoftAppId=` means "not set").
 * The values of MicrosoftAppPassword and AZURE_CLIENT_SECRET never appear in a message, and neither do REDIS_URL
 * credentials.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseClusterNodes } from '../services/store/redis';
import { parsePasswordHashKey, PASSWORD_HASH_KEY_MIN_BYTES } from '../services/passwords';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MICROSOFT_APP_TYPES = ['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const;
export type MicrosoftAppType = (typeof MICROSOFT_APP_TYPES)[number];

export const DEFAULT_PORT = 3978;
export const DEFAULT_HOST = '127.0.0.1';
/**
 * Default MicrosoftAppType. botbuilder itself falls back to MultiTenant when the variable is unset, so we keep that
 * default: an existing MultiTenant registration works without an extra setting. New Azure Bot registrations should
 * be SingleTenant (Microsoft no longer lets you create multi-tenant bots); set MicrosoftAppType=SingleTenant and
 * MicrosoftAppTenantId for those, as `.env.example` recommends.
 */
export const DEFAULT_APP_TYPE: MicrosoftAppType = 'MultiTenant';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export const DIRECTORY_BACKENDS = ['redis', 'graph'] as const;
export type DirectoryBackendName = (typeof DIRECTORY_BACKENDS)[number];
export const DEFAULT_GRAPH_BASE_URL = 'https://graph.microsoft.com/v1.0';
/** The `@azure/identity` `authorityHost` option (public cloud). */
export const DEFAULT_AZURE_AUTHORITY_HOST = 'https://login.microsoftonline.com';

export interface Settings {
  readonly port: number;
  /** Interface the HTTP server listens on. */
  readonly host: string;
  /** Unset: the embedded in-process store. */
  readonly redisUrl: string | undefined;
  /** Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES), used instead of REDIS_URL; unset otherwise. */
  readonly redisClusterNodes: ReadonlyArray<{ readonly host: string; readonly port: number }> | undefined;
  readonly microsoftAppId: string | undefined;
  /** Non-enumerable: it does not show up in JSON.stringify, util.inspect, pino or object spread. */
  readonly microsoftAppPassword: string | undefined;
  readonly microsoftAppType: MicrosoftAppType;
  readonly microsoftAppTenantId: string | undefined;
  /** Lower-cased. Unset: callers are not restricted to one tenant. */
  readonly partnerTenantId: string | undefined;
  /** Entra object ids, lower-cased, without duplicates. */
  readonly adminAgents: readonly string[];
  /** Entra object ids, lower-cased, without duplicates. */
  readonly helpdeskAgents: readonly string[];
  /** Absolute path of a readable file. */
  readonly provisionFile: string | undefined;
  /** http(s) origin (and optional path prefix) without a trailing slash; default `http://localhost:<port>`. */
  readonly publicBaseUrl: string;
  readonly logLevel: LogLevel;
  /** Where customers' users and licenses live: the bot's own Redis directory, or each customer's Entra ID (Graph). */
  readonly directoryBackend: DirectoryBackendName;
  /** The Azure Bot resource's OAuth connection used for Teams SSO (required with graph). */
  readonly oauthConnectionName: string | undefined;
  /** The app registration that exchanges the agent's token on behalf of the agent (default: MicrosoftAppId). */
  readonly azureClientId: string | undefined;
  /** Its secret (default: MicrosoftAppPassword). Non-enumerable, like microsoftAppPassword. */
  readonly azureClientSecret: string | undefined;
  /** Microsoft Graph's base URL, without a trailing slash. */
  readonly graphBaseUrl: string;
  /** Microsoft Entra's authority host (`@azure/identity` authorityHost), without a trailing slash. */
  readonly azureAuthorityHost: string;
  /** The Bot Framework token service (botbuilder's `OAuthUrl`); undefined: botbuilder's own default. */
  readonly botOAuthUrl: string | undefined;
  /** The Users and licenses tab's Teams SSO token check (bot/tab/auth.ts). */
  readonly tabSso: TabSsoSettings;
  /** True when MicrosoftAppId is unset: no Bot Framework authentication (Emulator / Agents Playground). */
  readonly localMode: boolean;
  /**
   * PASSWORD_HASH_KEY decoded (≥ 32 bytes): temporary passwords are stored as HMAC-SHA-256 under it. Unset: scrypt
   * with a real Redis, a key drawn at start-up with the embedded store (README, Security model). Non-enumerable.
   */
  readonly passwordHashKey: Buffer | undefined;
}

/** Microsoft's key set for Entra ID v2.0 tokens (every tenant's keys). */
export const DEFAULT_TAB_SSO_JWKS_URL = 'https://login.microsoftonline.com/common/discovery/v2.0/keys';
/** Issuer of a Teams SSO (Entra ID v2.0) token; {tid} is the partner tenant (or the token's tenant when none is set). */
export const DEFAULT_TAB_SSO_ISSUER = 'https://login.microsoftonline.com/{tid}/v2.0';

export interface TabSsoSettings {
  /** Where the signing keys are (TAB_SSO_JWKS_URL). */
  readonly jwksUrl: string;
  /**
   * Accepted `aud` values (TAB_SSO_AUDIENCE, comma-separated); default: the app id URI the manifest's
   * webApplicationInfo declares (`api://<PUBLIC_BASE_URL host>/botid-<MicrosoftAppId>`) and the app id itself. Empty
   * (local mode without TAB_SSO_AUDIENCE): no token is accepted and the tab's API answers 401.
   */
  readonly audiences: readonly string[];
  /** `iss` template (TAB_SSO_ISSUER), with `{tid}`. */
  readonly issuer: string;
}

export interface SettingProblem {
  readonly setting: string;
  readonly reason: string;
}

export class SettingsError extends Error {
  readonly problems: readonly SettingProblem[];

  constructor(problems: readonly SettingProblem[]) {
    super(problems.map((p) => `Invalid setting ${p.setting}: ${p.reason}`).join('\n'));
    this.name = 'SettingsError';
    this.problems = Object.freeze([...problems]);
  }
}

/** True when the bot runs without Bot Framework authentication (MicrosoftAppId unset). */
export function localMode(settings: Pick<Settings, 'microsoftAppId'>): boolean {
  return settings.microsoftAppId === undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Field rules

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * Tenant and user ids are compared as opaque strings. The Agents Playground uses ids that are not valid GUIDs
 * (`00000000-0000-0000-0000-0000000000001`, 13 digits in the last group), so accept hex digits and dashes.
 */
const ENTRA_ID = /^(?=.*[0-9a-f])[0-9a-f-]{8,64}$/i;

const MSG = {
  port: 'must be an integer between 1 and 65535',
  host: 'must be a host name or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0',
  redisUrl: 'must be a redis:// or rediss:// URL, e.g. redis://localhost:6379 (leave it unset for the embedded store)',
  redisClusterNodes: 'must be a comma-separated list of host:port seed nodes of a Redis Cluster, e.g. 10.0.0.1:6379,10.0.0.2:6379',
  appId: "must be a GUID: the Application (client) ID of the bot's Microsoft Entra app registration",
  appType: `must be one of ${MICROSOFT_APP_TYPES.join(', ')}`,
  tenantGuid: 'must be a GUID: the Directory (tenant) ID of the Microsoft Entra tenant',
  tenantId: 'must be a Microsoft Entra tenant id (8 to 64 hex digits and dashes)',
  logLevel: `must be one of ${LOG_LEVELS.join(', ')}`,
  directoryBackend: `must be one of ${DIRECTORY_BACKENDS.join(', ')}`,
  clientId: 'must be a GUID: the Application (client) ID of the app registration that calls Microsoft Graph',
  connectionName: "must be the name of the Azure Bot resource's OAuth connection (letters, digits, spaces, . _ -; at most 100)",
  passwordHashKey: `must be at least ${PASSWORD_HASH_KEY_MIN_BYTES} random bytes in base64, e.g. the output of \`openssl rand -base64 32\``,
} as const;

function idList(value: string): string[] {
  return [...new Set(value.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''))];
}

const agentList = z.string().superRefine((value, ctx) => {
  const bad = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && !ENTRA_ID.test(s));
  if (bad.length > 0) {
    const shown = bad.slice(0, 5).map(quote).join(', ') + (bad.length > 5 ? `, … (${bad.length} in all)` : '');
    ctx.addIssue({
      code: 'custom',
      message:
        `must be a comma-separated list of Microsoft Entra object ids (8 to 64 hex digits and dashes each); ` +
        `not valid: ${shown}`,
    });
  }
});

const schema = z.object({
  PORT: z.string()
    .regex(/^\d{1,5}$/, { error: MSG.port })
    .transform(Number)
    .refine((n) => n >= 1 && n <= 65535, { error: MSG.port })
    .optional(),
  HOST: z.string()
    .regex(/^[A-Za-z0-9.:%[\]-]{1,253}$/, { error: MSG.host })
    .optional(),
  REDIS_URL: z.string()
    .refine((v) => {
      const u = parseUrl(v);
      return u !== undefined && (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
    }, { error: MSG.redisUrl })
    .optional(),
  REDIS_CLUSTER_NODES: z.string()
    .refine((v) => parseClusterNodes(v) !== null, { error: MSG.redisClusterNodes })
    .transform((v) => Object.freeze((parseClusterNodes(v) ?? []).map((n) => Object.freeze(n))))
    .optional(),
  MicrosoftAppId: z.string().regex(GUID, { error: MSG.appId }).optional(),
  MicrosoftAppPassword: z.string().optional(),
  MicrosoftAppType: z.string()
    .refine((v) => canonicalAppType(v) !== undefined, { error: MSG.appType })
    .transform((v) => canonicalAppType(v) as MicrosoftAppType)
    .optional(),
  MicrosoftAppTenantId: z.string().regex(GUID, { error: MSG.tenantGuid }).optional(),
  PARTNER_TENANT_ID: z.string()
    .regex(ENTRA_ID, { error: MSG.tenantId })
    .transform((v) => v.toLowerCase())
    .optional(),
  ADMIN_AGENTS: agentList.transform(idList).optional(),
  HELPDESK_AGENTS: agentList.transform(idList).optional(),
  PROVISION_FILE: z.string()
    .superRefine((v, ctx) => {
      const problem = fileProblem(path.resolve(v));
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform((v) => path.resolve(v))
    .optional(),
  PUBLIC_BASE_URL: z.string()
    .superRefine((v, ctx) => {
      const problem = baseUrlProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  TAB_SSO_JWKS_URL: z.string()
    .refine((v) => {
      const u = parseUrl(v);
      return u !== undefined && (u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)));
    }, { error: 'must be an https:// URL of a JSON Web Key Set (http:// only for 127.0.0.1 or localhost, in tests)' })
    .optional(),
  TAB_SSO_AUDIENCE: z.string()
    .refine((v) => idList(v).length > 0, { error: 'must be a comma-separated list of accepted token audiences (app id URI, app id)' })
    .transform((v) => [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))])
    .optional(),
  TAB_SSO_ISSUER: z.string()
    .refine((v) => { const u = parseUrl(v.replace('{tid}', '00000000-0000-0000-0000-000000000000')); return u !== undefined && /^https?:$/.test(u.protocol); }, {
      error: 'must be an http(s) URL template of the token issuer, e.g. https://login.microsoftonline.com/{tid}/v2.0',
    })
    .optional(),
  LOG_LEVEL: z.string()
    .transform((v) => v.toLowerCase())
    .refine((v): v is LogLevel => (LOG_LEVELS as readonly string[]).includes(v), { error: MSG.logLevel })
    .optional(),
  DIRECTORY_BACKEND: z.string()
    .transform((v) => v.toLowerCase())
    .refine((v): v is DirectoryBackendName => (DIRECTORY_BACKENDS as readonly string[]).includes(v), { error: MSG.directoryBackend })
    .optional(),
  OAUTH_CONNECTION_NAME: z.string().regex(/^[A-Za-z0-9 ._-]{1,100}$/, { error: MSG.connectionName }).optional(),
  AZURE_CLIENT_ID: z.string().regex(GUID, { error: MSG.clientId }).optional(),
  AZURE_CLIENT_SECRET: z.string().optional(),
  GRAPH_BASE_URL: serviceUrl(),
  AZURE_AUTHORITY_HOST: serviceUrl(),
  BOT_OAUTH_URL: serviceUrl(),
  PASSWORD_HASH_KEY: z.string()
    .refine((v) => parsePasswordHashKey(v) !== undefined, { error: MSG.passwordHashKey })
    .transform((v) => parsePasswordHashKey(v) as Buffer)
    .optional(),
});

export type SettingName = keyof typeof schema.shape;
/** Every environment variable the bot reads, in the order errors are listed. */
export const SETTING_NAMES: readonly SettingName[] = Object.freeze(Object.keys(schema.shape) as SettingName[]);

/** Settings whose rejected value is not echoed back: secrets, and lists whose message already names the culprits. */
const NEVER_ECHO: ReadonlySet<string> = new Set(['MicrosoftAppPassword', 'AZURE_CLIENT_SECRET', 'ADMIN_AGENTS', 'HELPDESK_AGENTS', 'PASSWORD_HASH_KEY']);

// ---------------------------------------------------------------------------------------------------------------

type RawSettings = Partial<Record<SettingName, string>>;
type ParsedSettings = z.output<typeof schema>;

function readRaw(env: NodeJS.ProcessEnv, names: readonly SettingName[]): RawSettings {
  const raw: RawSettings = {};
  for (const name of names) {
    const value = env[name];
    if (typeof value === 'string' && value.trim() !== '') raw[name] = value.trim();
  }
  return raw;
}

function fieldProblems(raw: RawSettings, names: readonly SettingName[]) {
  const problems = new Map<string, string>();
  const mask = Object.fromEntries(names.map((n) => [n, true])) as { [K in SettingName]?: true };
  const parsed = schema.pick(mask).safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const setting = String(issue.path[0] ?? '');
      if (problems.has(setting)) continue; // one line per setting: the first reason is the useful one
      const secrets = [raw.MicrosoftAppPassword, raw.AZURE_CLIENT_SECRET];
      const message = issue.message + gotSuffix(setting, raw[setting as SettingName], secrets);
      problems.set(setting, hideSecrets(message, secrets));
    }
  }
  return { problems, values: parsed.success ? (parsed.data as ParsedSettings) : undefined };
}

function settingsError(problems: ReadonlyMap<string, string>): SettingsError {
  return new SettingsError(SETTING_NAMES.filter((n) => problems.has(n)).map((n) => ({ setting: n, reason: problems.get(n)! })));
}

/**
 * Validates only the named variables, with the same rules and messages as `loadSettings`, for tools that need a few
 * settings and not the bot's credentials (e.g. the manifest packager needs MicrosoftAppId but not the password).
 * Returns the parsed values as they appear in the environment (no defaults applied).
 */
export function loadSomeSettings<K extends SettingName>(
  names: readonly K[],
  env: NodeJS.ProcessEnv = process.env,
): Pick<ParsedSettings, K> {
  const { problems, values } = fieldProblems(readRaw(env, names), names);
  if (problems.size > 0 || !values) throw settingsError(problems);
  return values;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const raw = readRaw(env, SETTING_NAMES);
  const { problems, values: v } = fieldProblems(raw, SETTING_NAMES);

  // Cross-setting rules. They mirror the assertions botbuilder makes at start-up
  // (ConfigurationServiceClientCredentialFactory), so a bad combination fails here with a clear message instead.
  const appType: MicrosoftAppType | undefined = raw.MicrosoftAppType
    ? canonicalAppType(raw.MicrosoftAppType)
    : DEFAULT_APP_TYPE;
  const has = (name: SettingName) => raw[name] !== undefined;
  const requireSetting = (name: SettingName, why: string) => {
    if (!has(name) && !problems.has(name)) problems.set(name, `required ${why}`);
  };
  if (appType === 'SingleTenant') {
    requireSetting('MicrosoftAppId', 'when MicrosoftAppType is SingleTenant (for local mode leave MicrosoftAppType unset)');
    requireSetting('MicrosoftAppTenantId', 'when MicrosoftAppType is SingleTenant');
    requireSetting('MicrosoftAppPassword', 'when MicrosoftAppType is SingleTenant');
  } else if (appType === 'UserAssignedMSI') {
    requireSetting(
      'MicrosoftAppId',
      'when MicrosoftAppType is UserAssignedMSI: the client ID of the managed identity (for local mode leave MicrosoftAppType unset)',
    );
    requireSetting('MicrosoftAppTenantId', 'when MicrosoftAppType is UserAssignedMSI');
    if (has('MicrosoftAppPassword')) {
      problems.set('MicrosoftAppPassword', 'must be unset when MicrosoftAppType is UserAssignedMSI (a managed identity has no secret)');
    }
  } else if (appType === 'MultiTenant') {
    if (has('MicrosoftAppId')) {
      requireSetting('MicrosoftAppPassword', 'when MicrosoftAppId is set and MicrosoftAppType is MultiTenant');
    } else {
      // Credentials without an app id would silently start the bot in local mode, without authentication.
      for (const name of ['MicrosoftAppPassword', 'MicrosoftAppTenantId'] as const) {
        if (has(name) && !problems.has(name)) {
          problems.set(
            name,
            'is set but MicrosoftAppId is not; set MicrosoftAppId too (without it the bot runs in local mode, ' +
              `with no authentication), or unset ${name}`,
          );
        }
      }
    }
  }

  if (has('REDIS_URL') && has('REDIS_CLUSTER_NODES') && !problems.has('REDIS_CLUSTER_NODES')) {
    problems.set('REDIS_CLUSTER_NODES', 'cannot be used together with REDIS_URL: set one of them (a single Redis or a cluster)');
  }

  // Graph acts on behalf of each agent: it needs the app that does OBO, the partner's tenant (where the GDAP
  // customers are read) and the OAuth connection agents sign in through. All that is missing, in one line.
  if (v?.DIRECTORY_BACKEND === 'graph' && !problems.has('DIRECTORY_BACKEND')) {
    const missing = [
      !has('AZURE_CLIENT_ID') && !has('MicrosoftAppId') ? 'AZURE_CLIENT_ID (or MicrosoftAppId)' : '',
      !has('AZURE_CLIENT_SECRET') && !has('MicrosoftAppPassword') ? 'AZURE_CLIENT_SECRET (or MicrosoftAppPassword)' : '',
      !has('PARTNER_TENANT_ID') ? 'PARTNER_TENANT_ID' : '',
      !has('OAUTH_CONNECTION_NAME') ? 'OAUTH_CONNECTION_NAME' : '',
    ].filter(Boolean);
    if (missing.length) problems.set('DIRECTORY_BACKEND', `graph requires ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not set`);
    if (has('PROVISION_FILE') && !problems.has('PROVISION_FILE')) {
      problems.set('PROVISION_FILE', "must be unset with DIRECTORY_BACKEND=graph: customers come from the partner's GDAP relationships, not from a file");
    }
  }

  if (problems.size > 0 || !v) throw settingsError(problems);

  const port = v.PORT ?? DEFAULT_PORT;
  const settings = {
    port,
    host: v.HOST ?? DEFAULT_HOST,
    redisUrl: v.REDIS_URL,
    redisClusterNodes: v.REDIS_CLUSTER_NODES,
    microsoftAppId: v.MicrosoftAppId,
    microsoftAppType: v.MicrosoftAppType ?? DEFAULT_APP_TYPE,
    microsoftAppTenantId: v.MicrosoftAppTenantId,
    partnerTenantId: v.PARTNER_TENANT_ID,
    adminAgents: Object.freeze(v.ADMIN_AGENTS ?? []),
    helpdeskAgents: Object.freeze(v.HELPDESK_AGENTS ?? []),
    provisionFile: v.PROVISION_FILE,
    publicBaseUrl: v.PUBLIC_BASE_URL ?? `http://localhost:${port}`,
    logLevel: v.LOG_LEVEL ?? DEFAULT_LOG_LEVEL,
    tabSso: Object.freeze({
      jwksUrl: v.TAB_SSO_JWKS_URL ?? DEFAULT_TAB_SSO_JWKS_URL,
      audiences: Object.freeze(
        v.TAB_SSO_AUDIENCE ??
          (v.MicrosoftAppId ? [`api://${new URL(v.PUBLIC_BASE_URL ?? `http://localhost:${port}`).hostname}/botid-${v.MicrosoftAppId}`, v.MicrosoftAppId] : []),
      ),
      issuer: v.TAB_SSO_ISSUER ?? DEFAULT_TAB_SSO_ISSUER,
    }),
    localMode: v.MicrosoftAppId === undefined,
    directoryBackend: v.DIRECTORY_BACKEND ?? 'redis',
    oauthConnectionName: v.OAUTH_CONNECTION_NAME,
    azureClientId: v.AZURE_CLIENT_ID ?? v.MicrosoftAppId,
    graphBaseUrl: v.GRAPH_BASE_URL ?? DEFAULT_GRAPH_BASE_URL,
    azureAuthorityHost: v.AZURE_AUTHORITY_HOST ?? DEFAULT_AZURE_AUTHORITY_HOST,
    botOAuthUrl: v.BOT_OAUTH_URL,
  };
  for (const [name, value] of [
    ['microsoftAppPassword', v.MicrosoftAppPassword],
    ['azureClientSecret', v.AZURE_CLIENT_SECRET ?? v.MicrosoftAppPassword],
  ] as const) {
    Object.defineProperty(settings, name, { value, enumerable: false, writable: false, configurable: false });
  }
  Object.defineProperty(settings, 'passwordHashKey', { value: v.PASSWORD_HASH_KEY, enumerable: false, writable: false, configurable: false });
  return Object.freeze(settings) as Settings;
}

/** A copy that is safe to log: no password, no Redis credentials. */
export function settingsForLog(settings: Settings): Record<string, unknown> {
  return {
    port: settings.port,
    host: settings.host,
    redis: settings.redisUrl
      ? redactUrl(settings.redisUrl)
      : settings.redisClusterNodes
        ? `cluster ${settings.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
        : 'embedded',
    microsoftAppId: settings.microsoftAppId ?? null,
    microsoftAppType: settings.microsoftAppType,
    microsoftAppTenantId: settings.microsoftAppTenantId ?? null,
    microsoftAppPassword: settings.microsoftAppPassword ? '(set)' : '(unset)',
    passwordHashKey: settings.passwordHashKey ? '(set)' : '(unset)',
    partnerTenantId: settings.partnerTenantId ?? null,
    adminAgents: settings.adminAgents.length,
    helpdeskAgents: settings.helpdeskAgents.length,
    provisionFile: settings.provisionFile ?? null,
    publicBaseUrl: settings.publicBaseUrl,
    logLevel: settings.logLevel,
    tabSso: { jwksUrl: settings.tabSso.jwksUrl, audiences: settings.tabSso.audiences, issuer: settings.tabSso.issuer },
    localMode: settings.localMode,
    directoryBackend: settings.directoryBackend,
    oauthConnectionName: settings.oauthConnectionName ?? null,
    azureClientId: settings.azureClientId ?? null,
    azureClientSecret: settings.azureClientSecret ? '(set)' : '(unset)',
    graphBaseUrl: settings.graphBaseUrl,
    azureAuthorityHost: settings.azureAuthorityHost,
    botOAuthUrl: settings.botOAuthUrl ?? null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function canonicalAppType(value: string): MicrosoftAppType | undefined {
  // botbuilder compares MicrosoftAppType case-insensitively; so do we, and hand back the canonical spelling.
  return MICROSOFT_APP_TYPES.find((t) => t.toLowerCase() === value.trim().toLowerCase());
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function baseUrlProblem(value: string): string | undefined {
  const u = parseUrl(value);
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    return 'must be an http:// or https:// URL, e.g. https://bot.example.com';
  }
  if (u.username || u.password) return 'must not contain a user name or password';
  if (u.search || u.hash || value.includes('?') || value.includes('#')) return 'must not contain a query or fragment';
  if (value.endsWith('/')) return 'must not end with "/"';
  return undefined;
}

function fileProblem(file: string): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return `file not found: ${file}`;
  }
  if (!stat.isFile()) return `is not a file: ${file}`;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    return `file is not readable: ${file}`;
  }
  return undefined;
}

/** Hides credentials in a URL-like string, parsable or not. */
function redactUrl(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');
}

/** Last line of defence: whatever a message quotes, the secrets are masked. */
function hideSecrets(message: string, secrets: ReadonlyArray<string | undefined>): string {
  return secrets.reduce<string>((m, secret) => (secret ? m.split(secret).join('***') : m), message);
}

/** An http(s) service URL (Graph, the authority host, the token service); a trailing "/" is dropped. */
function serviceUrl() {
  return z.string()
    .superRefine((v, ctx) => {
      const u = parseUrl(v);
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
        ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
      } else if (u.username || u.password || u.search || u.hash) {
        ctx.addIssue({ code: 'custom', message: 'must not contain a user name, password, query or fragment' });
      }
    })
    .transform((v) => v.replace(/\/+$/, ''))
    .optional();
}

function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return JSON.stringify(shown); // JSON escaping keeps the message on one line
}

function gotSuffix(setting: string, value: string | undefined, secrets: ReadonlyArray<string | undefined>): string {
  if (value === undefined || NEVER_ECHO.has(setting)) return '';
  // A secret pasted into the wrong variable must not leak through that variable's message either.
  if (secrets.some((secret) => secret && value.includes(secret))) return ' (value not shown: it contains a secret)';
  if (setting === 'PROVISION_FILE') return ''; // the reason already names the resolved path
  return ` (got ${quote(redactUrl(value))})`;
}
