/**
 * Checks what the first `pulumi up` needs before it starts, and says how to fix what is
 * missing: az signed in (and which subscription), the resource providers registered, a
 * supported Node, and Flex Consumption with the chosen Node version in the chosen region.
 *
 *   npm run preflight -- [--stack dev] [--location westeurope] [--node-version 24]
 *                        [--subscription <id>]
 *
 * `--stack` reads location and nodeVersion from Pulumi.<stack>.yaml (then Pulumi.yaml's
 * defaults); the other flags override them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS, CONFIG_NAMESPACE, NODE_VERSIONS } from '../infra/config';
import { runAz } from './az';

/** Every provider namespace the program creates resources in. */
export const RESOURCE_PROVIDERS = [
  'Microsoft.Web',
  'Microsoft.Storage',
  'Microsoft.EventGrid',
  'Microsoft.Insights',
  'Microsoft.OperationalInsights',
  'Microsoft.ManagedIdentity',
  'Microsoft.Consumption',
] as const;

/** The oldest Node that runs the tooling (the locked @azure packages need 22). */
export const MIN_LOCAL_NODE = 22;

const AZ_TIMEOUT_MS = 120_000;

export interface PreflightOptions {
  location: string;
  nodeVersion: string;
  subscription?: string;
  /** The Node running this script, e.g. "24.1.0". */
  localNode: string;
}

export interface Check {
  ok: boolean;
  title: string;
  /** What to do about a failed check (commands to run). */
  fix?: string[];
}

async function az(args: string[]): Promise<{ ok: boolean; json?: unknown; text: string }> {
  const result = await runAz([...args, '--output', 'json', '--only-show-errors'], AZ_TIMEOUT_MS);
  if (result.startError) {
    return { ok: false, text: `az could not start: ${result.startError}` };
  }
  if (result.timedOut) return { ok: false, text: `az ${args.join(' ')} timed out` };
  if (result.code !== 0) return { ok: false, text: result.stderr.trim() };
  try {
    return { ok: true, json: JSON.parse(result.stdout), text: result.stdout };
  } catch {
    return { ok: true, text: result.stdout.trim() };
  }
}

const normalizeRegion = (name: string) => name.toLowerCase().replace(/\s+/g, '');

/** Every string under a `version` key, wherever the CLI nests it. */
function versionsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(versionsIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) =>
    key.toLowerCase() === 'version' && (typeof inner === 'string' || typeof inner === 'number')
      ? [String(inner)]
      : versionsIn(inner),
  );
}

