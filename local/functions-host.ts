/**
 * A small stand-in for the Azure Functions host, for machines without Core Tools. It
 * serves exactly the registrations `functions/index.ts` gives the real host: HTTP
 * triggers under `/<routePrefix>/` and queue triggers with the queue extension's
 * semantics (see queue-listener.ts), calling the handlers through @azure/functions'
 * own HttpRequest, HttpResponse and InvocationContext.
 *
 * Like `func start`, it does not check function keys: authLevel applies in Azure only.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Cookie,
  HttpRequest,
  type HttpRequestInit,
  HttpResponse,
  type HttpResponseInit,
  InvocationContext,
  type LogLevel,
} from '@azure/functions';
import { QueueServiceClient } from '@azure/storage-queue';
import type {
  FunctionRegistration,
  HttpRegistration,
  QueueRegistration,
  TimerRegistration,
} from '../functions/registrations';
import { PortInUseError } from './azurite';
import { CORS_EXPOSED_HEADERS, mergeExposedHeaders } from './cors';
import { type HostConfig, HostConfigError, resolveAppSettingExpression } from './host-config';
import { type RouteMatcher, compileRoute } from './http-routes';
import { type Logger, describeError } from './log';
import { type QueueListener, poisonQueueNameFor, startQueueListener } from './queue-listener';
import { serveStatic } from './static-files';
import { type TimerRunner, CronError, parseCronSchedule, startTimer } from './timer-trigger';

type Env = Readonly<Record<string, string | undefined>>;

export interface FunctionsHostOptions {
  registrations: readonly FunctionRegistration[];
  /** App settings: binding expressions and connections resolve from these. */
  env: Env;
  config: HostConfig;
  port: number;
  /** Addresses to listen on; by default both loopbacks `localhost` may resolve to. */
  hosts?: readonly string[];
  /** Folder served at `/` for paths outside the routes, when it exists. */
  staticRoot?: string;
  log: Logger;
  /** The Functions host's default request size limit is 100 MB. */
  maxRequestBodyBytes?: number;
  /** Lease length for queue messages; tests shorten it. */
  queueLeaseMs?: number;
  /** Answers paths outside the functions (local mode's identity provider); false to pass. */
  extraRoutes?: (request: IncomingMessage, path: string, response: ServerResponse) => boolean;
  /**
   * Browser origins allowed to call the routes, as the function app's CORS setting
   * (siteConfig.cors) allows them in Azure; by default no cross-origin call is.
   */
  corsOriginAllowed?: (origin: string) => boolean;
}

export interface HostedRoute {
  name: string;
  methods: string[];
  /** Path with the route prefix, e.g. `/api/uploads/{uploadId}`. */
  path: string;
}

export interface HostedQueueTrigger {
  name: string;
  queueName: string;
  poisonQueueName: string | undefined;
}

export interface RunningFunctionsHost {
  /** `http://localhost:<port>` */
  url: string;
  routes: HostedRoute[];
  queueTriggers: HostedQueueTrigger[];
  /** Timer triggers with their NCRONTAB schedules. */
  timerTriggers: Array<{ name: string; schedule: string }>;
  /** Stops taking requests and messages; waits up to `drainMs` for running invocations. */
  stop(drainMs?: number): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;
const QUEUE_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

interface CompiledHttp {
  registration: HttpRegistration;
  matcher: RouteMatcher;
  methods: string[];
}

class RequestTooLargeError extends Error {}

/**
 * The request body as the handler's stream, as the Functions host hands it to a Node.js
 * worker with HTTP streams on (`app.setup({ enableHttpStream: true })`): read on demand,
 * never buffered whole. Past `limit` the stream fails, as the host's own limit does. GET
 * and HEAD carry none, as in @azure/functions' createStreamRequest.
 */
function streamedBody(request: IncomingMessage, limit: number) {
  let size = 0;
  let overflowed = false;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > limit) {
        overflowed = true;
        done(new RequestTooLargeError());
      } else done(null, chunk);
    },
  });
  request.pipe(body);
  // A pipe carries no failure: a client gone mid-body must end the handler's read too.
  request.once('close', () => {
    if (!request.complete) body.destroy(new Error('the client went away mid-body'));
  });
  return {
    body,
    overflowed: () => overflowed,
    /**
     * Whatever the handler left unread is read and dropped before the answer goes out
     * (bounded memory; Node stops reading a request once its response has ended), so a
     * client still sending gets the answer, and the connection stays usable. Past `limit`
     * in all, the connection is cut instead.
     */
    discardRest(): Promise<void> {
      request.unpipe(body);
      body.destroy();
      if (request.complete || request.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        request.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) {
            overflowed = true;
            request.destroy();
          }
        });
        request.once('end', resolve);
        request.once('close', resolve);
        request.resume();
      });
    },
  };
}

