/**
 * `directdrop dev-token`: a bearer token from a running local mode's built-in development
 * identity provider (`POST <origin>/dev-identity/token`, which answers programs on the same
 * machine only). Part of the CLI, not of the library: Azure has no such endpoint.
 */

export const DEV_TOKEN_PATH = '/dev-identity/token';

export interface DevTokenRequest {
  /** The API base URL local mode serves, e.g. http://localhost:7071/api. */
  apiBaseUrl: string;
  subject?: string;
  hours?: number;
  scope?: string;
}

/** Why no token came; `unreachable` when nothing answered at all. */
export class DevTokenError extends Error {
  constructor(
    message: string,
    readonly unreachable = false,
  ) {
    super(message);
    this.name = 'DevTokenError';
  }
}

export async function requestDevToken(request: DevTokenRequest): Promise<string> {
  const url = new URL(DEV_TOKEN_PATH, request.apiBaseUrl);
  const { subject, hours, scope } = request;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ subject, hours, scope }),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new DevTokenError(
      `Could not reach local mode at ${url.origin} (${cause?.code ?? (error as Error).message}); is npm start running there?`,
      true,
    );
  }
  const body = (await response.json().catch(() => undefined)) as
    { access_token?: unknown; error?: { message?: unknown } } | undefined;
  if (response.status === 200 && typeof body?.access_token === 'string') return body.access_token;
  if (response.status === 404) {
    throw new DevTokenError(
      `${url.origin} hands out no development tokens: it is not local mode, or local mode runs ` +
        'without its built-in sign-in (--anonymous: no token needed; DIRECTDROP_AUTH_ISSUER: ' +
        "use that provider's tokens; npm run start:func: npx directdrop dev-token --sub <user> in the repository).",
    );
  }
  const reason =
    typeof body?.error?.message === 'string' ? body.error.message : `HTTP ${response.status}`;
  throw new DevTokenError(`Local mode at ${url.origin} refused a development token: ${reason}`);
}
