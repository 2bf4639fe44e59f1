/**
 * Local mode's development identity provider: an ES256 key and an owner-hash key kept per
 * data folder, an issuer served by the local host (`<host>/dev-identity`, with the OIDC
 * discovery document and JWKS real providers serve), and tokens signed with that key, so
 * local mode checks sign-in on exactly the path Azure does. `POST /dev-identity/token`
 * hands tokens to programs on this machine (`npx directdrop dev-token`). For development only.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type JWK, SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';

export const DEV_IDENTITY_PATH = '/dev-identity';
/** The audience local mode's API accepts and dev tokens carry. */
export const DEV_AUDIENCE = 'directdrop-local';
/** The subject of the token `npm start` prints. */
export const DEV_DEFAULT_SUBJECT = 'dev-user';
export const DEV_TOKEN_HOURS = 8;
/** Longest lifetime a token may ask for: a week. */
export const DEV_TOKEN_MAX_HOURS = 24 * 7;
/** Where programs on this machine get a token from a running local mode. */
export const DEV_TOKEN_PATH = `${DEV_IDENTITY_PATH}/token`;
const MAX_TOKEN_REQUEST_BYTES = 4096;
const FILE_NAME = 'dev-identity.json';

export interface DevIdentity {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
  /** Owner-hash key of this data folder's local mode. */
  ownerKey: string;
  /** The issuer the local host served last, which `dev-token` signs for. */
  issuer?: string;
}

export function devIdentityFile(dataDir: string): string {
  return join(dataDir, FILE_NAME);
}

export function devIssuer(origin: string): string {
  return `${origin}${DEV_IDENTITY_PATH}`;
}

