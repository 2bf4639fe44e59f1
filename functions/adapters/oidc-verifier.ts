/**
 * Verifies OIDC bearer tokens with `jose`: the issuer's discovery document gives the JWKS
 * URI (Entra ID, Auth0, Cognito, Google and Firebase all serve one at
 * `<issuer>/.well-known/openid-configuration`), keys are cached and refetched on an
 * unknown `kid` (at most once per cooldown), and every network step has a timeout.
 * Tokens that verified are remembered by their SHA-256 until shortly before they expire,
 * so a client polling or uploading many files pays for one signature check.
 */
import { createHash } from 'node:crypto';
import {
  type JWTPayload,
  type JWTVerifyGetKey,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
} from 'jose';
import { type Principal, audienceMatches } from '../core/auth';

export interface OidcVerifierOptions {
  issuer: string;
  audiences: readonly string[];
  algorithms: readonly string[];
  /** Per HTTP request to the provider. */
  timeoutMs?: number;
  /** Shortest time between two JWKS fetches triggered by unknown key ids. */
  cooldownMs?: number;
  /** How long fetched keys are used before they are fetched again; also the longest a verified token is remembered. */
  cacheMaxAgeMs?: number;
  /** Verified tokens remembered at most; the oldest go first. */
  maxCachedTokens?: number;
  /** The clock tokens are checked against; tests move it. */
  now?: () => number;
}

/** The token is not acceptable. Deliberately says nothing about which check failed. */
export class InvalidTokenError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('The bearer token is not valid.', options);
    this.name = 'InvalidTokenError';
  }
}

/** The identity provider could not be reached or answered nonsense: not the caller's fault. */
export class IdentityProviderUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityProviderUnavailableError';
  }
}

/** `exp`/`nbf` tolerance for clocks that disagree a little. */
export const CLOCK_TOLERANCE_SECONDS = 30;
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_COOLDOWN_MS = 30_000;
const DEFAULT_CACHE_MAX_AGE_MS = 10 * 60_000;
/** A failed discovery is retried after this long, not on every request. */
const DISCOVERY_RETRY_MS = 5_000;
const DEFAULT_MAX_CACHED_TOKENS = 10_000;
/**
 * A remembered token is checked afresh from this long before its `exp`: well before the
 * clock tolerance could let it pass, so none is ever accepted from memory after it expired.
 */
const CACHE_EXPIRY_MARGIN_MS = 30_000;

type Verified = { principal: Principal; claims: JWTPayload };

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** OIDC Discovery §4: the configuration lives under the issuer, trailing slash removed. */
export function discoveryUrl(issuer: string): URL {
  return new URL(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
}

async function fetchWithTimeout(url: URL, timeoutMs: number): Promise<Response> {
  try {
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new IdentityProviderUnavailableError(`${url.origin} answered ${response.status}`);
    }
    return response;
  } catch (error) {
    if (error instanceof IdentityProviderUnavailableError) throw error;
    throw new IdentityProviderUnavailableError(`${url.origin} could not be reached`, {
      cause: error,
    });
  }
}

export class OidcVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  private failedAt = 0;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** SHA-256 of a verified token → its result and until when it may be reused. */
  private readonly verified = new Map<string, { untilMs: number; result: Verified }>();

  constructor(private readonly options: OidcVerifierOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  /** Verifies a compact JWS and returns its subject; throws InvalidTokenError or IdentityProviderUnavailableError. */
  async verify(token: string): Promise<Verified> {
    const key = createHash('sha256').update(token).digest('base64url');
    const nowMs = this.now();
    const remembered = this.verified.get(key);
    if (remembered) {
      if (remembered.untilMs > nowMs) return remembered.result;
      this.verified.delete(key);
    }
    const result = await this.verifyAfresh(token, nowMs);
    const expMs = (result.claims.exp as number) * 1000;
    const untilMs = Math.min(
      expMs - CACHE_EXPIRY_MARGIN_MS,
      nowMs + (this.options.cacheMaxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS),
    );
    if (untilMs > nowMs) {
      this.verified.set(key, { untilMs, result });
      if (this.verified.size > (this.options.maxCachedTokens ?? DEFAULT_MAX_CACHED_TOKENS))
        this.verified.delete(this.verified.keys().next().value as string);
    }
    return result;
  }

  private async verifyAfresh(token: string, nowMs: number): Promise<Verified> {
    const keys = await this.keySet();
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: this.options.issuer,
        algorithms: [...this.options.algorithms],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      if (error instanceof IdentityProviderUnavailableError) throw error;
      if (error instanceof errors.JWKSTimeout) {
        throw new IdentityProviderUnavailableError('the JWKS request timed out', { cause: error });
      }
      throw new InvalidTokenError({ cause: error });
    }
    if (!audienceMatches(claims, this.options.audiences)) throw new InvalidTokenError();
    if (typeof claims.sub !== 'string' || claims.sub === '') throw new InvalidTokenError();
    // Shared by every request that presents the token again: nobody may change it.
    return Object.freeze({
      principal: Object.freeze({ issuer: this.options.issuer, subject: claims.sub }),
      claims: Object.freeze(claims),
    });
  }

  private keySet(): Promise<JWTVerifyGetKey> {
    if (!this.keys && Date.now() - this.failedAt < DISCOVERY_RETRY_MS) {
      return Promise.reject(
        new IdentityProviderUnavailableError('discovery failed moments ago; retrying shortly'),
      );
    }
    this.keys ??= this.discover().catch((error: unknown) => {
      this.keys = undefined;
      this.failedAt = Date.now();
      throw error;
    });
    return this.keys;
  }

  private async discover(): Promise<JWTVerifyGetKey> {
    const { issuer } = this.options;
    const response = await fetchWithTimeout(discoveryUrl(issuer), this.timeoutMs);
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      document = (await response.json()) as typeof document;
    } catch (error) {
      throw new IdentityProviderUnavailableError('the discovery document is not JSON', {
        cause: error,
      });
    }
    // OIDC Discovery §4.3: the document must name exactly the issuer it was fetched for.
    if (document.issuer !== issuer) {
      throw new IdentityProviderUnavailableError(
        `the discovery document names another issuer than ${issuer}`,
      );
    }
    let jwksUri: URL;
    try {
      jwksUri = new URL(String(document.jwks_uri));
    } catch {
      throw new IdentityProviderUnavailableError('the discovery document has no jwks_uri');
    }
    if (jwksUri.protocol !== 'https:' && !isLoopbackHttp(jwksUri)) {
      throw new IdentityProviderUnavailableError('jwks_uri must use https');
    }
    return createRemoteJWKSet(jwksUri, {
      timeoutDuration: this.timeoutMs,
      cooldownDuration: this.options.cooldownMs ?? DEFAULT_COOLDOWN_MS,
      cacheMaxAge: this.options.cacheMaxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS,
      // Unreachable or failing key endpoints are the provider's trouble, not a bad token.
      [customFetch]: async (url: string) => fetchWithTimeout(new URL(url), this.timeoutMs),
    });
  }
}