/** `ip:port` as App Service's front end writes the peer, IPv6 in brackets. */
function peerAddress(request: IncomingMessage): string | undefined {
  const { remoteAddress, remotePort } = request.socket;
  if (!remoteAddress) return undefined;
  return remoteAddress.includes(':')
    ? `[${remoteAddress}]:${remotePort}`
    : `${remoteAddress}:${remotePort}`;
}

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // App Service's front end appends the peer it accepted the connection from; so does this host.
  const peer = peerAddress(request);
  if (peer) {
    const forwarded = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = forwarded ? `${forwarded}, ${peer}` : peer;
  }
  return headers;
}

// RFC 3986 host (a reg-name or an IP literal) and an optional port, the check Kestrel makes.
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]{0,5})?$/;

/** The request's absolute URL, or undefined when its Host header or target is malformed. */
function requestUrl(request: IncomingMessage, port: number): URL | undefined {
  // HTTP/1.1 sends an empty Host when the target has no authority.
  const host = request.headers.host || `localhost:${port}`;
  if (!HOST_HEADER.test(host)) return undefined;
  const target = request.url ?? '/';
  try {
    // An origin-form target is a path even when it starts with `//`, never an authority.
    return target.startsWith('/')
      ? new URL(`http://${host}${target}`)
      : new URL(target, `http://${host}`);
  } catch {
    return undefined;
  }
}

