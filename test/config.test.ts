import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { loadSettings, loadSomeSettings, localMode, SETTING_NAMES, settingsForLog, SettingsError } from '../bot/config';

const APP_ID = '11111111-2222-3333-4444-555555555555';
const TENANT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'Sup3r~Secret.Value_xyz';

// Created at load time: the test tables below name these paths.
const tmpDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'config-test-')));
const provisionFile = path.join(tmpDir, 'customers.json');
fs.writeFileSync(provisionFile, '{"customers":[]}');

afterAll(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

function errorOf(env: NodeJS.ProcessEnv): SettingsError {
  try {
    loadSettings(env);
  } catch (e) {
    if (e instanceof SettingsError) return e;
    throw e;
  }
  throw new Error('loadSettings did not throw');
}

describe('loadSettings defaults', () => {
  it('gives the documented defaults for an empty environment', () => {
    const s = loadSettings({});
    expect(s).toEqual({
      port: 3978,
      host: '127.0.0.1',
      redisUrl: undefined,
      microsoftAppId: undefined,
      microsoftAppType: 'MultiTenant',
      microsoftAppTenantId: undefined,
      partnerTenantId: undefined,
      adminAgents: [],
      helpdeskAgents: [],
      provisionFile: undefined,
      publicBaseUrl: 'http://localhost:3978',
      logLevel: 'info',
      // Local mode: no app id, so no audience the tab's API would accept until TAB_SSO_AUDIENCE is set.
      tabSso: { jwksUrl: 'https://login.microsoftonline.com/common/discovery/v2.0/keys', audiences: [], issuer: 'https://login.microsoftonline.com/{tid}/v2.0' },
      localMode: true,
      directoryBackend: 'redis',
      oauthConnectionName: undefined,
      azureClientId: undefined,
      graphBaseUrl: 'https://graph.microsoft.com/v1.0',
      azureAuthorityHost: 'https://login.microsoftonline.com',
      botOAuthUrl: undefined,
    });
    expect(s.microsoftAppPassword).toBeUndefined();
    expect(s.azureClientSecret).toBeUndefined();
    expect(localMode(s)).toBe(true);
  });

  it('derives the tab\'s SSO audiences from PUBLIC_BASE_URL and MicrosoftAppId; refuses a plain-http key set elsewhere than loopback', () => {
    const appId = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
    const s = loadSettings({ MicrosoftAppId: appId, MicrosoftAppPassword: 'x', PUBLIC_BASE_URL: 'https://bot.contoso.com' });
    expect(s.tabSso.audiences).toEqual([`api://bot.contoso.com/botid-${appId}`, appId]);
    expect(() => loadSettings({ TAB_SSO_JWKS_URL: 'http://keys.example.com/keys' })).toThrow(/TAB_SSO_JWKS_URL: must be an https:\/\/ URL/);
    expect(loadSettings({ TAB_SSO_JWKS_URL: 'http://127.0.0.1:9/keys', TAB_SSO_AUDIENCE: 'api://a, b' }).tabSso).toMatchObject({ jwksUrl: 'http://127.0.0.1:9/keys', audiences: ['api://a', 'b'] });
  });

  it('treats blank variables as unset', () => {
    const s = loadSettings({ PORT: '', MicrosoftAppId: '  ', REDIS_URL: '', LOG_LEVEL: ' ', ADMIN_AGENTS: '' });
    expect(s.port).toBe(3978);
    expect(s.localMode).toBe(true);
    expect(s.redisUrl).toBeUndefined();
    expect(s.adminAgents).toEqual([]);
  });

  it('derives PUBLIC_BASE_URL from PORT', () => {
    expect(loadSettings({ PORT: '8080' }).publicBaseUrl).toBe('http://localhost:8080');
  });

  it('reads process.env when called without an argument', () => {
    const saved = process.env.PORT;
    process.env.PORT = '4321';
    try {
      expect(loadSettings().port).toBe(4321);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });
});

describe('a good full configuration', () => {
  const env = {
    PORT: '8443',
    HOST: '0.0.0.0',
    REDIS_URL: 'rediss://:pw@cache.example.net:6380/2',
    MicrosoftAppId: APP_ID,
    MicrosoftAppPassword: SECRET,
    MicrosoftAppType: 'singletenant',
    MicrosoftAppTenantId: TENANT,
    PARTNER_TENANT_ID: TENANT.toUpperCase(),
    ADMIN_AGENTS: ' 00000000-0000-0000-0000-0000000000020, ,AAAAAAAA-0000-0000-0000-000000000001,',
    HELPDESK_AGENTS: 'bbbbbbbb-0000-0000-0000-000000000002,bbbbbbbb-0000-0000-0000-000000000002',
    PROVISION_FILE: '', // set per test
    PUBLIC_BASE_URL: 'https://bot.example.com/partner',
    LOG_LEVEL: 'DEBUG',
  };

  it('parses, normalises and freezes every value', () => {
    const s = loadSettings({ ...env, PROVISION_FILE: provisionFile });
    expect(s).toMatchObject({
      port: 8443,
      host: '0.0.0.0',
      redisUrl: 'rediss://:pw@cache.example.net:6380/2',
      microsoftAppId: APP_ID,
      microsoftAppType: 'SingleTenant',
      microsoftAppTenantId: TENANT,
      partnerTenantId: TENANT,
      adminAgents: ['00000000-0000-0000-0000-0000000000020', 'aaaaaaaa-0000-0000-0000-000000000001'],
      helpdeskAgents: ['bbbbbbbb-0000-0000-0000-000000000002'],
      provisionFile,
      publicBaseUrl: 'https://bot.example.com/partner',
      logLevel: 'debug',
      localMode: false,
    });
    expect(s.microsoftAppPassword).toBe(SECRET);
    expect(localMode(s)).toBe(false);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.adminAgents)).toBe(true);
    expect(() => {
      (s as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('keeps the password out of JSON, inspect and the log view', () => {
    const s = loadSettings({ ...env, PROVISION_FILE: provisionFile });
    expect(JSON.stringify(s)).not.toContain(SECRET);
    expect(util.inspect(s)).not.toContain(SECRET);
    const forLog = JSON.stringify(settingsForLog(s));
    expect(forLog).not.toContain(SECRET);
    expect(forLog).not.toContain(':pw@');
  });

  it('accepts the Agents Playground tenant and user ids, which are not strict GUIDs', () => {
    const s = loadSettings({
      PARTNER_TENANT_ID: '00000000-0000-0000-0000-0000000000001',
      ADMIN_AGENTS: '00000000-0000-0000-0000-0000000000020',
    });
    expect(s.partnerTenantId).toBe('00000000-0000-0000-0000-0000000000001');
    expect(s.adminAgents).toEqual(['00000000-0000-0000-0000-0000000000020']);
  });

  it('accepts UserAssignedMSI without a password', () => {
    const s = loadSettings({ MicrosoftAppType: 'UserAssignedMSI', MicrosoftAppId: APP_ID, MicrosoftAppTenantId: TENANT });
    expect(s.microsoftAppType).toBe('UserAssignedMSI');
    expect(s.localMode).toBe(false);
  });

  it('accepts MultiTenant with an app id and password', () => {
    const s = loadSettings({ MicrosoftAppId: APP_ID, MicrosoftAppPassword: SECRET });
    expect(s.microsoftAppType).toBe('MultiTenant');
    expect(s.localMode).toBe(false);
  });
});

describe('bad values each produce their own clear line', () => {
  const missing = () => path.join(tmpDir, 'nope.json');
  const rows: Array<[string, () => NodeJS.ProcessEnv, string]> = [
    ['PORT not a number', () => ({ PORT: 'abc' }), 'Invalid setting PORT: must be an integer between 1 and 65535 (got "abc")'],
    ['PORT zero', () => ({ PORT: '0' }), 'Invalid setting PORT: must be an integer between 1 and 65535 (got "0")'],
    ['PORT too big', () => ({ PORT: '65536' }), 'Invalid setting PORT: must be an integer between 1 and 65535 (got "65536")'],
    ['PORT fractional', () => ({ PORT: '80.5' }), 'Invalid setting PORT: must be an integer between 1 and 65535 (got "80.5")'],
    ['HOST with a space', () => ({ HOST: 'my host' }), 'Invalid setting HOST: must be a host name or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0 (got "my host")'],
    ['REDIS_URL http', () => ({ REDIS_URL: 'http://localhost:6379' }), 'Invalid setting REDIS_URL: must be a redis:// or rediss:// URL, e.g. redis://localhost:6379 (leave it unset for the embedded store) (got "http://localhost:6379")'],
    ['REDIS_URL host only', () => ({ REDIS_URL: 'localhost:6379' }), 'Invalid setting REDIS_URL: must be a redis:// or rediss:// URL, e.g. redis://localhost:6379 (leave it unset for the embedded store) (got "localhost:6379")'],
    ['REDIS_URL credentials hidden', () => ({ REDIS_URL: 'redis://user:hunter2@/0' }), 'Invalid setting REDIS_URL: must be a redis:// or rediss:// URL, e.g. redis://localhost:6379 (leave it unset for the embedded store) (got "redis://***@/0")'],
    ['MicrosoftAppId not a GUID', () => ({ MicrosoftAppId: 'my-bot', MicrosoftAppPassword: 'x' }), `Invalid setting MicrosoftAppId: must be a GUID: the Application (client) ID of the bot's Microsoft Entra app registration (got "my-bot")`],
    ['MicrosoftAppType unknown', () => ({ MicrosoftAppType: 'Managed' }), 'Invalid setting MicrosoftAppType: must be one of MultiTenant, SingleTenant, UserAssignedMSI (got "Managed")'],
    ['MicrosoftAppTenantId not a GUID', () => ({ MicrosoftAppType: 'SingleTenant', MicrosoftAppId: APP_ID, MicrosoftAppPassword: SECRET, MicrosoftAppTenantId: 'contoso.onmicrosoft.com' }), 'Invalid setting MicrosoftAppTenantId: must be a GUID: the Directory (tenant) ID of the Microsoft Entra tenant (got "contoso.onmicrosoft.com")'],
    ['MultiTenant app id without password', () => ({ MicrosoftAppId: APP_ID }), 'Invalid setting MicrosoftAppPassword: required when MicrosoftAppId is set and MicrosoftAppType is MultiTenant'],
    ['password without app id', () => ({ MicrosoftAppPassword: SECRET }), 'Invalid setting MicrosoftAppPassword: is set but MicrosoftAppId is not; set MicrosoftAppId too (without it the bot runs in local mode, with no authentication), or unset MicrosoftAppPassword'],
    ['tenant id without app id', () => ({ MicrosoftAppTenantId: TENANT }), 'Invalid setting MicrosoftAppTenantId: is set but MicrosoftAppId is not; set MicrosoftAppId too (without it the bot runs in local mode, with no authentication), or unset MicrosoftAppTenantId'],
    ['SingleTenant without tenant', () => ({ MicrosoftAppType: 'SingleTenant', MicrosoftAppId: APP_ID, MicrosoftAppPassword: SECRET }), 'Invalid setting MicrosoftAppTenantId: required when MicrosoftAppType is SingleTenant'],
    ['SingleTenant without password', () => ({ MicrosoftAppType: 'SingleTenant', MicrosoftAppId: APP_ID, MicrosoftAppTenantId: TENANT }), 'Invalid setting MicrosoftAppPassword: required when MicrosoftAppType is SingleTenant'],
    ['MSI without tenant', () => ({ MicrosoftAppType: 'UserAssignedMSI', MicrosoftAppId: APP_ID }), 'Invalid setting MicrosoftAppTenantId: required when MicrosoftAppType is UserAssignedMSI'],
    ['MSI with a password', () => ({ MicrosoftAppType: 'UserAssignedMSI', MicrosoftAppId: APP_ID, MicrosoftAppTenantId: TENANT, MicrosoftAppPassword: SECRET }), 'Invalid setting MicrosoftAppPassword: must be unset when MicrosoftAppType is UserAssignedMSI (a managed identity has no secret)'],
    ['PARTNER_TENANT_ID a domain', () => ({ PARTNER_TENANT_ID: 'contoso.com' }), 'Invalid setting PARTNER_TENANT_ID: must be a Microsoft Entra tenant id (8 to 64 hex digits and dashes) (got "contoso.com")'],
    ['PARTNER_TENANT_ID too short', () => ({ PARTNER_TENANT_ID: 'abc' }), 'Invalid setting PARTNER_TENANT_ID: must be a Microsoft Entra tenant id (8 to 64 hex digits and dashes) (got "abc")'],
    ['ADMIN_AGENTS with a UPN', () => ({ ADMIN_AGENTS: `${APP_ID},alice@contoso.com` }), 'Invalid setting ADMIN_AGENTS: must be a comma-separated list of Microsoft Entra object ids (8 to 64 hex digits and dashes each); not valid: "alice@contoso.com"'],
    ['HELPDESK_AGENTS with names', () => ({ HELPDESK_AGENTS: 'bob, carol' }), 'Invalid setting HELPDESK_AGENTS: must be a comma-separated list of Microsoft Entra object ids (8 to 64 hex digits and dashes each); not valid: "bob", "carol"'],
    ['PROVISION_FILE missing', () => ({ PROVISION_FILE: missing() }), `Invalid setting PROVISION_FILE: file not found: ${missing()}`],
    ['PROVISION_FILE a directory', () => ({ PROVISION_FILE: tmpDir }), `Invalid setting PROVISION_FILE: is not a file: ${tmpDir}`],
    ['PUBLIC_BASE_URL ftp', () => ({ PUBLIC_BASE_URL: 'ftp://bot.example.com' }), 'Invalid setting PUBLIC_BASE_URL: must be an http:// or https:// URL, e.g. https://bot.example.com (got "ftp://bot.example.com")'],
    ['PUBLIC_BASE_URL no scheme', () => ({ PUBLIC_BASE_URL: 'bot.example.com' }), 'Invalid setting PUBLIC_BASE_URL: must be an http:// or https:// URL, e.g. https://bot.example.com (got "bot.example.com")'],
    ['PUBLIC_BASE_URL trailing slash', () => ({ PUBLIC_BASE_URL: 'https://bot.example.com/' }), 'Invalid setting PUBLIC_BASE_URL: must not end with "/" (got "https://bot.example.com/")'],
    ['PUBLIC_BASE_URL with query', () => ({ PUBLIC_BASE_URL: 'https://bot.example.com?x=1' }), 'Invalid setting PUBLIC_BASE_URL: must not contain a query or fragment (got "https://bot.example.com?x=1")'],
    ['LOG_LEVEL unknown', () => ({ LOG_LEVEL: 'verbose' }), 'Invalid setting LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")'],
  ];

  it.each(rows)('%s', (_name, env, expected) => {
    const err = errorOf(env());
    expect(err.message).toBe(expected);
    expect(err.message).not.toContain('\n');
    expect(err.problems).toHaveLength(1);
  });

  if (process.getuid?.() !== 0) {
    it('PROVISION_FILE unreadable', () => {
      const locked = path.join(tmpDir, 'locked.json');
      fs.writeFileSync(locked, '{}');
      fs.chmodSync(locked, 0o000);
      expect(errorOf({ PROVISION_FILE: locked }).message).toBe(`Invalid setting PROVISION_FILE: file is not readable: ${locked}`);
    });
  }

  it('resolves a relative PROVISION_FILE against the working directory', () => {
    const rel = path.relative(process.cwd(), provisionFile);
    expect(loadSettings({ PROVISION_FILE: rel }).provisionFile).toBe(provisionFile);
  });

  it('lists several bad settings one per line, in a stable order', () => {
    const err = errorOf({ LOG_LEVEL: 'loud', PORT: '-1', REDIS_URL: 'nope' });
    expect(err.message.split('\n')).toEqual([
      'Invalid setting PORT: must be an integer between 1 and 65535 (got "-1")',
      'Invalid setting REDIS_URL: must be a redis:// or rediss:// URL, e.g. redis://localhost:6379 (leave it unset for the embedded store) (got "nope")',
      'Invalid setting LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    ]);
    expect(err.problems.map((p) => p.setting)).toEqual(['PORT', 'REDIS_URL', 'LOG_LEVEL']);
    expect(err.name).toBe('SettingsError');
  });
});

describe('the password never appears in an error', () => {
  const cases: Array<[string, NodeJS.ProcessEnv]> = [
    ['missing app id', { MicrosoftAppPassword: SECRET }],
    ['MSI with a password', { MicrosoftAppType: 'UserAssignedMSI', MicrosoftAppId: APP_ID, MicrosoftAppTenantId: TENANT, MicrosoftAppPassword: SECRET }],
    ['password pasted into the app id', { MicrosoftAppId: SECRET, MicrosoftAppPassword: SECRET }],
    ['password pasted into another setting', { MicrosoftAppId: APP_ID, MicrosoftAppPassword: SECRET, LOG_LEVEL: SECRET, PORT: `x${SECRET}` }],
    ['password pasted into an agent list', { ADMIN_AGENTS: `${APP_ID},${SECRET}`, MicrosoftAppId: APP_ID, MicrosoftAppPassword: SECRET }],
    ['password pasted into PROVISION_FILE', { PROVISION_FILE: `/nonexistent/${SECRET}.json`, MicrosoftAppId: APP_ID, MicrosoftAppPassword: SECRET }],
    ['everything wrong at once', { PORT: SECRET, HOST: ' ', MicrosoftAppType: SECRET, MicrosoftAppPassword: SECRET, PUBLIC_BASE_URL: SECRET }],
  ];

  it.each(cases)('%s', (_name, env) => {
    const err = errorOf(env);
    expect(err.message).not.toContain(SECRET);
    expect(JSON.stringify(err.problems)).not.toContain(SECRET);
    expect(util.inspect(err)).not.toContain(SECRET);
  });
});

describe('.env.example', () => {
  const text = fs.readFileSync(path.resolve(__dirname, '..', '.env.example'), 'utf8');

  it.each([...SETTING_NAMES])('documents %s with a comment', (name) => {
    const lines = text.split('\n');
    const at = lines.findIndex((l) => new RegExp(`^#? ?${name}=`).test(l));
    expect(at).toBeGreaterThan(0);
    expect(lines[at - 1]).toMatch(/^# \S/);
  });

  it('loads as it is (its active lines are the safe defaults)', () => {
    const env: NodeJS.ProcessEnv = {};
    for (const line of text.split('\n')) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (m) env[m[1]!] = m[2];
    }
    expect(loadSettings(env)).toEqual(loadSettings({}));
  });
});

describe('loadSomeSettings', () => {
  it('checks only the named settings, with the same messages', () => {
    expect(loadSomeSettings(['MicrosoftAppId', 'PORT'], { MicrosoftAppId: APP_ID, LOG_LEVEL: 'bogus' })).toEqual({
      MicrosoftAppId: APP_ID,
    });
    expect(() => loadSomeSettings(['PORT'], { PORT: 'x' })).toThrow(
      'Invalid setting PORT: must be an integer between 1 and 65535 (got "x")',
    );
  });
});

describe('the Graph directory settings', () => {
  const GRAPH_ENV = { DIRECTORY_BACKEND: 'graph', AZURE_CLIENT_ID: APP_ID, AZURE_CLIENT_SECRET: SECRET, PARTNER_TENANT_ID: TENANT, OAUTH_CONNECTION_NAME: 'graph-sso' };

  it('fails with ONE line naming everything graph needs that is missing', () => {
    const err = errorOf({ DIRECTORY_BACKEND: 'graph' });
    expect(err.message.split('\n')).toEqual([
      'Invalid setting DIRECTORY_BACKEND: graph requires AZURE_CLIENT_ID (or MicrosoftAppId), AZURE_CLIENT_SECRET (or MicrosoftAppPassword), PARTNER_TENANT_ID, OAUTH_CONNECTION_NAME, which are not set',
    ]);
    expect(errorOf({ ...GRAPH_ENV, OAUTH_CONNECTION_NAME: '' }).message).toBe(
      'Invalid setting DIRECTORY_BACKEND: graph requires OAUTH_CONNECTION_NAME, which is not set',
    );
  });

  it('works in local mode with AZURE_CLIENT_ID/SECRET, keeps the secret out of enumeration and logs, trims URLs', () => {
    const s = loadSettings({ ...GRAPH_ENV, GRAPH_BASE_URL: 'http://127.0.0.1:9/v1.0/', AZURE_AUTHORITY_HOST: 'http://127.0.0.1:8', BOT_OAUTH_URL: 'http://127.0.0.1:7/' });
    expect(s.localMode).toBe(true);
    expect(s).toMatchObject({ directoryBackend: 'graph', azureClientId: APP_ID, oauthConnectionName: 'graph-sso', graphBaseUrl: 'http://127.0.0.1:9/v1.0', azureAuthorityHost: 'http://127.0.0.1:8', botOAuthUrl: 'http://127.0.0.1:7' });
    expect(s.azureClientSecret).toBe(SECRET);
    expect(Object.keys(s)).not.toContain('azureClientSecret');
    expect(JSON.stringify(s) + util.inspect(s) + JSON.stringify(settingsForLog(s))).not.toContain(SECRET);
  });

  it('defaults the client id and secret to the bot app registration', () => {
    const s = loadSettings({ DIRECTORY_BACKEND: 'Graph', MicrosoftAppId: APP_ID, MicrosoftAppPassword: SECRET, PARTNER_TENANT_ID: TENANT, OAUTH_CONNECTION_NAME: 'sso' });
    expect(s.directoryBackend).toBe('graph');
    expect(s.azureClientId).toBe(APP_ID);
    expect(s.azureClientSecret).toBe(SECRET);
  });

  it('refuses PROVISION_FILE with graph, a bad backend and bad URLs; never echoes the client secret', () => {
    expect(errorOf({ ...GRAPH_ENV, PROVISION_FILE: provisionFile }).message).toMatch(/^Invalid setting PROVISION_FILE: must be unset with DIRECTORY_BACKEND=graph/);
    expect(errorOf({ DIRECTORY_BACKEND: 'ldap' }).message).toBe('Invalid setting DIRECTORY_BACKEND: must be one of redis, graph (got "ldap")');
    expect(errorOf({ GRAPH_BASE_URL: 'ftp://x' }).message).toMatch(/^Invalid setting GRAPH_BASE_URL: must be an http/);
    const err = errorOf({ ...GRAPH_ENV, AZURE_CLIENT_ID: SECRET, BOT_OAUTH_URL: `x${SECRET}` });
    expect(err.message).not.toContain(SECRET);
    expect(err.message).toContain('AZURE_CLIENT_ID');
  });
});

describe('PASSWORD_HASH_KEY', () => {
  const key = Buffer.alloc(32, 7).toString('base64');

  it('is decoded to bytes, kept out of JSON, inspect and the log view', () => {
    const s = loadSettings({ PASSWORD_HASH_KEY: key });
    expect(s.passwordHashKey?.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(JSON.stringify(s)).not.toContain(key);
    expect(util.inspect(s)).not.toContain('passwordHashKey');
    expect(settingsForLog(s).passwordHashKey).toBe('(set)');
    expect(loadSettings({}).passwordHashKey).toBeUndefined();
  });

  it('refuses a short or malformed key without echoing it', () => {
    for (const bad of [Buffer.alloc(16, 1).toString('base64'), 'not a key, but a passphrase']) {
      const err = errorOf({ PASSWORD_HASH_KEY: bad });
      expect(err.problems.map((p) => p.setting)).toEqual(['PASSWORD_HASH_KEY']);
      expect(err.message).toMatch(/at least 32 random bytes in base64/);
      expect(err.message).not.toContain(bad);
    }
  });
});
