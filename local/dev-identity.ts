/**
 * Local mode's development identity provider: an ES256 key and an owner-hash key kept per
 * data folder, an issuer served by the local host (`<host>/dev-identity`, with the OIDC
 * discovery document and JWKS real providers serve), and tokens signed with that key, so
 * local mode checks sign-in on exactly the path Azure does. For development only.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type JWK, SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';

export const DEV_IDENTITY_PATH = '/dev-identity';
/** The audience local mode's API accepts and dev tokens carry. */
export const DEV_AUDIENCE = 'directdrop-local';
/** The subject of the token `npm start` prints. */
export const DEV_DEFAULT_SUBJECT = 'dev-user';
export const DEV_TOKEN_HOURS = 8;
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
