/**
 * A local stand-in for real identity providers: one HTTP server serving, per issuer path,
 * the OIDC discovery document and a JWKS, with test keys that sign tokens in each
 * provider's claim shape. Counts JWKS fetches so tests can see refetches.
 */
import { type Server, createServer } from 'node:http';
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function testKey(kid: string, alg: TestKey['alg'] = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    kid,
    alg,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
  };
}

export interface LocalProviders {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Keys each JWKS serves; tests may change it (rotation). */
  keys: TestKey[];
  jwksFetches: number;
  /** Answer discovery and JWKS with this status instead (provider outage). */
  failWith: number | undefined;
  close(): Promise<void>;
}

/** Serves `<path>/.well-known/openid-configuration` for every path, naming `<origin><path>` as issuer. */
export async function startLocalProviders(
  issuerOf: (origin: string, path: string) => string = (origin, path) => `${origin}${path}`,
): Promise<LocalProviders> {
  const state = {
    keys: [] as TestKey[],
    jwksFetches: 0,
    failWith: undefined as number | undefined,
  };
  let origin = '';
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', origin).pathname;
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (state.failWith) return send(state.failWith, { error: 'down' });
    const discovery = /^(.*)\/\.well-known\/openid-configuration$/.exec(path);
    if (discovery) {
      const base = discovery[1];
      // Auth0's issuer ends in a slash; its discovery document lives under the issuer without it.
      const issuer = base.endsWith('/auth0')
        ? `${issuerOf(origin, base)}/`
        : issuerOf(origin, base);
      return send(200, {
        issuer,
        jwks_uri: `${origin}${base}/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (path.endsWith('/keys')) {
      state.jwksFetches++;
      return send(200, { keys: state.keys.map((k) => k.publicJwk) });
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  origin = `http://127.0.0.1:${address.port}`;
  return Object.assign(state, {
    origin,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as LocalProviders;
}

export interface TokenOptions {
  key: TestKey;
  issuer: string;
  claims: Record<string, unknown>;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  notBefore?: number;
}

export async function signToken({
  key,
  issuer,
  claims,
  expiresIn = 3600,
  notBefore,
}: TokenOptions) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setIssuedAt(now - 10)
    .setExpirationTime(now + expiresIn);
  if (notBefore !== undefined) jwt.setNotBefore(now + notBefore);
  return jwt.sign(key.privateKey);
}
