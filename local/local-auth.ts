/**
 * How local mode's functions check callers. By default, sign-in as in an oidc stack against
 * the built-in development identity provider (local/dev-identity.ts); `--anonymous` turns
 * it off; a DIRECTDROP_AUTH_ISSUER in the environment or local.settings.json (a real
 * provider) is used as configured. The owner key comes from the data folder either way.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { OWNER_KEY_SETTING, SETTING_KEYS } from '../functions/core/settings';
import {
  DEV_AUDIENCE,
  DEV_DEFAULT_SUBJECT,
  DEV_TOKEN_PATH,
  type DevIdentity,
  devIssuer,
  loadDevIdentity,
  serveDevIdentity,
  serveDevToken,
  signDevToken,
} from './dev-identity';
import type { LocalModeOptions } from './options';

type Env = Readonly<Record<string, string | undefined>>;

export interface LocalAuth {
  /** App settings local mode sets over the merged ones. */
  env: Record<string, string>;
  describe: string;
  /** A token for DEV_DEFAULT_SUBJECT, when the built-in provider is in use. */
  token?: string;
  /**
   * Serves the provider's documents and its token endpoint on the local host; undefined
   * when it is not in use (so `--anonymous` and a real provider have no token endpoint).
   */
  serve?: (request: IncomingMessage, path: string, response: ServerResponse) => boolean;
  stop(): Promise<void>;
}

/** Under `func start` nothing of ours listens on the API port, so the provider gets its own. */
async function standaloneProvider(identity: DevIdentity, dataDir: string) {
  let issuer = '';
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (!serveDevIdentity(identity, issuer, path, response)) {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the identity provider has no port');
  issuer = devIssuer(`http://127.0.0.1:${address.port}`);
  await loadDevIdentity(dataDir, issuer);
  return {
    issuer,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function setUpLocalAuth(options: LocalModeOptions, merged: Env): Promise<LocalAuth> {
  const identity = await loadDevIdentity(options.dataDir);
  const ownerKey = { [OWNER_KEY_SETTING]: merged[OWNER_KEY_SETTING] || identity.ownerKey };
  const none = async () => undefined;
  if (options.anonymous) {
    return {
      env: { ...ownerKey, [SETTING_KEYS.authMode]: 'anonymous' },
      describe: 'off (--anonymous): callers are told apart by address',
      stop: none,
    };
  }
  if (merged[SETTING_KEYS.authIssuer]) {
    return {
      env: { ...ownerKey, [SETTING_KEYS.authMode]: merged[SETTING_KEYS.authMode] || 'oidc' },
      describe: `tokens of ${merged[SETTING_KEYS.authIssuer]} (DIRECTDROP_AUTH_ISSUER)`,
      stop: none,
    };
  }
  const standalone = options.func ? await standaloneProvider(identity, options.dataDir) : undefined;
  const issuer = standalone?.issuer ?? devIssuer(`http://localhost:${options.port}`);
  if (!standalone) await loadDevIdentity(options.dataDir, issuer);
  return {
    env: {
      ...ownerKey,
      [SETTING_KEYS.authMode]: 'oidc',
      [SETTING_KEYS.authIssuer]: issuer,
      [SETTING_KEYS.authAudiences]: DEV_AUDIENCE,
    },
    describe: `tokens of the built-in development identity provider ${issuer}`,
    token: await signDevToken(identity, { subject: DEV_DEFAULT_SUBJECT, issuer }),
    serve: standalone
      ? undefined
      : (request, path, response) => {
          if (path === DEV_TOKEN_PATH) {
            serveDevToken(identity, issuer, request, response).catch(() => response.destroy());
            return true;
          }
          return request.method === 'GET' && serveDevIdentity(identity, issuer, path, response);
        },
    stop: standalone?.stop ?? none,
  };
}
