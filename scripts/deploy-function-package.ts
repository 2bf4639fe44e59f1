/**
 * Deploys the function package to a Flex Consumption app with One Deploy, over HTTPS with an
 * Entra token and no Azure CLI. It does what `az functionapp deployment source config-zip`
 * does for Flex (`enable_zip_deploy_flex` in Azure/azure-cli
 * src/azure-cli/azure/cli/command_modules/appservice/custom.py, and `Publish` in
 * Azure/azure-dev cli/azd/pkg/azsdk/zip_deploy_client.go):
 *
 *   1. GET the site from ARM; its SCM host is the `hostNameSslStates` entry of type Repository.
 *   2. POST the zip to https://<scm host>/api/publish?RemoteBuild=false (Content-Type
 *      application/zip, an ARM-scoped bearer token, so basic publishing credentials stay off);
 *      202 carries the id of the deployment it started.
 *   3. Poll https://<scm host>/api/deployments/<id> until it completes (status 4 is success).
 *   4. Wait, within a bound, until the app itself answers GET /api/limits.
 *
 * Unlike the CLI it never fetches the host's master key and never waits without a bound.
 * Pulumi runs it as a local.Command with an argument array; it also runs by hand:
 *
 *   node --import tsx scripts/deploy-function-package.ts --subscription <id> \
 *     --resource-group <rg> --name <app> --src <zip> [--sha256 <hex>]
 *
 * The token comes from DefaultAzureCredential: `az login`, a service principal
 * (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) or workload identity in CI.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

export interface DeployOptions {
  subscription: string;
  resourceGroup: string;
  name: string;
  src: string;
  /** The hash Pulumi planned with; a different package on disk is refused. */
  sha256?: string;
  /** How long transient refusals (roles propagating, a new app, a deployment in progress) are retried. */
  retryForSeconds: number;
  /** How long the deployment One Deploy started may take to complete. */
  deployTimeoutSeconds: number;
  /** How long the app may take to answer GET /api/limits once deployed. */
  startupTimeoutSeconds: number;
  firstBackoffSeconds: number;
  /** Between deployment-status and startup polls. */
  pollIntervalSeconds: number;
  /** Azure Resource Manager; another cloud's, or a stand-in on loopback for tests. */
  armEndpoint: string;
}

export const DEPLOY_DEFAULTS = {
  retryForSeconds: 600,
  deployTimeoutSeconds: 900,
  startupTimeoutSeconds: 300,
  firstBackoffSeconds: 10,
  maxBackoffSeconds: 60,
  pollIntervalSeconds: 5,
  armEndpoint: 'https://management.azure.com',
} as const;

/** Web Apps - Get; any version that returns hostNameSslStates and defaultHostName. */
export const SITE_API_VERSION = '2024-04-01';
/** As the CLI sends it: no remote build (node_modules is in the package), and who deployed. */
export const PUBLISH_QUERY = 'RemoteBuild=false&Deployer=directdrop';
/** Kudu's deployment status codes (azd zip_deploy_client.go, Azure/functions-action). */
export const DEPLOYMENT_STATUS = {
  cancelled: -1,
  pending: 0,
  building: 1,
  deploying: 2,
  failed: 3,
  success: 4,
  conflict: 5,
  partialSuccess: 6,
} as const;

/** A 9 MiB zip to a slow SCM front end; every other request is small. */
const PUBLISH_TIMEOUT_MS = 300_000;
const REQUEST_TIMEOUT_MS = 60_000;

export interface DeployDependencies {
  credential: TokenCredential;
  log?: (line: string) => void;
}

export interface DeployResult {
  /** POSTs to /api/publish, including refused ones. */
  publishAttempts: number;
  deploymentId?: string;
  /** From the first POST to the app answering. */
  seconds: number;
}

export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployError';
  }
}

/** An HTTP answer, or the network failure in its place (reset, refused, timed out). */
type Answer =
  | { ok: true; status: number; text: string; retryAfterSeconds?: number }
  | { ok: false; network: string };

