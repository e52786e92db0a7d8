/**
 * A stand-in for Microsoft Entra's signing keys, for the Users and licenses tab's tests: an RSA key generated with
 * jose, its public half served as a JSON Web Key Set on 127.0.0.1 (/keys), and Teams SSO tokens signed with it as
 * Entra issues them (v2.0: iss https://login.microsoftonline.com/<tid>/v2.0, aud, tid, oid, name, iat/nbf/exp), on
 * the tests' clock. `foreignKey` signs with a key that is not in the set.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, JWK, SignJWT } from 'jose';

export const TAB_AUDIENCE = 'api://bot.contoso.test/botid-6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';

export interface TokenClaims {
  oid: string;
  name?: string;
  tid: string;
  aud?: string;
  iss?: string;
  /** Seconds from now (the clock's) until expiry; negative: already expired. */
  expiresIn?: number;
  foreignKey?: boolean;
}

export interface TabSso {
  jwksUrl: string;
  /** Key-set fetches so far. */
  fetches(): number;
  token(claims: TokenClaims): Promise<string>;
  stop(): Promise<void>;
}

export async function startTabSso(now: () => number): Promise<TabSso> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key-1', use: 'sig', alg: 'RS256' };
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/keys') {
      res.writeHead(404);
      res.end();
      return;
    }
    fetches++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}/keys`,
    fetches: () => fetches,
    token: async (c) => {
      const seconds = Math.floor(now() / 1000);
      return new SignJWT({ oid: c.oid, tid: c.tid, name: c.name ?? 'Agent', ver: '2.0', scp: 'access_as_user' })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1', typ: 'JWT' })
        .setIssuer(c.iss ?? `https://login.microsoftonline.com/${c.tid}/v2.0`)
        .setAudience(c.aud ?? TAB_AUDIENCE)
        .setIssuedAt(seconds - 60)
        .setNotBefore(seconds - 60)
        .setExpirationTime(seconds + (c.expiresIn ?? 3600))
        .sign(c.foreignKey ? foreign.privateKey : privateKey);
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
