/**
 * Who is calling an HTTP endpoint, by the stack's auth mode: a verified OIDC subject, the
 * one function-key caller, or an anonymous client address. Failures are complete answers:
 * 401 with `WWW-Authenticate: Bearer` (RFC 6750) that never says which check failed, 403
 * for a valid token without the required scope or role, 503 when the provider is down.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  ANONYMOUS_ISSUER,
  FUNCTION_KEY_PRINCIPAL,
  type Principal,
  bearerToken,
  clientAddress,
  functionKeyName,
  hasScope,
  ownerHash,
  statusTokenMatches,
  statusTokenOwner,
} from '../core/auth';
import type { CallerIdentity, UploadRecord } from '../core/upload-record';
import { IdentityProviderUnavailableError, InvalidTokenError } from '../adapters/oidc-verifier';
import type { Runtime } from '../adapters/runtime';
import { errorResponse } from './http-responses';

export interface Caller {
  principal: Principal;
  /** Keyed hash of issuer and subject: what uploads and quotas are keyed by. */
  owner: string;
  /** Who the caller is, as records and events tell it. */
  identity: CallerIdentity;
}

export type Identified = { ok: true; caller: Caller } | { ok: false; response: HttpResponseInit };

const REALM = 'realm="directdrop"';
/** Seconds to wait when the identity provider could not be asked. */
const PROVIDER_RETRY_AFTER_SECONDS = 5;

function unauthorized(tokenGiven: boolean): Identified {
  return {
    ok: false,
    response: errorResponse(
      401,
      tokenGiven ? 'invalid-token' : 'unauthorized',
      tokenGiven
        ? 'The bearer token is not valid. Sign in again and retry.'
        : 'Sign in and send the token as Authorization: Bearer <token>.',
      {
        'WWW-Authenticate': tokenGiven
          ? `Bearer ${REALM}, error="invalid_token"`
          : `Bearer ${REALM}`,
      },
    ),
  };
}

export async function identifyCaller(
  request: HttpRequest,
  runtime: Runtime,
  context: InvocationContext,
): Promise<Identified> {
  const { settings, ownerKey } = runtime;
  const calling = (principal: Principal, identity: CallerIdentity): Identified => ({
    ok: true,
    caller: { principal, owner: ownerHash(ownerKey, principal), identity },
  });

  if (settings.authMode === 'functionKey') {
    // The host has checked the key (header or `code` query parameter, as it accepts them).
    const key = request.headers.get('x-functions-key') ?? request.query.get('code');
    return calling(FUNCTION_KEY_PRINCIPAL, { kind: 'functionKey', keyName: functionKeyName(key) });
  }
  if (settings.authMode === 'anonymous') {
    const address = clientAddress(request.headers.get('x-forwarded-for'));
    // Without a front end reporting the peer (never the case in Azure), all such callers share one bucket.
    return calling(
      { issuer: ANONYMOUS_ISSUER, subject: address ?? 'unknown' },
      { kind: 'anonymous' },
    );
  }

  const bearer = bearerToken(request.headers.get('authorization'));
  if (bearer.kind === 'missing') return unauthorized(false);
  if (bearer.kind === 'malformed') return unauthorized(true);
  try {
    const { principal, claims } = await (runtime.oidc as NonNullable<Runtime['oidc']>).verify(
      bearer.token,
    );
    if (!hasScope(claims, settings.authRequiredScope)) {
      return {
        ok: false,
        response: errorResponse(
          403,
          'insufficient-scope',
          `The token lacks the scope or role "${settings.authRequiredScope}" this API requires.`,
          {
            'WWW-Authenticate': `Bearer ${REALM}, error="insufficient_scope", scope="${settings.authRequiredScope}"`,
          },
        ),
      };
    }
    return calling(principal, { kind: 'oidc', ...principal });
  } catch (error) {
    if (error instanceof InvalidTokenError) return unauthorized(true);
    if (error instanceof IdentityProviderUnavailableError) {
      // The reason names the provider's endpoint at most; the token itself is never logged.
      context.warn(`Identity provider unavailable: ${error.message}; answered 503`);
      return {
        ok: false,
        response: errorResponse(
          503,
          'identity-provider-unavailable',
          'Sign-in cannot be checked right now; retry in a few seconds.',
          { 'Retry-After': String(PROVIDER_RETRY_AFTER_SECONDS) },
        ),
      };
    }
    throw error;
  }
}

/** Whose records a request may read, and by what right. */
export type RecordAccess =
  | { ok: true; owner: string | undefined; statusToken?: string }
  | { ok: false; response: HttpResponseInit };

/**
 * The partition a request about one upload may read: the caller's own, or in anonymous mode
 * the one its status capability (`statusToken`) names, whatever address it now calls from.
 * Without a well-formed capability nothing may be read (`owner` undefined).
 */
export async function recordAccess(
  request: HttpRequest,
  runtime: Runtime,
  context: InvocationContext,
): Promise<RecordAccess> {
  const identified = await identifyCaller(request, runtime, context);
  if (!identified.ok) return identified;
  if (runtime.settings.authMode !== 'anonymous') {
    return { ok: true, owner: identified.caller.owner };
  }
  const token = request.query.get('statusToken') ?? undefined;
  const owner = statusTokenOwner(token);
  return owner ? { ok: true, owner, statusToken: token } : { ok: true, owner: undefined };
}

/** Whether the access covers this record: always for a signed-in caller, by capability otherwise. */
export function mayRead(access: { statusToken?: string }, record: UploadRecord): boolean {
  if (record.statusTokenHash === undefined) return access.statusToken === undefined;
  return (
    access.statusToken !== undefined &&
    statusTokenMatches(access.statusToken, record.statusTokenHash)
  );
}
