/**
 * The Graph / Entra stand-in (test/support/graph) driven the way the product will drive it: real HTTP with fetch, and
 * tokens from @azure/identity's OnBehalfOfCredential against the HTTPS token endpoint (trusted through
 * NODE_EXTRA_CA_CERTS, set by `npm test`).
 */
import { ClientSecretCredential, OnBehalfOfCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { GraphStandIn, ROLE, SeededTenant, startGraphStandIn } from '../support/graph';

const PARTNER = '0a1b2c3d-0000-4000-8000-000000000001';
const CLIENT_ID = '7f0e9c52-1111-4000-8000-000000000002';
const SECRET = 'stand-in-secret~1';
const AGENT = 'a9e7d9f0-2222-4000-8000-000000000003';
const HELPDESK_AGENT = 'b9e7d9f0-3333-4000-8000-000000000004';
const LICENSE_AGENT = 'c9e7d9f0-4444-4000-8000-000000000005';
const DAY = 24 * 3600 * 1000;

let now = Date.UTC(2025, 2, 3, 9, 0, 0);
const clock = { now: () => now };
let g: GraphStandIn;
let contoso: SeededTenant;
let fabrikam: SeededTenant;
const tokenCache = new Map<string, string>();

/**
 * OnBehalfOfCredential against the stand-in. `disableInstanceDiscovery: true` is required (else MSAL asks
 * login.microsoftonline.com for instance metadata and fails with endpoints_resolution_error) but is missing from
 * OnBehalfOfCredential's option types in @azure/identity 4.14 (it is read at run time), hence the non-literal object.
 */
function obo(tenantId: string, userAssertionToken: string, clientSecret = SECRET): OnBehalfOfCredential {
  const options = { tenantId, clientId: CLIENT_ID, clientSecret, userAssertionToken, authorityHost: g.authorityHost, disableInstanceDiscovery: true };
  return new OnBehalfOfCredential(options);
}

async function oboToken(agentId: string, tenantId: string): Promise<string> {
  const key = `${agentId}|${tenantId}`;
  const cached = tokenCache.get(key);
  if (cached) return cached;
  const sso = await g.issueUserToken({ agentId, name: 'Agent' });
  const cred = obo(tenantId, sso, SECRET);
  const t = (await cred.getToken('https://graph.microsoft.com/.default')).token;
  tokenCache.set(key, t);
  return t;
}

async function call(token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(path.startsWith('http') ? path : `${g.graphBaseUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json };
}

const admin = () => oboToken(AGENT, contoso.tenantId);
const EVENTUAL = { ConsistencyLevel: 'eventual' };

beforeAll(async () => {
  g = await startGraphStandIn({ clientId: CLIENT_ID, clientSecret: SECRET, partnerTenantId: PARTNER, clock });
  contoso = g.addCustomerTenant({
    displayName: 'Contoso',
    domains: ['contoso.onmicrosoft.com', 'contoso.com'],
    skus: [
      { skuPartNumber: 'O365_E3', seats: 3 },
      { skuPartNumber: 'SPE_E5', seats: 1 },
    ],
    users: [
      { userPrincipalName: 'adele@contoso.com', displayName: 'Adele Vance', licenses: ['O365_E3'], role: ROLE.globalAdministrator },
      { userPrincipalName: 'alex@contoso.com', displayName: 'Alex Wilber', licenses: ['O365_E3'] },
      { userPrincipalName: 'megan@contoso.com', displayName: 'Megan Bowen' },
      { userPrincipalName: 'nolocation@contoso.com', displayName: 'No Location', usageLocation: null },
      ...Array.from({ length: 6 }, (_, i) => ({ userPrincipalName: `user${i}@contoso.com`, displayName: `Zed User ${i}` })),
    ],
  });
  fabrikam = g.addCustomerTenant({ displayName: 'Fabrikam', domains: ['fabrikam.com'], skus: [{ skuPartNumber: 'O365_E3', seats: 5 }] });
  g.grantGdap(AGENT, contoso.tenantId, [ROLE.userAdministrator, ROLE.licenseAdministrator]);
  g.grantGdap(AGENT, PARTNER, []);
  g.grantGdap(HELPDESK_AGENT, contoso.tenantId, [ROLE.helpdeskAdministrator]);
  g.grantGdap(LICENSE_AGENT, contoso.tenantId, [ROLE.licenseAdministrator]);
});

afterAll(async () => {
  await g?.close();
});

afterEach(() => g.clearFaults());

describe('token endpoint', () => {
  it('issues an on-behalf-of token per tenant with the agent’s GDAP roles as wids, cached by the credential', async () => {
    const sso = await g.issueUserToken({ agentId: AGENT, name: 'Agent One' });
    const cred = obo(contoso.tenantId, sso, SECRET);
    const a = await cred.getToken('https://graph.microsoft.com/.default');
    const b = await cred.getToken('https://graph.microsoft.com/.default');
    expect(b.token).toBe(a.token);
    expect(g.tokenRequestCount(AGENT, contoso.tenantId)).toBe(1);
    const claims = decodeJwt(a.token);
    expect(claims).toMatchObject({ aud: 'https://graph.microsoft.com', tid: contoso.tenantId, oid: AGENT });
    expect((claims.wids as string[]).sort()).toEqual([ROLE.userAdministrator, ROLE.licenseAdministrator].sort());
    expect(claims.exp).toBe(Math.floor(now / 1000) + 3600);

    const fab = obo(fabrikam.tenantId, sso, SECRET);
    expect(decodeJwt((await fab.getToken('https://graph.microsoft.com/.default')).token)).toMatchObject({ tid: fabrikam.tenantId, wids: [] });
    const form = g.tokenRequests.find((r) => r.tenantId === fabrikam.tenantId)!;
    expect(form).toMatchObject({ grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer', clientId: CLIENT_ID, agentId: AGENT, status: 200 });
  });

  it('refuses a wrong client secret (401 invalid_client) and an expired assertion (400 invalid_grant)', async () => {
    const sso = await g.issueUserToken({ agentId: AGENT, name: 'Agent One', expiresInSeconds: 60 });
    const wrong = obo(contoso.tenantId, sso, 'nope');
    await expect(wrong.getToken('https://graph.microsoft.com/.default')).rejects.toThrow(/AADSTS7000215/);
    expect(g.tokenRequests.at(-1)).toMatchObject({ status: 401, error: 'invalid_client' });
    now += 120_000;
    try {
      const late = obo(contoso.tenantId, sso, SECRET);
      await expect(late.getToken('https://graph.microsoft.com/.default')).rejects.toThrow(/AADSTS500133/);
      expect(g.tokenRequests.at(-1)).toMatchObject({ status: 400, error: 'invalid_grant' });
    } finally {
      now -= 120_000;
    }
  });

  it('serves client_credentials, the discovery document and the JWKS', async () => {
    const app = new ClientSecretCredential(PARTNER, CLIENT_ID, SECRET, { authorityHost: g.authorityHost, disableInstanceDiscovery: true });
    expect(decodeJwt((await app.getToken('https://graph.microsoft.com/.default')).token)).toMatchObject({ tid: PARTNER, idtyp: 'app' });
    const jwks = await (await fetch(g.jwksUri())).json();
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    const oidc = await (await fetch(`${g.authorityHost}/${PARTNER}/v2.0/.well-known/openid-configuration`)).json();
    expect(oidc.jwks_uri).toBe(g.jwksUri(PARTNER));
    expect(decodeJwt(await g.issueUserToken({ agentId: AGENT, name: 'A' }))).toMatchObject({ iss: g.issuer(), aud: CLIENT_ID, tid: PARTNER, scp: 'access_as_user' });
  });
});

describe('Graph reads', () => {
  it('needs a bearer token of the stand-in, and lists the partner’s GDAP customers with paging', async () => {
    expect((await call(undefined, 'GET', '/users')).body.error.code).toBe('InvalidAuthenticationToken');
    expect((await call('x.y.z', 'GET', '/users')).status).toBe(401);
    const partner = await oboToken(AGENT, PARTNER);
    const first = await call(partner, 'GET', '/tenantRelationships/delegatedAdminCustomers?$top=1');
    expect(first.body.value).toEqual([expect.objectContaining({ id: expect.any(String), tenantId: expect.any(String), displayName: expect.any(String) })]);
    const second = await call(partner, 'GET', first.body['@odata.nextLink']);
    expect(second.body['@odata.nextLink']).toBeUndefined();
    expect([...first.body.value, ...second.body.value].map((c: any) => c.displayName).sort()).toEqual(['Contoso', 'Fabrikam']);
    expect((await call(await admin(), 'GET', '/tenantRelationships/delegatedAdminCustomers')).status).toBe(403);
  });

  it('serves domains and subscribedSkus with consumed units', async () => {
    const t = await admin();
    expect((await call(t, 'GET', '/domains')).body.value.map((d: any) => [d.id, d.isDefault, d.isVerified])).toEqual([
      ['contoso.onmicrosoft.com', true, true],
      ['contoso.com', false, true],
    ]);
    const skus = (await call(t, 'GET', '/subscribedSkus')).body.value;
    expect(skus.find((s: any) => s.skuPartNumber === 'O365_E3')).toMatchObject({ skuId: contoso.skuId('O365_E3'), consumedUnits: 2, prepaidUnits: { enabled: 3 } });
  });

  it('pages /users with @odata.nextLink, counts only with ConsistencyLevel, filters, orders and searches', async () => {
    const t = await admin();
    const seen: string[] = [];
    let url: string | undefined = '/users?$select=id,displayName&$top=4&$orderby=displayName&$count=true';
    const noLevel = await call(t, 'GET', url);
    expect(noLevel.status).toBe(400);
    let first = true;
    while (url) {
      const r = await call(t, 'GET', url, undefined, EVENTUAL);
      expect(r.status).toBe(200);
      if (first) expect(r.body['@odata.count']).toBe(10);
      else expect(r.body['@odata.count']).toBeUndefined();
      first = false;
      expect(Object.keys(r.body.value[0]).sort()).toEqual(['displayName', 'id']);
      seen.push(...r.body.value.map((u: any) => u.displayName));
      url = r.body['@odata.nextLink'];
    }
    expect(seen).toHaveLength(10);
    expect(seen.slice(0, 3)).toEqual(['Adele Vance', 'Alex Wilber', 'Megan Bowen']);

    const unlicensed = await call(t, 'GET', '/users?$filter=assignedLicenses/$count eq 0&$count=true&$select=userPrincipalName', undefined, EVENTUAL);
    expect(unlicensed.body['@odata.count']).toBe(8);
    const e3 = await call(t, 'GET', `/users?$filter=assignedLicenses/any(x:x/skuId eq ${contoso.skuId('O365_E3')})`);
    expect(e3.body.value.map((u: any) => u.userPrincipalName).sort()).toEqual(['adele@contoso.com', 'alex@contoso.com']);
    const byUpn = await call(t, 'GET', `/users?$filter=userPrincipalName eq 'ADELE@contoso.com'`);
    expect(byUpn.body.value).toHaveLength(1);
    const ids = [contoso.userId('alex@contoso.com'), contoso.userId('megan@contoso.com')];
    const inIds = await call(t, 'GET', `/users?$filter=id in ('${ids.join("','")}') and assignedLicenses/$count ne 0`, undefined, EVENTUAL);
    expect(inIds.body.value.map((u: any) => u.userPrincipalName)).toEqual(['alex@contoso.com']);
    expect((await call(t, 'GET', `/users?$filter=startswith(displayName,'A')`)).body.error.code).toBe('Request_UnsupportedQuery');
    expect((await call(t, 'GET', '/users?$search="displayName:ade"')).status).toBe(400);
    const found = await call(t, 'GET', '/users?$search="displayName:ade" OR "userPrincipalName:megan"', undefined, EVENTUAL);
    expect(found.body.value.map((u: any) => u.displayName).sort()).toEqual(['Adele Vance', 'Megan Bowen']);
    expect((await call(t, 'GET', '/users/$count?$filter=assignedLicenses/$count ne 0', undefined, EVENTUAL)).body).toBe(2);
    expect((await call(t, 'GET', '/users/$count')).status).toBe(400);
  });

  it('reads a user by id or UPN with $select, 404 otherwise', async () => {
    const t = await admin();
    const r = await call(t, 'GET', '/users/adele@contoso.com?$select=id,usageLocation,assignedLicenses');
    expect(r.body).toMatchObject({ id: contoso.userId('adele@contoso.com'), usageLocation: 'US', assignedLicenses: [{ skuId: contoso.skuId('O365_E3'), disabledPlans: [] }] });
    const byId = await call(t, 'GET', `/users/${r.body.id}`);
    expect(byId.body).toMatchObject({ displayName: 'Adele Vance', userPrincipalName: 'adele@contoso.com' });
    expect(byId.body.accountEnabled).toBeUndefined(); // not in Graph's default set
    const missing = await call(t, 'GET', '/users/nobody@contoso.com');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'Request_ResourceNotFound', innerError: { 'request-id': expect.any(String) } });
  });
});

describe('Graph writes', () => {
  const newUser = (upn: string, password = 'Str0ng!Passw0rd') => ({ accountEnabled: true, displayName: upn.split('@')[0], mailNickname: upn.split('@')[0], userPrincipalName: upn, usageLocation: 'US', passwordProfile: { password, forceChangePasswordNextSignIn: true } });

  it('creates a user (verified domain, unique UPN, password policy), assigns licences until the seats run out', async () => {
    const t = await admin();
    expect((await call(t, 'POST', '/users', newUser('x@unverified.com'))).body.error.message).toMatch(/verified domain/);
    const taken = await call(t, 'POST', '/users', newUser('Alex@contoso.com'));
    expect(taken.status).toBe(400);
    expect(taken.body.error).toMatchObject({ code: 'Request_BadRequest', message: 'Another object with the same value for property userPrincipalName already exists.' });
    expect((await call(t, 'POST', '/users', newUser('weak@contoso.com', 'alllowercase'))).body.error.message).toMatch(/password complexity/);
    const created = await call(t, 'POST', '/users', newUser('nina@contoso.com'));
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(g.verifyPassword(contoso.tenantId, id, 'Str0ng!Passw0rd')).toBe(true);
    expect(g.verifyPassword(contoso.tenantId, id, 'other')).toBe(false);

    const e5 = contoso.skuId('SPE_E5');
    const assigned = await call(t, 'POST', `/users/${id}/assignLicense`, { addLicenses: [{ skuId: e5, disabledPlans: [] }], removeLicenses: [] });
    expect(assigned.status).toBe(200);
    expect(g.tenant(contoso.tenantId).user(id)!.assignedLicenses).toEqual([{ skuId: e5, disabledPlans: [] }]);
    const noSeat = await call(t, 'POST', `/users/${contoso.userId('megan@contoso.com')}/assignLicense`, { addLicenses: [{ skuId: e5, disabledPlans: [] }], removeLicenses: [] });
    expect(noSeat.body.error).toMatchObject({ code: 'Request_BadRequest', message: `Subscription with SKU ${e5} does not have any available licenses.` });
    const noLoc = await call(t, 'POST', `/users/nolocation@contoso.com/assignLicense`, { addLicenses: [{ skuId: contoso.skuId('O365_E3'), disabledPlans: [] }], removeLicenses: [] });
    expect(noLoc.body.error.message).toBe('License assignment cannot be done for user with invalid usage location.');
    const unknown = await call(t, 'POST', `/users/${id}/assignLicense`, { addLicenses: [{ skuId: '11111111-1111-1111-1111-111111111111', disabledPlans: [] }], removeLicenses: [] });
    expect(unknown.status).toBe(400);

    const lic = await oboToken(LICENSE_AGENT, contoso.tenantId);
    expect((await call(lic, 'POST', `/users/${id}/assignLicense`, { addLicenses: [], removeLicenses: [e5] })).status).toBe(200);
    expect((await call(lic, 'POST', '/users', newUser('lic@contoso.com'))).status).toBe(403);
  });

  it('deletes (seat freed, UPN prefixed with the id), lists deleted items, restores without licences, refuses a UPN conflict', async () => {
    const t = await admin();
    const u = (await call(t, 'POST', '/users', newUser('temp@contoso.com'))).body;
    const e3 = contoso.skuId('O365_E3');
    await call(t, 'POST', `/users/${u.id}/assignLicense`, { addLicenses: [{ skuId: e3, disabledPlans: [] }], removeLicenses: [] });
    expect(g.tenant(contoso.tenantId).skus().find((s) => s.skuId === e3)!.consumedUnits).toBe(3);
    expect((await call(t, 'DELETE', `/users/${u.id}`)).status).toBe(204);
    expect(g.tenant(contoso.tenantId).skus().find((s) => s.skuId === e3)!.consumedUnits).toBe(2);
    expect((await call(t, 'GET', `/users/${u.id}`)).status).toBe(404);

    const list = await call(t, 'GET', '/directory/deletedItems/microsoft.graph.user?$select=id,userPrincipalName,deletedDateTime&$count=true', undefined, EVENTUAL);
    expect(list.body['@odata.count']).toBe(1);
    expect(list.body.value[0]).toEqual({ id: u.id, userPrincipalName: `${u.id.replace(/-/g, '')}temp@contoso.com`, deletedDateTime: new Date(now).toISOString().replace('.000', '') });
    expect((await call(t, 'GET', '/directory/deletedItems/microsoft.graph.user?$count=true')).status).toBe(400);
    expect((await call(t, 'GET', `/directory/deletedItems/${u.id}`)).body['@odata.type']).toBe('#microsoft.graph.user');

    // The UPN is taken again by a new user: restore conflicts; v1.0 has no newUserPrincipalName.
    const again = (await call(t, 'POST', '/users', newUser('temp@contoso.com'))).body;
    const conflict = await call(t, 'POST', `/directory/deletedItems/${u.id}/restore`);
    expect(conflict.body.error).toMatchObject({ code: 'Request_BadRequest', message: 'Another object with the same value for property userPrincipalName already exists.' });
    expect((await call(t, 'POST', `/directory/deletedItems/${u.id}/restore`, { newUserPrincipalName: 'temp2@contoso.com' })).status).toBe(400);
    await call(t, 'DELETE', `/users/${again.id}`);
    const restored = await call(t, 'POST', `/directory/deletedItems/${u.id}/restore`, { autoReconcileProxyConflict: true });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ '@odata.type': '#microsoft.graph.user', id: u.id, userPrincipalName: 'temp@contoso.com' });
    expect(g.tenant(contoso.tenantId).user(u.id)!.assignedLicenses).toEqual([]);

    // 30 days later the other deleted user is gone for good.
    expect(g.tenant(contoso.tenantId).deletedUsers().map((d) => d.id)).toEqual([again.id]);
    now += 30 * DAY;
    try {
      expect((await call(t, 'GET', '/users')).body.error.message).toBe('Lifetime validation failed, the token is expired.');
      const fresh = (await obo(contoso.tenantId, await g.issueUserToken({ agentId: AGENT, name: 'Agent' })).getToken('https://graph.microsoft.com/.default')).token;
      expect((await call(fresh, 'POST', `/directory/deletedItems/${again.id}/restore`)).status).toBe(404);
      expect(g.tenant(contoso.tenantId).deletedUsers()).toEqual([]);
    } finally {
      now -= 30 * DAY;
    }
  });

  it('lets a Helpdesk Administrator reset a non-admin’s password only, and not create users (403)', async () => {
    const h = await oboToken(HELPDESK_AGENT, contoso.tenantId);
    const denied = await call(h, 'POST', '/users', newUser('hd@contoso.com'));
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' });
    const megan = contoso.userId('megan@contoso.com');
    expect((await call(h, 'PATCH', `/users/${megan}`, { passwordProfile: { password: 'N3w!Password', forceChangePasswordNextSignIn: true } })).status).toBe(204);
    expect(g.verifyPassword(contoso.tenantId, megan, 'N3w!Password')).toBe(true);
    expect((await call(h, 'PATCH', `/users/${contoso.userId('adele@contoso.com')}`, { passwordProfile: { password: 'N3w!Password' } })).status).toBe(403);
    expect((await call(h, 'PATCH', `/users/${megan}`, { accountEnabled: false })).status).toBe(403);
    expect((await call(await admin(), 'PATCH', `/users/${megan}`, { accountEnabled: false, displayName: 'Megan B' })).status).toBe(204);
    expect(g.tenant(contoso.tenantId).user(megan)).toMatchObject({ accountEnabled: false, displayName: 'Megan B' });
  });

  it('lists and creates directory role assignments', async () => {
    const t = await admin();
    const adele = contoso.userId('adele@contoso.com');
    const mine = await call(t, 'GET', `/roleManagement/directory/roleAssignments?$filter=principalId eq '${adele}'`);
    expect(mine.body.value).toEqual([expect.objectContaining({ principalId: adele, roleDefinitionId: ROLE.globalAdministrator, directoryScopeId: '/' })]);
    const alex = contoso.userId('alex@contoso.com');
    const created = await call(t, 'POST', '/roleManagement/directory/roleAssignments', { principalId: alex, roleDefinitionId: ROLE.billingAdministrator, directoryScopeId: '/' });
    expect(created.status).toBe(201);
    expect(g.tenant(contoso.tenantId).roleOf(alex)).toBe(ROLE.billingAdministrator);
    const billing = await call(t, 'GET', `/roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '${ROLE.billingAdministrator}'`);
    expect(billing.body.value.map((a: any) => a.principalId)).toEqual([alex]);
  });
});

describe('batching and faults', () => {
  it('answers a $batch of 20 through the same handlers and refuses 21', async () => {
    const t = await admin();
    const requests = Array.from({ length: 20 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: `/users/user${i % 6}@contoso.com?$select=id,displayName` }));
    requests[19] = { id: '20', method: 'GET', url: '/users/nobody@contoso.com' };
    const r = await call(t, 'POST', '/$batch', { requests });
    expect(r.status).toBe(200);
    expect(r.body.responses).toHaveLength(20);
    expect(r.body.responses[0]).toMatchObject({ id: '1', status: 200, body: { displayName: 'Zed User 0' } });
    expect(r.body.responses[19]).toMatchObject({ id: '20', status: 404, body: { error: { code: 'Request_ResourceNotFound' } } });
    expect(g.countRequests({ inBatch: true, path: /^\/users\// })).toBeGreaterThanOrEqual(20);
    const tooMany = await call(t, 'POST', '/$batch', { requests: [...requests, { id: '21', method: 'GET', url: '/users' }] });
    expect(tooMany.status).toBe(400);
  });

  it('throttles with 429 and Retry-After, without applying, inside a batch too', async () => {
    const t = await admin();
    g.throttle({ method: 'GET', path: '/subscribedSkus', times: 1, retryAfterSeconds: 7, status: 429 });
    const r = await call(t, 'GET', '/subscribedSkus');
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('7');
    expect(r.body.error).toMatchObject({ code: 'TooManyRequests', message: 'Please retry again later.' });
    expect((await call(t, 'GET', '/subscribedSkus')).status).toBe(200);

    g.throttle({ method: 'POST', path: /\/assignLicense$/, times: 1, retryAfterSeconds: 3, status: 503 });
    const megan = contoso.userId('megan@contoso.com');
    const b = await call(t, 'POST', '/$batch', { requests: [{ id: 'a', method: 'POST', url: `/users/${megan}/assignLicense`, headers: { 'Content-Type': 'application/json' }, body: { addLicenses: [{ skuId: contoso.skuId('O365_E3'), disabledPlans: [] }], removeLicenses: [] } }] });
    expect(b.body.responses[0]).toMatchObject({ status: 503, headers: { 'retry-after': '3' } });
    expect(g.tenant(contoso.tenantId).user(megan)!.assignedLicenses).toEqual([]);
  });

  it('failAfterApply: the write happens, the reply is a 500 or a dropped connection; failBeforeApply does not write', async () => {
    const t = await admin();
    const newU = (upn: string) => ({ accountEnabled: true, displayName: upn, mailNickname: upn.split('@')[0], userPrincipalName: upn, passwordProfile: { password: 'Str0ng!Passw0rd' } });
    g.failAfterApply({ method: 'POST', path: '/users', times: 1, mode: 'status500' });
    expect((await call(t, 'POST', '/users', newU('lost1@contoso.com'))).status).toBe(500);
    expect(g.tenant(contoso.tenantId).user('lost1@contoso.com')).toBeDefined();
    g.failAfterApply({ method: 'POST', path: '/users', times: 1, mode: 'dropConnection' });
    await expect(call(t, 'POST', '/users', newU('lost2@contoso.com'))).rejects.toThrow();
    expect(g.tenant(contoso.tenantId).user('lost2@contoso.com')).toBeDefined();
    g.failBeforeApply({ method: 'POST', path: '/users', times: 1, status: 503 });
    expect((await call(t, 'POST', '/users', newU('never@contoso.com'))).status).toBe(503);
    expect(g.tenant(contoso.tenantId).user('never@contoso.com')).toBeUndefined();
  });

  it('consistencyLag: a new user is missing from the next n collection reads but readable by key at once', async () => {
    const t = await admin();
    g.consistencyLag(2);
    const u = (await call(t, 'POST', '/users', { accountEnabled: true, displayName: 'Laggy', mailNickname: 'laggy', userPrincipalName: 'laggy@contoso.com', passwordProfile: { password: 'Str0ng!Passw0rd' } })).body;
    const q = `/users?$filter=userPrincipalName eq 'laggy@contoso.com'`;
    expect((await call(t, 'GET', `/users/${u.id}`)).status).toBe(200);
    expect((await call(t, 'GET', q)).body.value).toEqual([]);
    expect((await call(t, 'GET', `/users/$count?$filter=userPrincipalName eq 'laggy@contoso.com'`, undefined, EVENTUAL)).body).toBe(0);
    expect((await call(t, 'GET', q)).body.value).toHaveLength(1);
  });
});
