/**
 * Who calls the backend's own API: the same OIDC tokens the app's users already send to
 * directdrop, checked against the identity provider's keys. So a user here is an
 * (issuer, subject) pair, exactly what an outcome event's `caller` names.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';

export interface User {
  issuer: string;
  subject: string;
}

export interface OidcOptions {
  /** e.g. local mode's `http://localhost:7071/dev-identity`, or `https://login.microsoftonline.com/<tenant>/v2.0`. */
  issuer: string;
  audience: string;
}

export class IdentityProviderUnavailable extends Error {}

/** A function from an Authorization header to the signed-in user, or undefined. */
export function oidcUsers(options: OidcOptions) {
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  async function jwks() {
    if (keys) return keys;
    const discovery = `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(discovery).catch(() => undefined);
    if (!response?.ok)
      throw new IdentityProviderUnavailable(`no discovery document at ${discovery}`);
    const { jwks_uri: uri } = (await response.json()) as { jwks_uri: string };
    keys = createRemoteJWKSet(new URL(uri));
    return keys;
  }
  return async (authorization: string | undefined): Promise<User | undefined> => {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return undefined;
    try {
      const { payload } = await jwtVerify(token, await jwks(), {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['RS256', 'ES256'],
      });
      return payload.sub ? { issuer: options.issuer, subject: payload.sub } : undefined;
    } catch (error) {
      if (error instanceof IdentityProviderUnavailable) throw error;
      return undefined;
    }
  };
}
