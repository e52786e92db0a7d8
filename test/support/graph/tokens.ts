/**
 * The Microsoft Entra (v2.0) token-endpoint stand-in: HTTPS on 127.0.0.1 (MSAL, inside @azure/identity, refuses an
 * authorityHost that is not https), with the test-only certificate of test/fixtures/tls/. Tokens are RS256 JWTs signed
 * by a key generated at start.
 *
 * What MSAL Node (via OnBehalfOfCredential with `disableInstanceDiscovery: true`) fetches, found by logging requests:
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration
 *   POST /{tenant}/oauth2/v2.0/token?client-request-id=…   (form: client_id, client_secret, grant_type, scope, …)
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, Server } from 'node:https';
import { IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, JWK, jwtVerify, KeyLike, SignJWT, decodeProtectedHeader } from 'jose';
import { StandInClock } from './model';

export const TLS_DIR = join(__dirname, '..', '..', 'fixtures', 'tls');
export const TLS_CERT_PATH = join(TLS_DIR, 'standin-cert.pem');
export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';
export const ACCESS_TOKEN_SECONDS = 3600;

export interface TokenRequestRecord {
  grantType: string;
  tenantId: string;
  clientId: string;
  /** The agent (oid of the assertion) for on-behalf-of; undefined for client_credentials. */
  agentId?: string;
  scope: string;
  status: number;
  error?: string;
  at: number;
}

export interface IssueUserTokenInput {
  agentId: string;
  name: string;
  /** The partner tenant the agent signs in to Teams with (defaults to the stand-in's partnerTenantId). */
  tenantId?: string;
  /** The bot's app (defaults to the stand-in's clientId). */
  audience?: string;
  preferredUsername?: string;
  /** Lifetime in seconds from the stand-in's clock (default 3600). */
  expiresInSeconds?: number;
  scp?: string;
}

export interface TokenClaims {
  oid: string;
  tid: string;
  aud: string | string[];
  iss: string;
  exp: number;
  wids?: string[];
  name?: string;
  preferred_username?: string;
  scp?: string;
  roles?: string[];
  appid?: string;
  azp?: string;
  [k: string]: unknown;
}

interface TokenServerDeps {
  clientId: string;
  clientSecret: string;
  partnerTenantId: string;
  clock: StandInClock;
  /** Known tenants (partner + customers). */
  tenantExists(tenantId: string): boolean;
  /** The agent's GDAP role template ids in a tenant. */
  gdapRoles(agentId: string, tenantId: string): string[];
}

export class TokenService {
  readonly tokenRequests: TokenRequestRecord[] = [];
  private server!: Server;
  private privateKey!: KeyLike;
  private publicJwk!: JWK;
  private publicKey!: KeyLike;
  readonly kid = randomUUID();
  authorityHost = '';

  constructor(private readonly deps: TokenServerDeps) {}