function serializeCookie(cookie: Cookie): string {
  const parts = [`${cookie.name}=${cookie.value}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  if (cookie.path) parts.push(`Path=${cookie.path}`);
  if (cookie.expires !== undefined) parts.push(`Expires=${new Date(cookie.expires).toUTCString()}`);
  if (cookie.maxAge !== undefined) parts.push(`Max-Age=${cookie.maxAge}`);
  if (cookie.secure) parts.push('Secure');
  if (cookie.httpOnly) parts.push('HttpOnly');
  if (cookie.sameSite) parts.push(`SameSite=${cookie.sameSite}`);
  return parts.join('; ');
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/** Every error the host answers by itself has the API's shape: `{"error":{"code","message"}}`. */
function sendHostError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(response, status, { error: { code, message } }, headers);
}

class FunctionTimeoutError extends Error {}

/** Fails the invocation at functionTimeout; the handler cannot be cancelled and may still finish. */
async function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number | undefined,
  what: string,
): Promise<T> {
  if (timeoutMs === undefined) return work;
  const controller = new AbortController();
  try {
    return await Promise.race([
      work,
      sleep(timeoutMs, undefined, { signal: controller.signal }).then(() => {
        throw new FunctionTimeoutError(`${what} exceeded functionTimeout (${timeoutMs} ms)`);
      }),
    ]);
  } finally {
    controller.abort();
  }
}

function logHandlerFor(log: Logger, functionName: string) {
  return (level: LogLevel, ...args: unknown[]) => {
    // host.json's default log level, Information, hides trace and debug.
    if (level === 'trace' || level === 'debug' || level === 'none') return;
    const write =
      level === 'warning'
        ? log.warn
        : level === 'error' || level === 'critical'
          ? log.error
          : log.info;
    write(`[${functionName}]`, ...args);
  };
}

function listen(server: Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      // A machine without IPv6 loopback still serves `localhost` over 127.0.0.1.
      if (error.code === 'EADDRNOTAVAIL' || error.code === 'EAFNOSUPPORT') resolve(false);
      else if (error.code === 'EADDRINUSE')
        reject(new PortInUseError(host, port, 'Functions HTTP'));
      else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

// Timer triggers: each registration on its NCRONTAB schedule (see timer-trigger.ts).

function compileTimers(registrations: readonly FunctionRegistration[]) {
  return registrations
    .filter((r): r is TimerRegistration => r.kind === 'timer')
    .map((registration) => {
      try {
        return { registration, schedule: parseCronSchedule(registration.schedule) };
      } catch (error) {
        if (!(error instanceof CronError)) throw error;
        throw new HostConfigError(`${registration.name}: schedule ${error.message}`);
      }
    });
}

function runTimer(
  registration: TimerRegistration,
  schedule: ReturnType<typeof parseCronSchedule>,
  log: Logger,
  functionTimeoutMs: number | undefined,
): TimerRunner {
  const logHandler = logHandlerFor(log, registration.name);
  return startTimer(schedule, async (isPastDue, last, next) => {
    const invocationId = randomUUID();
    const context = new InvocationContext({
      invocationId,
      functionName: registration.name,
      logHandler,
      options: {
        trigger: { type: 'timerTrigger', name: 'myTimer', schedule: registration.schedule },
      },
    });
    const started = Date.now();
    log.info(`Executing '${registration.name}' (Reason='Timer fired', Id=${invocationId})`);
    try {
      await withTimeout(
        Promise.resolve().then(() =>
          registration.handler(
            {
              isPastDue,
              schedule: { adjustForDST: false },
              scheduleStatus: {
                last: (last ?? new Date(0)).toISOString(),
                next: next.toISOString(),
                lastUpdated: new Date().toISOString(),
              },
            },
            context,
          ),
        ),
        functionTimeoutMs,
        `Function '${registration.name}'`,
      );
      log.info(
        `Executed '${registration.name}' (Succeeded, Id=${invocationId}, Duration=${Date.now() - started}ms)`,
      );
    } catch (error) {
      log.error(
        `Executed '${registration.name}' (Failed, Id=${invocationId}, Duration=${Date.now() - started}ms): ${describeError(error)}`,
      );
    }
  });
}

export async function startFunctionsHost(
  options: FunctionsHostOptions,
): Promise<RunningFunctionsHost> {
  const { env, config, port, log } = options;
  const maxBody = options.maxRequestBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const prefix = config.routePrefix ? `/${config.routePrefix}` : '';

  // `AzureWebJobs.<name>.Disabled` turns one function off, locally as in Azure
  // (learn.microsoft.com/azure/azure-functions/disable-function).
  const disabled = (r: FunctionRegistration) =>
    /^(true|1)$/i.test(env[`AzureWebJobs.${r.name}.Disabled`]?.trim() ?? '');
  for (const r of options.registrations.filter(disabled))
    log.info(`Function '${r.name}' is disabled`);
  const registrations = options.registrations.filter((r) => !disabled(r));

  // Resolve everything before binding a port, so a bad setting fails startup cleanly.
  const httpFunctions: CompiledHttp[] = registrations
    .filter((r): r is HttpRegistration => r.kind === 'http')
    .map((registration) => ({
      registration,
      matcher: compileRoute(registration.route),
      methods: registration.methods.map((m) => m.toUpperCase()),
    }));
  const serviceClients = new Map<string, QueueServiceClient>();
  const queueServiceFor = (registration: QueueRegistration): QueueServiceClient => {
    const name = registration.connection || 'AzureWebJobsStorage';
    const cached = serviceClients.get(name);
    if (cached) return cached;
    const value = env[name];
    if (!value) {
      const identity =
        env[`${name}__queueServiceUri`] ??
        env[`${name}__serviceUri`] ??
        env[`${name}__accountName`];
      throw new HostConfigError(
        identity
          ? `${registration.name}: identity-based connection ${name}__* is not supported locally; set ${name} to a connection string`
          : `${registration.name}: app setting ${name} (its storage connection) is not set`,
      );
    }
    let client: QueueServiceClient;
    try {
      client = QueueServiceClient.fromConnectionString(value);
    } catch {
      // The value holds a key: name the setting, never echo it.
      throw new HostConfigError(
        `${registration.name}: app setting ${name} is not a valid storage connection string`,
      );
    }
    serviceClients.set(name, client);
    return client;
  };
  const queueFunctions = registrations
    .filter((r): r is QueueRegistration => r.kind === 'queue')
    .map((registration) => {
      const queueName = resolveAppSettingExpression(registration.queueName, env);
      if (!QUEUE_NAME.test(queueName)) {
        throw new HostConfigError(`${registration.name}: "${queueName}" is not a valid queue name`);
      }
      return { registration, queueName, service: queueServiceFor(registration) };
    });

  const timerFunctions = compileTimers(options.registrations);

  let activeRequests = 0;
  let stopping = false;

  async function invokeHttp(
    compiled: CompiledHttp,
    params: Record<string, string>,
    url: URL,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const { registration } = compiled;
    const started = Date.now();
    const method = request.method ?? 'GET';
    const tooLarge = () =>
      sendHostError(
        response,
        413,
        'request-too-large',
        `Request bodies are limited to ${maxBody} bytes.`,
        { connection: 'close' },
      );
    if (Number(request.headers['content-length'] ?? 0) > maxBody) {
      request.resume();
      return tooLarge();
    }
    const bodyless = method === 'GET' || method === 'HEAD';
    const streamed = bodyless ? undefined : streamedBody(request, maxBody);
    if (bodyless) request.resume();
    const invocationId = randomUUID();
    const context = new InvocationContext({
      invocationId,
      functionName: registration.name,
      logHandler: logHandlerFor(log, registration.name),
      options: {
        trigger: {
          type: 'httpTrigger',
          name: 'httpTrigger',
          methods: compiled.methods,
          route: registration.route,
          authLevel: registration.authLevel,
        },
      },
    });
    // The request the worker builds in streaming mode: a fetch Request over the body stream.
    const nativeRequest = new Request(url, {
      method,
      headers: flattenHeaders(request),
      ...(streamed
        ? { body: Readable.toWeb(streamed.body) as ReadableStream, duplex: 'half' }
        : {}),
    } as RequestInit);
    const httpRequest = new HttpRequest({ nativeRequest, params } as unknown as HttpRequestInit);
    let status: number;
    try {
      let result: unknown;
      try {
        result = await withTimeout(
          Promise.resolve().then(() => registration.handler(httpRequest, context)),
          config.functionTimeoutMs,
          `Function '${registration.name}'`,
        );
      } finally {
        await streamed?.discardRest();
      }
      if (result !== undefined && result !== null && typeof result !== 'object') {
        throw new TypeError(
          'The HTTP response must be an object with optional properties "body", "status", "headers", and "cookies".',
        );
      }
      const httpResponse =
        result instanceof HttpResponse
          ? result
          : new HttpResponse((result ?? undefined) as HttpResponseInit | undefined);
      const bytes = Buffer.from(await httpResponse.arrayBuffer());
      const headers: Record<string, string | string[]> = Object.fromEntries(
        httpResponse.headers.entries(),
      );
      if (httpResponse.cookies.length > 0)
        headers['set-cookie'] = httpResponse.cookies.map(serializeCookie);
      // The platform's exposed headers and the handler's own, together.
      const corsExposed = response.getHeader('access-control-expose-headers');
      if (corsExposed !== undefined) {
        headers['access-control-expose-headers'] = mergeExposedHeaders(
          String(corsExposed),
          httpResponse.headers.get('access-control-expose-headers') ?? undefined,
        );
      }
      status = httpResponse.status;
      response.writeHead(status, headers);
      response.end(method === 'HEAD' ? undefined : bytes);
    } catch (error) {
      if (streamed && !request.complete && request.socket.destroyed) {
        // The client went away, or its framing broke, mid-body: nobody is left to answer.
        log.warn(`${method} ${url.pathname}: the request body did not arrive (${String(error)})`);
        response.destroy();
        return;
      }
      if (streamed?.overflowed() && !response.headersSent) {
        log.info(
          `${method} ${url.pathname} → ${registration.name}: 413 (body over ${maxBody} bytes)`,
        );
        return tooLarge();
      }
      status = 500;
      log.error(
        `Executed '${registration.name}' (Failed, Id=${invocationId}): ${describeError(error)}`,
      );
      if (!response.headersSent) {
        sendHostError(
          response,
          500,
          'function-failed',
          `Function '${registration.name}' failed; see the local mode console (invocation ${invocationId}).`,
        );
      } else response.destroy();
    }
    log.info(
      `${method} ${url.pathname} → ${registration.name}: ${status} (${Date.now() - started} ms)`,
    );
  }

  /**
   * The platform's CORS, in front of the functions: a preflight from an allowed origin is
   * answered without invoking anything, and every response to it names the origin and
   * exposes the RateLimit headers and Retry-After, merged with any the handler exposes.
   */
  function applyCors(
    request: IncomingMessage,
    response: ServerResponse,
    method: string,
    routeMethods: string[],
  ): 'answered' | 'continue' {
    const origin = request.headers.origin;
    if (origin === undefined || !options.corsOriginAllowed) return 'continue';
    response.setHeader('vary', 'Origin');
    const allowed = options.corsOriginAllowed(origin);
    const preflight =
      method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    if (!preflight) {
      if (allowed) {
        response.setHeader('access-control-allow-origin', origin);
        response.setHeader('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '));
      }
      return 'continue';
    }
    if (!allowed || routeMethods.length === 0) {
      if (allowed) {
        sendHostError(
          response,
          404,
          'not-found',
          `No function answers ${request.url?.split('?')[0]}.`,
        );
      } else {
        sendHostError(
          response,
          403,
          'cors-origin-not-allowed',
          `Origin ${origin} may not call this API; start local mode with --cors-origin ${origin}.`,
        );
      }
      return 'answered';
    }
    const requestedHeaders = request.headers['access-control-request-headers'];
    response.writeHead(204, {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': routeMethods.join(', '),
      ...(requestedHeaders ? { 'access-control-allow-headers': requestedHeaders } : {}),
      'access-control-max-age': '3600',
    });
    response.end();
    return 'answered';
  }

  async function handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = (request.method ?? 'GET').toUpperCase();
    const url = requestUrl(request, port);
    if (!url) {
      // Kestrel refuses these with 400 before any routing, too.
      return sendHostError(
        response,
        400,
        'bad-request',
        'The request has a malformed Host header or request target.',
      );
    }
    const path = url.pathname;
    const lower = path.toLowerCase();
    if (prefix === '' || lower === prefix || lower.startsWith(`${prefix}/`)) {
      const routePath = path.slice(prefix.length);
      const matching = httpFunctions.filter((c) => c.matcher.match(routePath) !== undefined);
      const routeMethods = [...new Set(matching.flatMap((c) => c.methods))];
      if (applyCors(request, response, method, routeMethods) === 'answered') return;
      const candidates = httpFunctions
        .map((compiled) => ({ compiled, params: compiled.matcher.match(routePath) }))
        .filter(
          (c): c is { compiled: CompiledHttp; params: Record<string, string> } =>
            c.params !== undefined,
        );
      const chosen = candidates.find((c) => c.compiled.methods.includes(method));
      if (chosen) return invokeHttp(chosen.compiled, chosen.params, url, request, response);
      if (candidates.length > 0) {
        // A known route with another method: 405 naming the methods it takes (RFC 9110 §15.5.6).
        const allowed = [...new Set(candidates.flatMap((c) => c.compiled.methods))].join(', ');
        return sendHostError(
          response,
          405,
          'method-not-allowed',
          `${path} does not answer ${method}; it accepts ${allowed}.`,
          { allow: allowed },
        );
      }
    }
    if (options.extraRoutes?.(request, path, response)) return;
    if (options.staticRoot && (await serveStatic(options.staticRoot, request, response, path)))
      return;
    sendHostError(response, 404, 'not-found', `No function or file answers ${method} ${path}.`);
  }

  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    if (stopping) {
      sendHostError(response, 503, 'stopping', 'Local mode is shutting down.', {
        connection: 'close',
        'retry-after': '5',
      });
      return;
    }
    activeRequests++;
    handleRequest(request, response)
      .catch((error) => {
        log.error(`${request.method} ${request.url?.split('?')[0]}: ${describeError(error)}`);
        if (!response.headersSent)
          sendHostError(
            response,
            500,
            'internal-error',
            'The local host failed to answer; see its console.',
          );
        else response.destroy();
      })
      .finally(() => activeRequests--);
  };
  const hosts = options.hosts ?? ['127.0.0.1', '::1'];
  const servers: Server[] = [];
  try {
    for (const host of hosts) {
      // One server per address: `localhost` may resolve to either loopback.
      const instance = createServer(onRequest);
      // Node answers an Expect other than 100-continue with 417; Kestrel ignores it.
      instance.on('checkExpectation', onRequest);
      if (await listen(instance, port, host)) servers.push(instance);
    }
    if (servers.length === 0) throw new Error(`Could not listen on any of ${hosts.join(', ')}`);
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }

  const listeners: QueueListener[] = [];
  const notifyQueue = (queueName: string) =>
    listeners.filter((l) => l.queueName === queueName).forEach((l) => l.notify());
  for (const { registration, queueName, service } of queueFunctions) {
    const poisonName = poisonQueueNameFor(queueName);
    const logHandler = logHandlerFor(log, registration.name);
    listeners.push(
      startQueueListener({
        queue: service.getQueueClient(queueName),
        poisonQueue: poisonName ? service.getQueueClient(poisonName) : undefined,
        options: config.queues,
        log,
        leaseMs: options.queueLeaseMs,
        onPoisoned: notifyQueue,
        invoke: async (payload, metadata) => {
          const invocationId = randomUUID();
          const context = new InvocationContext({
            invocationId,
            functionName: registration.name,
            logHandler,
            triggerMetadata: { ...metadata },
            options: {
              trigger: {
                type: 'queueTrigger',
                name: 'queueEntry',
                queueName,
                connection: registration.connection,
              },
            },
          });
          const started = Date.now();
          log.info(
            `Executing '${registration.name}' (Reason='New queue message detected on '${queueName}'.', Id=${invocationId}, DequeueCount=${metadata.dequeueCount})`,
          );
          try {
            await withTimeout(
              Promise.resolve().then(() => registration.handler(payload, context)),
              config.functionTimeoutMs,
              `Function '${registration.name}'`,
            );
          } catch (error) {
            log.error(
              `Executed '${registration.name}' (Failed, Id=${invocationId}, Duration=${Date.now() - started}ms): ${describeError(error)}`,
            );
            throw error;
          }
          log.info(
            `Executed '${registration.name}' (Succeeded, Id=${invocationId}, Duration=${Date.now() - started}ms)`,
          );
        },
      }),
    );
  }

  const timers = timerFunctions.map(({ registration, schedule }) =>
    runTimer(registration, schedule, log, config.functionTimeoutMs),
  );

  return {
    url: `http://localhost:${port}`,
    routes: httpFunctions.map(({ registration, methods }) => ({
      name: registration.name,
      methods,
      path: `${prefix}/${registration.route.replace(/^\/+/, '')}`,
    })),
    queueTriggers: queueFunctions.map(({ registration, queueName }) => ({
      name: registration.name,
      queueName,
      poisonQueueName: poisonQueueNameFor(queueName),
    })),
    timerTriggers: timerFunctions.map(({ registration }) => ({
      name: registration.name,
      schedule: registration.schedule,
    })),
    async stop(drainMs = 10_000) {
      stopping = true;
      const closed = Promise.all(servers.map(closeServer));
      servers.forEach((s) => s.closeIdleConnections());
      const deadline = Date.now() + drainMs;
      while (activeRequests > 0 && Date.now() < deadline) await sleep(20);
      servers.forEach((s) => s.closeAllConnections());
      await Promise.all([
        closed,
        ...listeners.map((l) => l.stop(Math.max(0, deadline - Date.now()))),
        ...timers.map((t) => t.stop(Math.max(0, deadline - Date.now()))),
      ]);
    },
  };
}
