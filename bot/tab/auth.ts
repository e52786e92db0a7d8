/**
 * The Users and licenses tab's only source of identity: the Teams SSO token the page gets from
 * `authentication.getAuthToken()`, sent as `Authorization: Bearer <token>`. It is verified with `jose` against the
 * key set at TAB_SSO_JWKS_URL: signature (RS256), audience (the bot's app id URI or app id), issuer (the template with
 * the partner tenant), tenant (`tid` must be PARTNER_TENANT_ID when set), expiry and not-before (the injected clock).
 * Nothing else in a request is trusted: the agent is the token's `oid`, named by its `name`.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, JWTVerifyGetKey } from 'jose';
import type { TabSsoSettings } from '../config';

export interface TabIdentity {
  /** Entra object id of the agent (`oid`), lower-cased. */
  id: string;
  name: string;
  tenantId: string;
  /** The verified token itself: the user assertion for a directory that acts on behalf of the agent (Graph). */
  token: string;
}

export type TabAuthFailure = 'missing' | 'malformed' | 'expired' | 'invalid' | 'otherTenant' | 'notConfigured';
export type TabAuthResult = { ok: true; identity: TabIdentity } | { ok: false; reason: TabAuthFailure };

export interface TabAuthOptions {
  sso: TabSsoSettings;
  partnerTenantId?: string;
  now(): number;
  /** Allowed clock skew, seconds (default 60, as Entra's own validators allow some). */
  clockToleranceSeconds?: number;
}

const TENANT = /^[0-9a-f-]{8,64}$/i;

export class TabAuthenticator {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly options: TabAuthOptions) {
    // jose caches the key set and refetches it (rate-limited) when a token names a key id it does not know.
    this.keys = createRemoteJWKSet(new URL(options.sso.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  }

  async verify(authorization: string | undefined): Promise<TabAuthResult> {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]{20,8192})$/.exec(String(authorization ?? '').trim());
    if (!authorization) return { ok: false, reason: 'missing' };
    if (!match) return { ok: false, reason: 'malformed' };
    const { audiences, issuer } = this.options.sso;
    if (!audiences.length) return { ok: false, reason: 'notConfigured' };
    const token = match[1];
    let tid: string;
    try {
      tid = String(decodeJwt(token).tid ?? '').toLowerCase();
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const partner = this.options.partnerTenantId?.toLowerCase();
    if (!TENANT.test(tid)) return { ok: false, reason: 'invalid' };
    if (partner && tid !== partner) return { ok: false, reason: 'otherTenant' };
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        audience: [...audiences],
        issuer: issuer.replace('{tid}', partner ?? tid),
        currentDate: new Date(this.options.now()),
        clockTolerance: this.options.clockToleranceSeconds ?? 60,
        requiredClaims: ['exp', 'oid', 'tid'],
      });
      const oid = typeof payload.oid === 'string' ? payload.oid.toLowerCase() : '';
      if (!/^[0-9a-f-]{8,64}$/.test(oid) || String(payload.tid).toLowerCase() !== tid) return { ok: false, reason: 'invalid' };
      const name = typeof payload.name === 'string' ? payload.name.slice(0, 200) : oid;
      return { ok: true, identity: { id: oid, name, tenantId: tid, token } };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
      return { ok: false, reason: 'invalid' };
    }
  }
}
