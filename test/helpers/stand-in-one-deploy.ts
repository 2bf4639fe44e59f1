/**
 * A stand-in for the three Azure endpoints a Flex code deploy talks to, each a real HTTP
 * server on loopback: ARM (the site, naming its hosts), the SCM site (One Deploy's
 * `POST /api/publish` and `GET /api/deployments/<id>[/log]`) and the app (`GET /api/limits`).
 * Each endpoint answers from a script (one reply per call, the last one repeating) and
 * records every request it gets.
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Reply {
  status: number;
  /** JSON-encoded unless a string. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Destroy the connection instead of answering (a connection reset). */
  reset?: boolean;
}

/** `'default'` stands for the endpoint's default reply, e.g. once a failure has passed. */
type Script = Array<Reply | 'default'>;

export interface OneDeployScript {
  /** ARM's GET of the site; by default 200 naming the SCM and app stand-ins. */
  site?: Script;
  /** POST /api/publish; by default 202 with the deployment id. */
  publish?: Script;
  /** GET /api/deployments/<id>; by default building, then success. */
  deployment?: Script;
  /** GET /api/deployments/<id>/log. */
  log?: Script;
  /** The app's GET /api/limits; by default 200 with limits. */
  app?: Script;
}

export interface RecordedRequest {
  endpoint: 'arm' | 'scm' | 'app';
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingMessage['headers'];
  bodyBytes: number;
  bodySha256: string;
}

export interface StandInOneDeploy {
  armEndpoint: string;
  scmHost: string;
  appHost: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const DEPLOYMENT_ID = 'c0ffee00-1234-4abc-9def-0123456789ab';
export const LIMITS = { maxBytes: 26214400, allowedContentTypes: ['image/jpeg'] };

function listen(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(handler);
  return new Promise<Server>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const host = (server: Server) => `127.0.0.1:${(server.address() as AddressInfo).port}`;

export async function standInOneDeploy(script: OneDeployScript = {}): Promise<StandInOneDeploy> {
  const requests: RecordedRequest[] = [];
  const calls = new Map<string, number>();
  let scmHost = '';
  let appHost = '';
  const defaults = (): Record<keyof OneDeployScript, Reply[]> => ({
    site: [
      {
        status: 200,
        body: {
          name: 'directdrop-app',
          properties: {
            defaultHostName: appHost,
            hostNameSslStates: [
              { name: appHost, hostType: 'Standard' },
              { name: scmHost, hostType: 'Repository' },
            ],
          },
        },
      },
    ],
    publish: [{ status: 202, body: DEPLOYMENT_ID }],
    deployment: [
      {
        status: 202,
        body: { id: DEPLOYMENT_ID, status: 1, status_text: 'Building', complete: false },
      },
      { status: 200, body: { id: DEPLOYMENT_ID, status: 4, status_text: '', complete: true } },
    ],
    log: [{ status: 200, body: [] }],
    app: [{ status: 200, body: LIMITS }],
  });

  const respond = (
    key: keyof OneDeployScript,
    response: ServerResponse,
    request: IncomingMessage,
  ) => {
    const replies = script[key] ?? defaults()[key];
    const call = calls.get(key) ?? 0;
    calls.set(key, call + 1);
    const scripted = replies[Math.min(call, replies.length - 1)];
    const reply = scripted === 'default' ? defaults()[key][0] : scripted;
    if (reply.reset) {
      request.socket.destroy();
      return;
    }
    const body =
      reply.body === undefined
        ? ''
        : typeof reply.body === 'string'
          ? reply.body
          : JSON.stringify(reply.body);
    response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    response.end(body);
  };

  const handler =
    (
      endpoint: RecordedRequest['endpoint'],
      route: (method: string, path: string) => keyof OneDeployScript | undefined,
    ) =>
    (request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        requests.push({
          endpoint,
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          bodyBytes: body.byteLength,
          bodySha256: createHash('sha256').update(body).digest('hex'),
        });
        const path = new URL(request.url ?? '/', 'http://stand-in').pathname;
        const key = route(request.method ?? '', path);
        if (key) respond(key, response, request);
        else
          response
            .writeHead(404)
            .end(`stand-in ${endpoint}: no route for ${request.method} ${path}`);
      });
    };

  const arm = await listen(
    handler('arm', (method, path) =>
      method === 'GET' &&
      /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Web\/sites\/[^/]+$/.test(
        path,
      )
        ? 'site'
        : undefined,
    ),
  );
  const scm = await listen(
    handler('scm', (method, path) => {
      if (method === 'POST' && path === '/api/publish') return 'publish';
      if (method === 'GET' && /^\/api\/deployments\/[^/]+\/log$/.test(path)) return 'log';
      if (method === 'GET' && /^\/api\/deployments\/[^/]+$/.test(path)) return 'deployment';
      return undefined;
    }),
  );
  const app = await listen(
    handler('app', (method, path) =>
      method === 'GET' && path === '/api/limits' ? 'app' : undefined,
    ),
  );
  scmHost = host(scm);
  appHost = host(app);
  const servers = [arm, scm, app];
  return {
    armEndpoint: `http://${host(arm)}`,
    scmHost,
    appHost,
    requests,
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
}