async function readIdentity(dataDir: string): Promise<DevIdentity | undefined> {
  try {
    return JSON.parse(await readFile(devIdentityFile(dataDir), 'utf8')) as DevIdentity;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${devIdentityFile(dataDir)} is unreadable; delete it to get new keys`, {
      cause: error,
    });
  }
}

async function writeIdentity(dataDir: string, identity: DevIdentity): Promise<void> {
  // The private key: readable by this user only.
  await writeFile(devIdentityFile(dataDir), `${JSON.stringify(identity, null, 2)}\n`, {
    mode: 0o600,
  });
}

/** This data folder's identity, created on first use; records `issuer` when given. */
export async function loadDevIdentity(dataDir: string, issuer?: string): Promise<DevIdentity> {
  let identity = await readIdentity(dataDir);
  if (!identity) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = randomBytes(8).toString('hex');
    identity = {
      kid,
      privateJwk: await exportJWK(privateKey),
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
      ownerKey: randomBytes(32).toString('base64url'),
    };
  }
  if (issuer !== undefined && identity.issuer !== issuer) identity = { ...identity, issuer };
  await writeIdentity(dataDir, identity);
  return identity;
}

/** Reads an existing identity for `dev-token`; undefined when local mode never ran there. */
export function findDevIdentity(dataDir: string): Promise<DevIdentity | undefined> {
  return readIdentity(dataDir);
}

export interface DevTokenOptions {
  subject: string;
  issuer: string;
  hours?: number;
  /** Space-separated scopes, as the `scope` claim carries them. */
  scope?: string;
}

export async function signDevToken(identity: DevIdentity, options: DevTokenOptions) {
  const key = await importJWK(identity.privateJwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...(options.scope ? { scope: options.scope } : {}) })
    .setProtectedHeader({ alg: 'ES256', kid: identity.kid, typ: 'JWT' })
    .setIssuer(options.issuer)
    .setAudience(DEV_AUDIENCE)
    .setSubject(options.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.round((options.hours ?? DEV_TOKEN_HOURS) * 3600));
  return jwt.sign(key);
}

/** Answers the provider's two documents under DEV_IDENTITY_PATH; false for any other path. */
export function serveDevIdentity(
  identity: DevIdentity,
  issuer: string,
  path: string,
  response: ServerResponse,
): boolean {
  const send = (body: unknown) => {
    const text = JSON.stringify(body);
    response.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'public, max-age=300',
    });
    response.end(text);
    return true;
  };
  if (path === `${DEV_IDENTITY_PATH}/.well-known/openid-configuration`) {
    return send({
      issuer,
      jwks_uri: `${issuer}/jwks`,
      id_token_signing_alg_values_supported: ['ES256'],
      subject_types_supported: ['public'],
      response_types_supported: ['id_token'],
    });
  }
  if (path === `${DEV_IDENTITY_PATH}/jwks`) return send({ keys: [identity.publicJwk] });
  return false;
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(text);
}

const isLoopbackAddress = (address: string) =>
  address === '::1' || /^(::ffff:)?127\./.test(address);
const LOOPBACK_HOST_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why a token request may not have one, or undefined: it must come from this machine,
 * straight (no proxy or tunnel forwarding it), to a loopback host name (no DNS rebinding),
 * and not from a page of another origin.
 */
export function devTokenRefusal(request: IncomingMessage): string | undefined {
  if (!isLoopbackAddress(request.socket.remoteAddress ?? '')) {
    return 'Development tokens are handed out to programs on this machine only.';
  }
  if (request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined) {
    return 'Development tokens are not handed out through a proxy or tunnel.';
  }
  let host: string;
  try {
    host = new URL(`http://${request.headers.host ?? ''}`).hostname;
  } catch {
    host = '';
  }
  if (!LOOPBACK_HOST_NAMES.has(host)) {
    return 'Ask for a development token at localhost, 127.0.0.1 or [::1].';
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host}`) {
    return 'Pages of another origin may not ask for development tokens.';
  }
  return undefined;
}

interface TokenRequest {
  subject: string;
  hours: number;
  scope?: string;
}

function parseTokenRequest(text: string): TokenRequest | string {
  let body: unknown = {};
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      return 'The body is not JSON.';
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return 'The body must be a JSON object: {"subject", "hours", "scope"}, each optional.';
  }
  const {
    subject = DEV_DEFAULT_SUBJECT,
    hours = DEV_TOKEN_HOURS,
    scope,
    ...rest
  } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `Unknown field ${unknown[0]}.`;
  if (typeof subject !== 'string' || subject.length < 1 || subject.length > 256) {
    return 'subject must be a string of 1 to 256 characters.';
  }
  if (typeof hours !== 'number' || !(hours > 0) || hours > DEV_TOKEN_MAX_HOURS) {
    return `hours must be a number above 0, at most ${DEV_TOKEN_MAX_HOURS}.`;
  }
  if (scope !== undefined && typeof scope !== 'string') return 'scope must be a string.';
  return { subject, hours, scope };
}

/**
 * `POST /dev-identity/token` with `{"subject"?, "hours"?, "scope"?}`: a token as an OAuth 2
 * token response (`access_token`, `token_type`, `expires_in`), for callers that
 * devTokenRefusal lets through. Served only while the built-in provider is in use.
 */
export async function serveDevToken(
  identity: DevIdentity,
  issuer: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  if (request.method !== 'POST') {
    return sendJson(
      response,
      405,
      { error: { code: 'method-not-allowed', message: `${DEV_TOKEN_PATH} takes POST only.` } },
      { allow: 'POST' },
    );
  }
  const refusal = devTokenRefusal(request);
  if (refusal) {
    request.resume();
    return sendJson(response, 403, { error: { code: 'dev-token-refused', message: refusal } });
  }
  let text = '';
  for await (const chunk of request) {
    text += chunk;
    if (Buffer.byteLength(text) > MAX_TOKEN_REQUEST_BYTES) {
      return sendJson(response, 413, {
        error: { code: 'body-too-large', message: `At most ${MAX_TOKEN_REQUEST_BYTES} bytes.` },
      });
    }
  }
  const parsed = parseTokenRequest(text);
  if (typeof parsed === 'string') {
    return sendJson(response, 400, { error: { code: 'invalid-body', message: parsed } });
  }
  const token = await signDevToken(identity, { ...parsed, issuer });
  sendJson(response, 200, {
    access_token: token,
    token_type: 'Bearer',
    expires_in: Math.round(parsed.hours * 3600),
    subject: parsed.subject,
  });
}