/** Keeps a server's message but never a SAS signature or bearer token it might echo. */
export function redact(text: string): string {
  return text
    .replace(/([?&]sig=)[^&\s"']+/gi, '$1<redacted>')
    .replace(/(Bearer\s+)[\w.~+/=-]+/gi, '$1<redacted>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 600);
}

/** Azure host names are https; a loopback host (a stand-in in tests) may be plain http. */
export function hostUrl(host: string): URL {
  const url = new URL(`https://${host}`);
  if (['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) url.protocol = 'http:';
  return url;
}

function checkedEndpoint(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DeployError(`--arm-endpoint ${raw} is not a URL`);
  }
  const loopback = hostUrl(url.host).protocol === 'http:';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new DeployError(`--arm-endpoint must be https (or http on loopback), not ${raw}`);
  }
  return url;
}

/** Storage's words for an identity its roles do not (yet) allow. */
const ROLE_REFUSAL = /\b403\b|AuthorizationPermissionMismatch|AuthorizationFailure/i;

/**
 * Worth retrying: a role still propagating (401/403, or One Deploy's 400 wrapping the deployment
 * storage's 403), an app ARM does not show yet (404), a deployment in progress (409), throttling
 * and server errors. Anything else is the request's own fault and fails at once.
 */
export function isTransient(status: number, text: string): boolean {
  if ([401, 403, 404, 408, 409, 429].includes(status) || status >= 500) return true;
  return status === 400 && ROLE_REFUSAL.test(text);
}

function describe(answer: Answer): string {
  if (!answer.ok) return `no answer: ${answer.network}`;
  return `${answer.status}${answer.text ? ` ${redact(answer.text)}` : ''}`;
}

async function send(url: URL, init: RequestInit, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    const retryAfter = Number(response.headers.get('retry-after'));
    return {
      ok: true,
      status: response.status,
      text,
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const name = (error as Error).name;
    return {
      ok: false,
      network:
        name === 'TimeoutError'
          ? `timed out after ${Math.round(timeoutMs / 1000)} s`
          : (cause?.code ?? cause?.message ?? (error as Error).message),
    };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The deployment id One Deploy answers 202 with: a JSON string, or the bare id. */
export function deploymentIdFrom(text: string): string | undefined {
  const parsed = parseJson(text);
  const id = (typeof parsed === 'string' ? parsed : text).trim();
  return /^[\w.-]{1,100}$/.test(id) ? id : undefined;
}

interface SiteHosts {
  scm: URL;
  app: URL;
}

/** The SCM and default host names from the site, as `_get_scm_url` in the CLI reads them. */
export function siteHosts(site: unknown): SiteHosts | undefined {
  const properties = (site as { properties?: Record<string, unknown> } | undefined)?.properties;
  const states = Array.isArray(properties?.hostNameSslStates)
    ? (properties.hostNameSslStates as Array<{ name?: unknown; hostType?: unknown }>)
    : [];
  const scm = states.find((state) => state.hostType === 'Repository')?.name;
  const app = properties?.defaultHostName;
  if (typeof scm !== 'string' || typeof app !== 'string') return undefined;
  return { scm: hostUrl(scm), app: hostUrl(app) };
}

/** Retries with doubling backoff (or the server's Retry-After) until a deadline. */
class Backoff {
  private nextSeconds: number;

  constructor(
    private readonly deadline: number,
    firstSeconds: number,
  ) {
    this.nextSeconds = firstSeconds;
  }

  /** Waits before the next attempt; false when that would pass the deadline. */
  async wait(log: (line: string) => void, why: string, retryAfterSeconds?: number) {
    const seconds = Math.min(
      retryAfterSeconds ?? this.nextSeconds,
      DEPLOY_DEFAULTS.maxBackoffSeconds,
    );
    if (Date.now() + seconds * 1000 > this.deadline) return false;
    log(`${why}; retrying in ${seconds} s`);
    await sleep(seconds * 1000);
    this.nextSeconds *= 2;
    return true;
  }
}

type RetryReason = 'role' | 'not-found' | 'conflict' | 'unavailable';

const RETRY_HINTS: Record<RetryReason, string> = {
  role: "A new role assignment can take up to 10 minutes to apply: check that the app's identity holds Storage Blob Data Owner on the host storage account (One Deploy writes the package there with it) and that the identity deploying (your az login, or the service principal in CI) may deploy to the app (Website Contributor or Contributor)",
  'not-found':
    'Check that the app exists in that resource group and subscription (a new app can take a minute to appear)',
  conflict:
    "Another deployment was still in progress: wait for it to finish (the portal's Deployment Center lists it)",
  unavailable:
    'Azure kept failing or could not be reached: check your network and https://azure.status.microsoft',
};

function retryReason(last: Answer): RetryReason {
  if (!last.ok) return 'unavailable';
  if ([400, 401, 403].includes(last.status)) return 'role';
  if (last.status === 404) return 'not-found';
  if (last.status === 409) return 'conflict';
  return 'unavailable';
}

export async function deployFunctionPackage(
  options: DeployOptions,
  dependencies: DeployDependencies,
): Promise<DeployResult> {
  const log = dependencies.log ?? ((line: string) => console.log(line));
  if (!existsSync(options.src)) {
    throw new DeployError(
      `The function package ${options.src} does not exist; build it with npm run package:functions or let pulumi up build it`,
    );
  }
  const zip = readFileSync(options.src);
  const actual = createHash('sha256').update(zip).digest('hex');
  if (options.sha256 && actual !== options.sha256) {
    throw new DeployError(
      `${options.src} changed since Pulumi hashed it (sha256 ${actual}, expected ${options.sha256}); run pulumi up again`,
    );
  }
  const arm = checkedEndpoint(options.armEndpoint);
  const scope = new URL('/.default', arm).href;
  const bearer = async (): Promise<string> => {
    let problem: string;
    try {
      // The credential caches the token and renews it near expiry, so asking each time is cheap.
      const token = await dependencies.credential.getToken(scope);
      if (token) return `Bearer ${token.token}`;
      problem = 'the credential returned no token';
    } catch (error) {
      problem = redact(error instanceof Error ? error.message : String(error)).slice(0, 300);
    }
    throw new DeployError(
      `Could not get an Azure token to deploy with (${problem}). Sign in with az login (and az account set --subscription ${options.subscription}), or in CI set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service principal) or use workload identity (AZURE_FEDERATED_TOKEN_FILE); then run pulumi up again.`,
    );
  };
  const started = Date.now();
  const retryDeadline = started + options.retryForSeconds * 1000;
  const backoff = new Backoff(retryDeadline, options.firstBackoffSeconds);
  const giveUp = (what: string, last: Answer) =>
    new DeployError(
      `${what} was still refused after ${options.retryForSeconds} s of retries (last answer: ${describe(last)}). ${RETRY_HINTS[retryReason(last)]}; then run pulumi up again (or raise directdrop:deployRetryMinutes).`,
    );

  // 1. The site's host names, from ARM.
  const siteUrl = new URL(
    `/subscriptions/${encodeURIComponent(options.subscription)}/resourceGroups/${encodeURIComponent(options.resourceGroup)}/providers/Microsoft.Web/sites/${encodeURIComponent(options.name)}?api-version=${SITE_API_VERSION}`,
    arm,
  );
  let hosts: SiteHosts | undefined;
  while (!hosts) {
    const answer = await send(
      siteUrl,
      { headers: { authorization: await bearer() } },
      REQUEST_TIMEOUT_MS,
    );
    if (answer.ok && answer.status === 200) {
      hosts = siteHosts(parseJson(answer.text));
      if (!hosts) {
        throw new DeployError(
          `ARM's description of ${options.name} names no SCM (Repository) host or default host name; is it a function app?`,
        );
      }
      break;
    }
    if (answer.ok && !isTransient(answer.status, answer.text)) {
      throw new DeployError(`Reading the app ${options.name} from ARM failed: ${describe(answer)}`);
    }
    if (
      !(await backoff.wait(
        log,
        `Reading the app from ARM: ${describe(answer)}`,
        answer.ok ? answer.retryAfterSeconds : undefined,
      ))
    ) {
      throw giveUp(
        `Reading the app ${options.name} in resource group ${options.resourceGroup}`,
        answer,
      );
    }
  }

  // 2 and 3. Publish, then follow the deployment it started.
  const publishUrl = new URL(`/api/publish?${PUBLISH_QUERY}`, hosts.scm);
  let publishAttempts = 0;
  let deploymentId: string | undefined;
  for (;;) {
    publishAttempts++;
    log(
      `Deploying ${options.src} (${(zip.byteLength / 1024 / 1024).toFixed(1)} MiB, sha256 ${actual.slice(0, 12)}…) to ${hosts.scm.host} (attempt ${publishAttempts})`,
    );
    const answer = await send(
      publishUrl,
      {
        method: 'POST',
        headers: {
          authorization: await bearer(),
          'content-type': 'application/zip',
          'cache-control': 'no-cache',
        },
        body: new Uint8Array(zip),
      },
      PUBLISH_TIMEOUT_MS,
    );
    // 200 is a synchronous success: there is nothing to follow.
    if (answer.ok && answer.status === 200) break;
    if (answer.ok && answer.status === 202) {
      deploymentId = deploymentIdFrom(answer.text);
      const outcome = await followDeployment(hosts.scm, deploymentId, options, bearer, log);
      if (outcome.succeeded) break;
      const which = `The deployment ${deploymentId ?? '(latest)'} to ${options.name}`;
      if (outcome.retry && (await backoff.wait(log, `${which} ${outcome.detail}`))) continue;
      throw new DeployError(
        `${which} ${outcome.detail}. ${outcome.retry ? RETRY_HINTS[outcome.retry] : 'Fix what its log says'}; then run pulumi up again.`,
      );
    }
    if (answer.ok && !isTransient(answer.status, answer.text)) {
      throw new DeployError(
        `One Deploy refused the package: ${describe(answer)}. Check the package (npm run package:functions), then run pulumi up again.`,
      );
    }
    const why =
      answer.ok && answer.status === 409
        ? 'Another deployment is in progress (409)'
        : answer.ok && [400, 401, 403].includes(answer.status)
          ? `Refused (${answer.status}), probably a role still propagating`
          : `One Deploy answered ${describe(answer)}`;
    if (!(await backoff.wait(log, why, answer.ok ? answer.retryAfterSeconds : undefined))) {
      throw giveUp(`Deploying to ${options.name}`, answer);
    }
  }
  log(
    `Deployment ${deploymentId ?? '(synchronous)'} succeeded ${((Date.now() - started) / 1000).toFixed(0)} s after the start`,
  );

  // 4. The app answers.
  await waitForApp(hosts.app, options, log);
  const seconds = (Date.now() - started) / 1000;
  log(
    `Deployed ${options.name} after ${publishAttempts} attempt(s) in ${seconds.toFixed(0)} s; ${hosts.app.host} answers GET /api/limits`,
  );
  return { publishAttempts, deploymentId, seconds };
}

interface DeploymentOutcome {
  succeeded: boolean;
  /** Set when publishing again may succeed. */
  retry?: Extract<RetryReason, 'role' | 'conflict'>;
  detail: string;
}

/**
 * Polls the deployment until it completes, within `deployTimeoutSeconds`. azd notes the
 * status endpoint can answer 404 for a deployment in progress, so 404 and transient answers
 * are waited out like a pending status.
 */
async function followDeployment(
  scm: URL,
  id: string | undefined,
  options: DeployOptions,
  bearer: () => Promise<string>,
  log: (line: string) => void,
): Promise<DeploymentOutcome> {
  // Without an id (an older SCM), follow the latest deployment as the CLI does.
  const statusUrl = new URL(`/api/deployments/${id ?? 'latest'}`, scm);
  const deadline = Date.now() + options.deployTimeoutSeconds * 1000;
  let last: string;
  let lastStatus: number | undefined;
  for (;;) {
    const answer = await send(
      statusUrl,
      { headers: { authorization: await bearer() } },
      REQUEST_TIMEOUT_MS,
    );
    if (answer.ok && (answer.status === 200 || answer.status === 202)) {
      const body = parseJson(answer.text) as
        { status?: number; status_text?: string; message?: string; complete?: boolean } | undefined;
      const status = body?.status;
      if (status === DEPLOYMENT_STATUS.success) return { succeeded: true, detail: 'succeeded' };
      if (
        status === DEPLOYMENT_STATUS.failed ||
        status === DEPLOYMENT_STATUS.cancelled ||
        status === DEPLOYMENT_STATUS.conflict ||
        status === DEPLOYMENT_STATUS.partialSuccess
      ) {
        const logText = await deploymentLog(statusUrl, bearer);
        const said = [body?.status_text, logText].filter(Boolean).join(' | ');
        const verb =
          status === DEPLOYMENT_STATUS.cancelled
            ? 'was cancelled'
            : status === DEPLOYMENT_STATUS.conflict
              ? 'was cancelled by another deployment in progress'
              : status === DEPLOYMENT_STATUS.partialSuccess
                ? 'only partly succeeded'
                : 'failed';
        return {
          succeeded: false,
          retry:
            status === DEPLOYMENT_STATUS.conflict
              ? 'conflict'
              : ROLE_REFUSAL.test(said)
                ? 'role'
                : undefined,
          detail: `${verb}${said ? `: ${redact(said)}` : ''}`,
        };
      }
      if (status !== lastStatus) {
        log(
          `Deployment ${id ?? 'latest'}: ${body?.status_text || `status ${status ?? 'unknown'}`}`,
        );
        lastStatus = status;
      }
      last = `status ${status ?? 'unknown'}${body?.status_text ? ` (${body.status_text})` : ''}`;
    } else if (answer.ok && !isTransient(answer.status, answer.text)) {
      return { succeeded: false, detail: `could not be followed: ${describe(answer)}` };
    } else {
      last = describe(answer);
    }
    if (Date.now() + options.pollIntervalSeconds * 1000 > deadline) {
      return {
        succeeded: false,
        detail: `did not complete within ${options.deployTimeoutSeconds} s (last: ${last}); follow it at ${statusUrl.href}`,
      };
    }
    await sleep(options.pollIntervalSeconds * 1000);
  }
}

/** The last lines of a failed deployment's log; empty when it cannot be read. */
async function deploymentLog(statusUrl: URL, bearer: () => Promise<string>): Promise<string> {
  const answer = await send(
    new URL(`${statusUrl.pathname}/log`, statusUrl),
    { headers: { authorization: await bearer() } },
    REQUEST_TIMEOUT_MS,
  );
  if (!answer.ok || answer.status !== 200) return '';
  const entries = parseJson(answer.text);
  if (!Array.isArray(entries)) return '';
  return entries
    .map((entry: { message?: unknown }) => (typeof entry.message === 'string' ? entry.message : ''))
    .filter(Boolean)
    .slice(-5)
    .join(' | ');
}

/** The app answers GET /api/limits (public) with its rules once the host has loaded the code. */
async function waitForApp(app: URL, options: DeployOptions, log: (line: string) => void) {
  const limitsUrl = new URL('/api/limits', app);
  const deadline = Date.now() + options.startupTimeoutSeconds * 1000;
  let said = false;
  for (;;) {
    const answer = await send(limitsUrl, {}, REQUEST_TIMEOUT_MS);
    if (answer.ok && answer.status === 200) {
      const body = parseJson(answer.text) as { maxBytes?: unknown } | undefined;
      if (typeof body?.maxBytes === 'number') return;
    }
    if (Date.now() + options.pollIntervalSeconds * 1000 > deadline) {
      throw new DeployError(
        `The code is deployed, but ${limitsUrl.href} did not answer with the upload rules within ${options.startupTimeoutSeconds} s (last: ${describe(answer)}). The host may be failing to start: read the app's exceptions and traces in Application Insights (a missing or invalid setting stops it with a message naming the setting), then run pulumi up again.`,
      );
    }
    if (!said) {
      log(`Waiting for ${limitsUrl.href} to answer (${describe(answer)})`);
      said = true;
    }
    await sleep(options.pollIntervalSeconds * 1000);
  }
}

function positiveNumber(raw: string | undefined, flag: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new DeployError(`--${flag} must be a positive number of seconds, not "${raw}"`);
  }
  return value;
}

export function parseDeployArgs(argv: readonly string[]): DeployOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        subscription: { type: 'string' },
        'resource-group': { type: 'string' },
        name: { type: 'string' },
        src: { type: 'string' },
        sha256: { type: 'string' },
        'retry-for': { type: 'string' },
        'deploy-timeout': { type: 'string' },
        'startup-timeout': { type: 'string' },
        'first-backoff': { type: 'string' },
        'poll-interval': { type: 'string' },
        'arm-endpoint': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new DeployError((error as Error).message);
  }
  const required = (flag: 'subscription' | 'resource-group' | 'name' | 'src') => {
    const value = values[flag];
    if (!value) throw new DeployError(`--${flag} is required`);
    return value;
  };
  const seconds = (
    flag: 'retry-for' | 'deploy-timeout' | 'startup-timeout' | 'first-backoff' | 'poll-interval',
    fallback: number,
  ) => positiveNumber(values[flag], flag, fallback);
  return {
    subscription: required('subscription'),
    resourceGroup: required('resource-group'),
    name: required('name'),
    src: required('src'),
    sha256: values.sha256,
    retryForSeconds: seconds('retry-for', DEPLOY_DEFAULTS.retryForSeconds),
    deployTimeoutSeconds: seconds('deploy-timeout', DEPLOY_DEFAULTS.deployTimeoutSeconds),
    startupTimeoutSeconds: seconds('startup-timeout', DEPLOY_DEFAULTS.startupTimeoutSeconds),
    firstBackoffSeconds: seconds('first-backoff', DEPLOY_DEFAULTS.firstBackoffSeconds),
    pollIntervalSeconds: seconds('poll-interval', DEPLOY_DEFAULTS.pollIntervalSeconds),
    armEndpoint: values['arm-endpoint'] ?? DEPLOY_DEFAULTS.armEndpoint,
  };
}

if (require.main === module) {
  Promise.resolve()
    .then(() =>
      deployFunctionPackage(parseDeployArgs(process.argv.slice(2)), {
        credential: new DefaultAzureCredential(),
      }),
    )
    .catch((error: unknown) => {
      console.error(error instanceof DeployError ? error.message : error);
      process.exitCode = 1;
    });
}
