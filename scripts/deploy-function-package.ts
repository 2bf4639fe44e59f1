/**
 * Deploys the function package to a Flex Consumption app with One Deploy, through
 * `az functionapp deployment source config-zip` (the documented path for Flex:
 * Azure/Azure-Functions#2496, learn.microsoft.com deployment-zip-push). Pulumi runs it as a
 * local.Command with an argument array; it also runs by hand:
 *
 *   node --import tsx scripts/deploy-function-package.ts --subscription <id> \
 *     --resource-group <rg> --name <app> --src <zip> [--sha256 <hex>]
 *
 * A new role assignment can answer 401/403 for minutes while it propagates, and a new app's
 * deployment endpoint 404 (Azure/azure-functions-core-tools#4346), so those are retried with
 * backoff up to --retry-for seconds. Every az call is killed after --attempt-timeout seconds.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type AzResult, runAz } from './az';

export interface DeployOptions {
  subscription: string;
  resourceGroup: string;
  name: string;
  src: string;
  /** The hash Pulumi planned with; a different package on disk is refused. */
  sha256?: string;
  retryForSeconds: number;
  attemptTimeoutSeconds: number;
  firstBackoffSeconds: number;
}

export const DEPLOY_DEFAULTS = {
  retryForSeconds: 600,
  attemptTimeoutSeconds: 900,
  firstBackoffSeconds: 10,
  maxBackoffSeconds: 60,
} as const;

export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployError';
  }
}

/** The az arguments, one array element per argument. */
export function configZipArgs(options: DeployOptions): string[] {
  return [
    'functionapp',
    'deployment',
    'source',
    'config-zip',
    '--subscription',
    options.subscription,
    '--resource-group',
    options.resourceGroup,
    '--name',
    options.name,
    '--src',
    options.src,
    // az's own wait for the deployment status, inside the attempt's bound.
    '--timeout',
    String(Math.max(60, options.attemptTimeoutSeconds - 30)),
    '--only-show-errors',
    '--output',
    'none',
  ];
}

type Failure = 'auth' | 'not-found' | 'login' | 'other';

/** What az's output says went wrong; 401/403/404 are the propagation failures worth retrying. */
export function classifyFailure(output: string): Failure {
  if (/az login|Please run 'az login'|AADSTS\d+|refresh token has expired/i.test(output)) {
    return 'login';
  }
  if (
    /\b40[13]\b|Unauthorized|Forbidden|AuthorizationFailed|AuthorizationPermissionMismatch/i.test(
      output,
    )
  ) {
    return 'auth';
  }
  if (/\b404\b|Not Found|ResourceNotFound|could not be found/i.test(output)) return 'not-found';
  return 'other';
}

