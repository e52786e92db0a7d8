/**
 * A local stand-in for the Bot Framework token service (https://api.botframework.com, what botbuilder's
 * UserTokenClientImpl calls; the bot reaches it through BOT_OAUTH_URL), on 127.0.0.1 and a free port. It speaks the
 * part of the REST API the bot uses, as Microsoft documents it in "Bot Framework token service REST API reference"
 * (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference ,
 * "Token service" / botframework-connector's tokenApi operations):
 *
 *   GET  /api/usertoken/GetToken?userId&connectionName&channelId[&code]   200 TokenResponse | 404
 *   POST /api/usertoken/exchange?userId&connectionName&channelId  {token}  200 TokenResponse | 400 ErrorResponse
 *   GET  /api/botsignin/GetSignInResource?state                           200 SignInUrlResponse
 *
 * Each user (the Teams user id, `from.id`) has one SSO token (what Teams gets silently and sends in
 * signin/tokenExchange), one magic code (what the sign-in page shows) and the connection's token the bot gets after
 * either. Every token is random per run, so a test can look for it anywhere it must not be.
 *
 *   const tokens = await startTokenService('graph-sso');
 *   tokens.ssoTokenFor(agent.id); tokens.magicCodeFor(agent.id); tokens.tokenOf(agent.id); tokens.issued();
 */
import { randomBytes, randomInt } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenServiceCall {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface TokenService {
  /** BOT_OAUTH_URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly signInLink: string;
  readonly exchangeResource: { id: string; uri: string; providerId: string };
  ssoTokenFor(userId: string): string;
  magicCodeFor(userId: string): string;
  /** The connection's token for the user (what the bot gets once the user signed in). */
  tokenOf(userId: string): string;
  isSignedIn(userId: string): boolean;
  /** The user signed in earlier, and the connection's token is this one (e.g. an Entra stand-in's SSO token). */
  signInAs(userId: string, token: string): void;
  /** Every token string it handed out or would accept (to scan logs, Redis, cards for). */
  issued(): string[];
  calls(): TokenServiceCall[];
  stop(): Promise<void>;
}

const secret = (prefix: string) => `${prefix}.${randomBytes(24).toString('base64url')}`;

export async function startTokenService(connectionName: string): Promise<TokenService> {
  const users = new Map<string, { sso: string; code: string; token: string; signedIn: boolean }>();
  const calls: TokenServiceCall[] = [];
  const userOf = (userId: string) => {
    let u = users.get(userId);
    if (!u) {
      u = { sso: secret('sso'), code: String(randomInt(100000, 1000000)), token: secret('graph-obo-assertion'), signedIn: false };
      users.set(userId, u);
    }
    return u;
  };
  const exchangeResource = { id: `ter-${randomBytes(4).toString('hex')}`, uri: 'api://bot.example.com/botid-00000000-0000-0000-0000-000000000000', providerId: 'aad' };
  const signInLink = `https://token.botframework.test/api/oauth/signin?signin=${randomBytes(8).toString('hex')}`;

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    });

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const query = Object.fromEntries(url.searchParams.entries());
      const path = url.pathname.toLowerCase();
      calls.push({ method: req.method ?? 'GET', path: url.pathname, query: { ...query, code: query.code ? '(code)' : '' } });
      const body = await readBody(req);
      const tokenResponse = (token: string) => ({ channelId: query.channelId, connectionName, token, expiration: '2099-01-01T00:00:00Z' });
      if (query.connectionName !== undefined && query.connectionName !== connectionName) return json(res, 400, { error: { code: 'BadArgument', message: 'unknown connection' } });
      if (req.method === 'GET' && path === '/api/usertoken/gettoken') {
        const u = userOf(query.userId ?? '');
        if (query.code && query.code === u.code) u.signedIn = true;
        return u.signedIn ? json(res, 200, tokenResponse(u.token)) : json(res, 404, {});
      }
      if (req.method === 'POST' && path === '/api/usertoken/exchange') {
        const u = userOf(query.userId ?? '');
        const request = (body ? JSON.parse(body) : {}) as { token?: string };
        if (request.token !== u.sso) return json(res, 400, { error: { code: 'ExchangeFailed', message: 'the token cannot be exchanged' } });
        u.signedIn = true;
        return json(res, 200, tokenResponse(u.token));
      }
      if (req.method === 'GET' && path === '/api/botsignin/getsigninresource') {
        return json(res, 200, { signInLink, tokenExchangeResource: exchangeResource });
      }
      json(res, 404, { error: { code: 'NotFound', message: `${req.method} ${url.pathname}` } });
    })().catch((err: Error) => json(res, 500, { error: { code: 'ServiceError', message: err.message } }));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    signInLink,
    exchangeResource,
    ssoTokenFor: (userId) => userOf(userId).sso,
    magicCodeFor: (userId) => userOf(userId).code,
    tokenOf: (userId) => userOf(userId).token,
    isSignedIn: (userId) => userOf(userId).signedIn,
    signInAs: (userId, token) => Object.assign(userOf(userId), { token, signedIn: true }),
    issued: () => [...users.values()].flatMap((u) => [u.sso, u.token]),
    calls: () => [...calls],
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
