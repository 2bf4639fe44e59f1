/**
 * Who is calling, in pure terms: the bearer token of an Authorization header, the claims
 * checks jose does not make (audience in each provider's shape, a required scope or role),
 * the client address Azure's front end reports, and the keyed owner hash an upload carries.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hmacSha256, preparedKey } from './hmac';

/** A verified caller: the identity provider (or a directdrop pseudo-issuer) and a subject in it. */
export interface Principal {
  issuer: string;
  subject: string;
}

/** Pseudo-issuers for callers no identity provider vouches for. */
export const FUNCTION_KEY_ISSUER = 'urn:directdrop:function-key';
export const ANONYMOUS_ISSUER = 'urn:directdrop:anonymous';
export const DROP_ZONE_ISSUER = 'urn:directdrop:drop-zone';

/** The one principal of a function-key stack: every key holder is the same trusted caller. */
export const FUNCTION_KEY_PRINCIPAL: Principal = {
  issuer: FUNCTION_KEY_ISSUER,
  subject: 'function-key',
};

/** Used only when a function-key stack sets no owner key: one caller has nothing to hide. */
const FUNCTION_KEY_OWNER_KEY = 'directdrop-function-key-stack-has-a-single-caller';

/** The owner of every upload on a function-key stack that sets no owner key. */
export function functionKeyOwner(key?: string): string {
  return ownerHash(key, FUNCTION_KEY_PRINCIPAL);
}

/**
 * The name a function-key caller is recorded under. The Functions host knows which key
 * matched (the .NET host's claim `http://schemas.microsoft.com/2017/07/functions/claims/keyid`)
 * but never hands it to a Node.js worker: @azure/functions 4.x builds HttpRequest from the
 * RPC message without its `identities`, drops HTTP trigger metadata, and with HTTP streams
 * on the request is proxied with headers alone. So the key names itself by a fingerprint
 * from which it cannot be recovered: 48 bits of its SHA-256. `none` where no key is sent,
 * which only a host that checks no keys lets through (local mode, tests).
 */
export function functionKeyName(key: string | null | undefined): string {
  if (!key) return 'none';
  return `key-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** Owner hashes are 32 lower-case hex digits (128 bits of HMAC-SHA256). */
export const OWNER_HASH = /^[0-9a-f]{32}$/;

/**
 * The keyed hash naming an owner in blob names and manifests: never the raw subject, and
 * not recomputable without the key. Issuer and subject are length-prefixed, so no two
 * (issuer, subject) pairs share an input.
 */
export function ownerHash(key: string | undefined, principal: Principal): string {
  const input = `${principal.issuer.length}:${principal.issuer}|${principal.subject}`;
  return hmacSha256(preparedKey(key ?? FUNCTION_KEY_OWNER_KEY), input, 'hex').slice(0, 32);
}

export type BearerToken =
  { kind: 'missing' } | { kind: 'malformed' } | { kind: 'token'; token: string };

/** Longest token accepted; real ID and access tokens are a few kilobytes. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** RFC 6750 §2.1: `Authorization: Bearer <token>`, the scheme case-insensitive. */
export function bearerToken(authorization: string | null | undefined): BearerToken {
  if (authorization === null || authorization === undefined || authorization.trim() === '')
    return { kind: 'missing' };
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) return { kind: 'malformed' };
  const token = match[1];
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return { kind: 'malformed' };
  return { kind: 'token', token };
}

type Claims = Readonly<Record<string, unknown>>;

/**
 * `aud` holds one of the configured audiences (Entra, Auth0, Firebase, Google and Cognito ID
 * tokens). Tokens without `aud` qualify by `client_id` instead: Cognito access tokens carry
 * the app client there, with `token_use: access`.
 */
export function audienceMatches(claims: Claims, audiences: readonly string[]): boolean {
  const { aud } = claims;
  if (aud !== undefined) {
    const values = Array.isArray(aud) ? aud : [aud];
    return values.some((value) => typeof value === 'string' && audiences.includes(value));
  }
  return (
    claims.token_use === 'access' &&
    typeof claims.client_id === 'string' &&
    audiences.includes(claims.client_id)
  );
}

function words(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((w) => w !== '');
  if (Array.isArray(value)) return value.filter((w): w is string => typeof w === 'string');
  return [];
}

/**
 * The scope or role in any of the places providers put it: Entra `scp` (delegated) and
 * `roles` (app roles), OAuth `scope` (Auth0, Cognito, RFC 9068), Auth0 RBAC `permissions`.
 */
export function hasScope(claims: Claims, required: string): boolean {
  if (required === '') return true;
  return ['scp', 'scope', 'permissions', 'roles'].some((claim) =>
    words(claims[claim]).includes(required),
  );
}

/**
 * The client address as Azure's front end reports it: App Service appends the peer it
 * accepted the connection from to `X-Forwarded-For` (as `ip:port`), after whatever the
 * client sent, so the last entry is the only one a client cannot forge. Behind another
 * proxy (Front Door, a gateway) that is the proxy's address.
 */
export function clientAddress(forwardedFor: string | null | undefined): string | undefined {
  const last = forwardedFor?.split(',').pop()?.trim();
  if (!last) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(last);
  const candidate = bracketed
    ? bracketed[1]
    : /^[0-9.]+:\d+$/.test(last)
      ? last.slice(0, last.lastIndexOf(':'))
      : last;
  return isIP(candidate) ? candidate.toLowerCase() : undefined;
}

/**
 * Anonymous mode's status capability: whoever holds it may read the upload's status, from
 * any address. 32 bytes in base64url (43 characters): the owner hash the record is kept
 * under (so a status request finds the partition without the address that issued it),
 * then 16 random bytes that only the uploader was given.
 */
export function statusToken(owner: string, random: Buffer): string {
  return Buffer.concat([Buffer.from(owner, 'hex'), random]).toString('base64url');
}

const STATUS_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** The owner a status capability names, or undefined for anything statusToken did not make. */
export function statusTokenOwner(token: string | null | undefined): string | undefined {
  if (!token || !STATUS_TOKEN.test(token)) return undefined;
  const bytes = Buffer.from(token, 'base64url');
  return bytes.length === 32 ? bytes.subarray(0, 16).toString('hex') : undefined;
}

/** What a record keeps of the capability: its SHA-256, so a table reader cannot use it. */
export function statusTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Whether `token` is the capability whose hash the record keeps, in constant time. */
export function statusTokenMatches(token: string, storedHash: string | undefined): boolean {
  if (!storedHash || !/^[0-9a-f]{64}$/.test(storedHash)) return false;
  return timingSafeEqual(
    Buffer.from(statusTokenHash(token), 'hex'),
    Buffer.from(storedHash, 'hex'),
  );
}