export async function runPreflight(options: PreflightOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const inSubscription = options.subscription ? ['--subscription', options.subscription] : [];

  const localMajor = Number(options.localNode.split('.')[0]);
  checks.push(
    localMajor >= MIN_LOCAL_NODE
      ? { ok: true, title: `Node ${options.localNode} runs the tooling` }
      : {
          ok: false,
          title: `Node ${options.localNode} is too old; the tooling needs ${MIN_LOCAL_NODE} or later`,
          fix: ['npm i --prefix ~/node24 node@24', 'export PATH=~/node24/node_modules/.bin:$PATH'],
        },
  );
  checks.push(
    (NODE_VERSIONS as readonly string[]).includes(options.nodeVersion)
      ? { ok: true, title: `The function app will run Node ${options.nodeVersion}` }
      : {
          ok: false,
          title: `${CONFIG_NAMESPACE}:nodeVersion ${options.nodeVersion} is not supported; use one of ${NODE_VERSIONS.join(', ')}`,
          fix: [`pulumi config set nodeVersion ${CONFIG_DEFAULTS.nodeVersion}`],
        },
  );

  const account = await az(['account', 'show', ...inSubscription]);
  const subscription = account.json as { id?: string; name?: string; user?: { name?: string } };
  if (!account.ok || !subscription?.id) {
    checks.push({
      ok: false,
      title: `The Azure CLI is not signed in or cannot see the subscription (${account.text || 'no answer'})`,
      fix: [
        'az login',
        ...(options.subscription ? [`az account set --subscription ${options.subscription}`] : []),
      ],
    });
    return checks;
  }
  checks.push({
    ok: true,
    title: `Signed in as ${subscription.user?.name ?? 'unknown'} to subscription "${subscription.name}" (${subscription.id})`,
  });
  const pinned = ['--subscription', subscription.id];

  for (const namespace of RESOURCE_PROVIDERS) {
    const provider = await az([
      'provider',
      'show',
      '--namespace',
      namespace,
      '--query',
      'registrationState',
      ...pinned,
    ]);
    const state = provider.ok ? String(provider.json ?? provider.text) : provider.text;
    checks.push(
      state === 'Registered'
        ? { ok: true, title: `${namespace} is registered` }
        : {
            ok: false,
            title: `${namespace} is not registered (${state}); without it resources fail with MissingSubscriptionRegistration`,
            fix: [
              `az provider register --namespace ${namespace} --subscription ${subscription.id}`,
            ],
          },
    );
  }

  const locations = await az(['functionapp', 'list-flexconsumption-locations', ...pinned]);
  const regions = Array.isArray(locations.json)
    ? (locations.json as { name?: string }[]).map((entry) => normalizeRegion(String(entry.name)))
    : [];
  if (!regions.includes(normalizeRegion(options.location))) {
    checks.push({
      ok: false,
      title: locations.ok
        ? `${options.location} does not offer Flex Consumption`
        : `Could not list the Flex Consumption regions (${locations.text})`,
      fix: [
        'az functionapp list-flexconsumption-locations --output table',
        'pulumi config set location <one of those regions>',
      ],
    });
    return checks;
  }
  checks.push({ ok: true, title: `${options.location} offers Flex Consumption` });

  const runtimes = await az([
    'functionapp',
    'list-flexconsumption-runtimes',
    '--location',
    options.location,
    '--runtime',
    'node',
    ...pinned,
  ]);
  const versions = versionsIn(runtimes.json);
  checks.push(
    versions.includes(options.nodeVersion)
      ? {
          ok: true,
          title: `Flex Consumption in ${options.location} runs Node ${options.nodeVersion}`,
        }
      : {
          ok: false,
          title: runtimes.ok
            ? `Flex Consumption in ${options.location} does not offer Node ${options.nodeVersion} (offers ${versions.join(', ') || 'none'})`
            : `Could not list the Flex Consumption runtimes in ${options.location} (${runtimes.text})`,
          fix: [
            `az functionapp list-flexconsumption-runtimes --location ${options.location} --runtime node --output table`,
            'pulumi config set nodeVersion <one of those versions>',
          ],
        },
  );
  return checks;
}

/** location and nodeVersion as the stack would resolve them. */
export function stackSettings(stack: string | undefined): {
  location: string;
  nodeVersion: string;
} {
  const read = (file: string) =>
    existsSync(file)
      ? ((parse(readFileSync(file, 'utf8')) as { config?: Record<string, unknown> } | null)
          ?.config ?? {})
      : {};
  const project = read('Pulumi.yaml') as Record<string, { default?: unknown }>;
  const stackConfig = stack ? read(`Pulumi.${stack}.yaml`) : {};
  if (stack && !existsSync(`Pulumi.${stack}.yaml`)) {
    throw new Error(`There is no Pulumi.${stack}.yaml in ${process.cwd()}`);
  }
  const value = (key: 'location' | 'nodeVersion') =>
    String(
      stackConfig[`${CONFIG_NAMESPACE}:${key}`] ?? project[key]?.default ?? CONFIG_DEFAULTS[key],
    );
  return { location: value('location'), nodeVersion: value('nodeVersion') };
}

export function formatChecks(checks: readonly Check[]): string {
  return checks
    .map((check) =>
      [
        `${check.ok ? 'ok  ' : 'FAIL'} ${check.title}`,
        ...(check.fix ?? []).map((line) => `       ${line}`),
      ].join('\n'),
    )
    .join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stack: { type: 'string' },
      location: { type: 'string' },
      'node-version': { type: 'string' },
      subscription: { type: 'string' },
    },
  });
  const fromStack = stackSettings(values.stack);
  const checks = await runPreflight({
    location: values.location ?? fromStack.location,
    nodeVersion: values['node-version'] ?? fromStack.nodeVersion,
    subscription: values.subscription,
    localNode: process.versions.node,
  });
  console.log(formatChecks(checks));
  const failed = checks.filter((check) => !check.ok).length;
  console.log(
    failed === 0
      ? '\nReady for pulumi up.'
      : `\n${failed} check(s) failed; fix them before pulumi up.`,
  );
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