/** Keeps az's message but never a SAS or bearer token it might echo. */
function redact(text: string): string {
  return text
    .replace(/([?&]sig=)[^&\s"']+/gi, '$1<redacted>')
    .replace(/(Bearer\s+)[\w.-]+/gi, '$1<redacted>')
    .trim()
    .split('\n')
    .slice(-15)
    .join('\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function deployFunctionPackage(
  options: DeployOptions,
  log: (line: string) => void = (line) => console.log(line),
): Promise<{ attempts: number }> {
  if (!existsSync(options.src)) {
    throw new DeployError(
      `The function package ${options.src} does not exist; build it with npm run package:functions or let pulumi up build it`,
    );
  }
  if (options.sha256) {
    const actual = createHash('sha256').update(readFileSync(options.src)).digest('hex');
    if (actual !== options.sha256) {
      throw new DeployError(
        `${options.src} changed since Pulumi hashed it (sha256 ${actual}, expected ${options.sha256}); run pulumi up again`,
      );
    }
  }
  const args = configZipArgs(options);
  const deadline = Date.now() + options.retryForSeconds * 1000;
  let backoffSeconds = options.firstBackoffSeconds;
  for (let attempt = 1; ; attempt++) {
    log(`Deploying ${options.src} to ${options.name} (attempt ${attempt})`);
    const result: AzResult = await runAz(args, options.attemptTimeoutSeconds * 1000);
    if (result.code === 0) {
      log(`Deployed ${options.name} after ${attempt} attempt(s)`);
      return { attempts: attempt };
    }
    if (result.startError) {
      throw new DeployError(
        `Could not run the Azure CLI (${result.startError}). Install it (https://aka.ms/installazurecli), run az login, then pulumi up again`,
      );
    }
    if (result.timedOut) {
      throw new DeployError(
        `az did not finish within ${options.attemptTimeoutSeconds} s and was stopped. Check the app's deployments (az functionapp deployment list --resource-group ${options.resourceGroup} --name ${options.name}), then run pulumi up again`,
      );
    }
    const output = `${result.stderr}\n${result.stdout}`;
    const failure = classifyFailure(output);
    const detail = redact(output);
    if (failure === 'login') {
      throw new DeployError(
        `The Azure CLI is not signed in: run az login (and az account set --subscription ${options.subscription}), then pulumi up again.\n${detail}`,
      );
    }
    if (failure === 'other') {
      throw new DeployError(`az exited with ${result.code}:\n${detail}`);
    }
    const waitSeconds = Math.min(backoffSeconds, DEPLOY_DEFAULTS.maxBackoffSeconds);
    if (Date.now() + waitSeconds * 1000 > deadline) {
      throw new DeployError(
        failure === 'auth'
          ? `Still refused (401/403) after ${attempt} attempts over ${options.retryForSeconds} s. Role assignments can take up to 10 minutes to apply: check that the app's identity has Storage Blob Data Owner on the host storage account and that your az login may deploy to ${options.name} (Website Contributor or Contributor), then run pulumi up again (or raise directdrop:deployRetryMinutes).\n${detail}`
          : `The app ${options.name} was still not found (404) after ${attempt} attempts over ${options.retryForSeconds} s. Check it exists in resource group ${options.resourceGroup} of subscription ${options.subscription}, then run pulumi up again.\n${detail}`,
      );
    }
    log(
      `${failure === 'auth' ? 'Refused (401/403), probably a role still propagating' : 'Not found (404), probably the app still starting'}; retrying in ${waitSeconds} s`,
    );
    await sleep(waitSeconds * 1000);
    backoffSeconds *= 2;
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
  const { values } = parseArgs({
    args: [...argv],
    options: {
      subscription: { type: 'string' },
      'resource-group': { type: 'string' },
      name: { type: 'string' },
      src: { type: 'string' },
      sha256: { type: 'string' },
      'retry-for': { type: 'string' },
      'attempt-timeout': { type: 'string' },
      'first-backoff': { type: 'string' },
    },
  });
  const required = (flag: 'subscription' | 'resource-group' | 'name' | 'src') => {
    const value = values[flag];
    if (!value) throw new DeployError(`--${flag} is required`);
    return value;
  };
  return {
    subscription: required('subscription'),
    resourceGroup: required('resource-group'),
    name: required('name'),
    src: required('src'),
    sha256: values.sha256,
    retryForSeconds: positiveNumber(
      values['retry-for'],
      'retry-for',
      DEPLOY_DEFAULTS.retryForSeconds,
    ),
    attemptTimeoutSeconds: positiveNumber(
      values['attempt-timeout'],
      'attempt-timeout',
      DEPLOY_DEFAULTS.attemptTimeoutSeconds,
    ),
    firstBackoffSeconds: positiveNumber(
      values['first-backoff'],
      'first-backoff',
      DEPLOY_DEFAULTS.firstBackoffSeconds,
    ),
  };
}

if (require.main === module) {
  Promise.resolve()
    .then(() => deployFunctionPackage(parseDeployArgs(process.argv.slice(2))))
    .catch((error: unknown) => {
      console.error(error instanceof DeployError ? error.message : error);
      process.exitCode = 1;
    });
}