  async start(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    this.publicJwk = { ...(await exportJWK(publicKey)), kid: this.kid, use: 'sig', alg: 'RS256' };
    this.server = createHttpsServer(
      { key: readFileSync(join(TLS_DIR, 'standin-key.pem')), cert: readFileSync(TLS_CERT_PATH) },
      (req, res) => void this.handle(req, res).catch((e) => sendJson(res, 500, { error: 'server_error', error_description: String(e) })),
    );
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.authorityHost = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  issuer(tenantId: string): string {
    return `${this.authorityHost}/${tenantId}/v2.0`;
  }

  jwksUri(tenantId = this.deps.partnerTenantId): string {
    return `${this.authorityHost}/${tenantId}/discovery/v2.0/keys`;
  }

  private nowSeconds(): number {
    return Math.floor(this.deps.clock.now() / 1000);
  }

  private sign(claims: Record<string, unknown>, expiresIn: number): Promise<string> {
    const iat = this.nowSeconds();
    return new SignJWT({ ...claims, iat, nbf: iat, exp: iat + expiresIn, uti: randomUUID(), ver: '2.0' })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.kid })
      .sign(this.privateKey);
  }

  /** The agent's Teams SSO token for the bot's app: what the bot passes as `userAssertionToken` to OBO. */
  issueUserToken(input: IssueUserTokenInput): Promise<string> {
    const tid = input.tenantId ?? this.deps.partnerTenantId;
    return this.sign(
      {
        aud: input.audience ?? this.deps.clientId,
        iss: this.issuer(tid),
        tid,
        oid: input.agentId,
        sub: input.agentId,
        name: input.name,
        preferred_username: input.preferredUsername ?? `${input.agentId}@partner.example`,
        scp: input.scp ?? 'access_as_user',
        azp: '5e3ce6c0-2b1f-4285-8d4b-75ee78787346', // the Teams web client
      },
      input.expiresInSeconds ?? 3600,
    );
  }

  /**
   * Verifies a token this stand-in issued: signature, and expiry by the stand-in's clock. Returns the claims, or the
   * reason it is not valid.
   */
  async verify(token: string): Promise<{ claims: TokenClaims } | { reason: 'malformed' | 'signature' | 'expired' }> {
    try {
      decodeProtectedHeader(token);
    } catch {
      return { reason: 'malformed' };
    }
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ['RS256'],
        currentDate: new Date(this.deps.clock.now()),
        clockTolerance: 0,
      });
      return { claims: payload as unknown as TokenClaims };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED' || code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return { reason: 'expired' };
      return { reason: 'signature' };
    }
  }

  tokenRequestCount(agentId: string, tenantId: string): number {
    return this.tokenRequests.filter((r) => r.agentId === agentId && r.tenantId === tenantId && r.status === 200).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.authorityHost);
    const parts = url.pathname.split('/').filter(Boolean);
    const tenant = parts[0] ?? '';
    const rest = '/' + parts.slice(1).join('/');

    // OpenID Connect discovery document of the v2.0 endpoint.
    // https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
    if (req.method === 'GET' && rest === '/v2.0/.well-known/openid-configuration') {
      const base = `${this.authorityHost}/${tenant}`;
      return sendJson(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${this.authorityHost}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'oid', 'tid', 'name', 'preferred_username'],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
        rbac_url: 'https://pas.windows.net',
      });
    }

    // The signing keys (JWKS) that the discovery document's jwks_uri names.
    // https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-signature
    if (req.method === 'GET' && rest === '/discovery/v2.0/keys') {
      return sendJson(res, 200, { keys: [this.publicJwk] });
    }

    if (req.method === 'POST' && rest === '/oauth2/v2.0/token') {
      const form = new URLSearchParams(await readBody(req));
      return this.token(res, tenant, form);
    }

    sendJson(res, 404, aadError('invalid_request', 900561, `AADSTS900561: The endpoint only accepts POST requests. Received a ${req.method} request.`));
  }

  /**
   * POST /{tenant}/oauth2/v2.0/token
   *  - grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, requested_token_use=on_behalf_of, assertion, scope:
   *    https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow#first-case-access-token-request-with-a-shared-secret
   *  - grant_type=client_credentials, scope=https://graph.microsoft.com/.default:
   *    https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#first-case-access-token-request-with-a-shared-secret
   * Errors: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow#error-response-example and
   * the AADSTS codes of https://learn.microsoft.com/entra/identity-platform/reference-error-codes
   */
  private async token(res: ServerResponse, tenantId: string, form: URLSearchParams): Promise<void> {
    const grantType = form.get('grant_type') ?? '';
    const clientId = form.get('client_id') ?? '';
    const scope = form.get('scope') ?? '';
    const record: TokenRequestRecord = { grantType, tenantId, clientId, scope, status: 0, at: this.deps.clock.now() };
    this.tokenRequests.push(record);
    const fail = (status: number, body: Record<string, unknown>) => {
      record.status = status;
      record.error = String(body.error);
      sendJson(res, status, body);
    };

    if (!this.deps.tenantExists(tenantId)) {
      return fail(400, aadError('invalid_request', 90002, `AADSTS90002: Tenant '${tenantId}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`));
    }
    if (clientId !== this.deps.clientId) {
      return fail(401, aadError('invalid_client', 700016, `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`));
    }
    if (form.get('client_secret') !== this.deps.clientSecret) {
      return fail(401, aadError('invalid_client', 7000215, 'AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app \'' + clientId + '\'.'));
    }
    const scopes = scope.split(' ').filter(Boolean);
    if (!scopes.some((s) => s.startsWith(GRAPH_AUDIENCE))) {
      return fail(400, aadError('invalid_scope', 70011, `AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`));
    }

    if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      if (form.get('requested_token_use') !== 'on_behalf_of') {
        return fail(400, aadError('invalid_request', 900144, "AADSTS900144: The request body must contain the following parameter: 'requested_token_use'."));
      }
      const assertion = form.get('assertion') ?? '';
      const verified = await this.verify(assertion);
      if (!('claims' in verified)) {
        const msg =
          verified.reason === 'expired'
            ? 'AADSTS500133: Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.'
            : verified.reason === 'malformed'
              ? 'AADSTS50027: JWT token is invalid or malformed.'
              : 'AADSTS50013: Assertion failed signature validation.';
        const code = verified.reason === 'expired' ? 500133 : verified.reason === 'malformed' ? 50027 : 50013;
        return fail(400, aadError('invalid_grant', code, msg));
      }
      const c = verified.claims;
      const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
      if (!aud.some((a) => a === this.deps.clientId || a.endsWith(`/${this.deps.clientId}`))) {
        return fail(400, aadError('invalid_grant', 50013, 'AADSTS50013: Assertion failed signature validation. [Reason - The provided audience does not match the client app presenting the assertion.]'));
      }
      if (c.aud === GRAPH_AUDIENCE || c.wids) {
        return fail(400, aadError('invalid_grant', 50013, 'AADSTS50013: Assertion failed signature validation. [Reason - The assertion is not a user token for this app.]'));
      }
      record.agentId = c.oid;
      const wids = this.deps.gdapRoles(c.oid, tenantId);
      const accessToken = await this.sign(
        {
          aud: GRAPH_AUDIENCE,
          iss: `https://sts.windows.net/${tenantId}/`,
          tid: tenantId,
          oid: c.oid,
          sub: c.oid,
          name: c.name,
          upn: c.preferred_username,
          idtyp: 'user',
          appid: this.deps.clientId,
          scp: 'Directory.AccessAsUser.All User.ReadWrite.All',
          wids,
        },
        ACCESS_TOKEN_SECONDS,
      );
      record.status = 200;
      return sendJson(res, 200, {
        token_type: 'Bearer',
        scope: `${GRAPH_AUDIENCE}/.default`,
        expires_in: ACCESS_TOKEN_SECONDS,
        ext_expires_in: ACCESS_TOKEN_SECONDS,
        access_token: accessToken,
      });
    }

    if (grantType === 'client_credentials') {
      const accessToken = await this.sign(
        {
          aud: GRAPH_AUDIENCE,
          iss: `https://sts.windows.net/${tenantId}/`,
          tid: tenantId,
          oid: `sp-${this.deps.clientId}`,
          sub: `sp-${this.deps.clientId}`,
          idtyp: 'app',
          appid: this.deps.clientId,
          roles: [] as string[],
          wids: [] as string[],
        },
        ACCESS_TOKEN_SECONDS,
      );
      record.status = 200;
      return sendJson(res, 200, { token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, ext_expires_in: ACCESS_TOKEN_SECONDS, access_token: accessToken });
    }

    return fail(400, aadError('unsupported_grant_type', 70003, `AADSTS70003: The app requested an unsupported grant type '${grantType}'.`));
  }
}

function aadError(error: string, code: number, description: string): Record<string, unknown> {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  return {
    error,
    error_description: `${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: [code],
    timestamp: new Date().toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z'),
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  };
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
