/**
 * Checks what the first `pulumi up` needs before it starts, and says how to fix what is
 * missing: a recent enough az, signed in (and which subscription), the resource providers
 * registered (Microsoft.Security too when the stack scans for malware), a supported Node, and
 * Flex Consumption with the chosen Node version in the chosen region. It warns, without
 * failing, about a subscription too new for budgets and a subscription-level Defender for
 * Storage plan that may give the upload account a system topic of its own.
 *
 *   npm run preflight -- [--stack dev] [--location westeurope] [--node-version 24]
 *                        [--malware-scanning true|false] [--monthly-budget 50]
 *                        [--subscription <id>]
 *
 * `--stack` reads those keys from Pulumi.<stack>.yaml (then Pulumi.yaml's defaults); the
 * other flags override them. Only this script needs az: the code deploy does not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { CONFIG_DEFAULTS, CONFIG_NAMESPACE, NODE_VERSIONS } from '../infra/config';
import { runAz } from './az';

/** The provider namespaces every stack creates resources in. */
export const RESOURCE_PROVIDERS = [
  'Microsoft.Web',
  'Microsoft.Storage',
  'Microsoft.EventGrid',
  'Microsoft.Insights',
  'Microsoft.OperationalInsights',
  'Microsoft.ManagedIdentity',
] as const;
/** The cost budget's namespace; a stack with `monthlyBudget: 0` creates none. */
export const BUDGET_PROVIDER = 'Microsoft.Consumption';
/** Defender for Storage's namespace, for stacks with `malwareScanning`. */
export const SCANNING_PROVIDER = 'Microsoft.Security';

/** The oldest Node that runs the tooling (the locked @azure packages need 22). */
export const MIN_LOCAL_NODE = 22;

/**
 * The Azure CLI these checks need: Microsoft's Flex Consumption how-to asks for 2.60.0 or
 * later, which has `az functionapp list-flexconsumption-locations` and `-runtimes`
 * (learn.microsoft.com/azure/azure-functions/flex-consumption-how-to, prerequisites).
 */
export const MIN_AZ_VERSION = '2.60.0';

/**
 * Microsoft's budget quickstart: a new subscription cannot have budgets for up to 48 hours.
 * (learn.microsoft.com/azure/cost-management-billing/costs/quick-acm-create-budget)
 */
export const BUDGET_WAIT_HOURS = 48;

const AZ_TIMEOUT_MS = 120_000;

export interface PreflightOptions {
  location: string;
  nodeVersion: string;
  malwareScanning: boolean;
  /** 0: the stack creates no budget. */
  monthlyBudget: number;
  subscription?: string;
  /** The Node running this script, e.g. "24.1.0". */
  localNode: string;
}

export interface Check {
  ok: boolean;
  /** Printed as WARN: worth knowing before `pulumi up`, but it does not fail the preflight. */
  warning?: boolean;
  title: string;
  /** What to do about a failed check (commands to run). */
  fix?: string[];
}

/** The namespaces this stack needs registered. */
export function requiredProviders(
  options: Pick<PreflightOptions, 'malwareScanning' | 'monthlyBudget'>,
): string[] {
  return [
    ...RESOURCE_PROVIDERS,
    ...(options.monthlyBudget > 0 ? [BUDGET_PROVIDER] : []),
    ...(options.malwareScanning ? [SCANNING_PROVIDER] : []),
  ];
}

/** -1, 0 or 1 for dotted version numbers such as "2.67.0". */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const diff = (x[i] ?? 0) - (y[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
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

  const version = await az(['version']);
  const cli = (version.json as Record<string, unknown> | undefined)?.['azure-cli'];
  if (!version.ok || typeof cli !== 'string') {
    checks.push({
      ok: false,
      title: `The Azure CLI does not run (${version.text || 'no answer'}); these checks need it, the code deploy does not`,
      fix: ['Install it: https://aka.ms/installazurecli', 'az login'],
    });
    return checks;
  }
  checks.push(
    compareVersions(cli, MIN_AZ_VERSION) >= 0
      ? { ok: true, title: `Azure CLI ${cli}` }
      : {
          ok: false,
          title: `Azure CLI ${cli} is too old; these checks need ${MIN_AZ_VERSION} or later`,
          fix: ['az upgrade'],
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

  for (const namespace of requiredProviders(options)) {
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

  if (options.monthlyBudget > 0) checks.push(await budgetAgeCheck(subscription.id, pinned));
  checks.push(await defenderPlanCheck(pinned));

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

/**
 * Azure records no creation time on a subscription; the oldest role assignment at its scope
 * (the creator's Owner, made with it) stands in for one. A warning only, as it is an estimate.
 */
async function budgetAgeCheck(subscriptionId: string, pinned: string[]): Promise<Check> {
  const wait = [
    `Either wait until the subscription is ${BUDGET_WAIT_HOURS} hours old, or deploy without a budget first:`,
    'pulumi config set monthlyBudget 0',
    'then set it back and run pulumi up again once the subscription is old enough',
  ];
  const assignments = await az([
    'role',
    'assignment',
    'list',
    '--scope',
    `/subscriptions/${subscriptionId}`,
    '--query',
    '[].createdOn',
    ...pinned,
  ]);
  const times = Array.isArray(assignments.json)
    ? (assignments.json as unknown[])
        .map((value) => (typeof value === 'string' ? Date.parse(value) : Number.NaN))
        .filter((time) => Number.isFinite(time))
    : [];
  if (times.length === 0) {
    return {
      ok: true,
      warning: true,
      title: `Could not tell how old the subscription is (${assignments.ok ? 'no role assignment at its scope' : assignments.text}); budgets need it to be ${BUDGET_WAIT_HOURS} hours old`,
      fix: wait,
    };
  }
  const oldest = Math.min(...times);
  const hours = (Date.now() - oldest) / 3_600_000;
  return hours >= BUDGET_WAIT_HOURS
    ? {
        ok: true,
        title: `The subscription is old enough for budgets (its oldest role assignment is from ${new Date(oldest).toISOString().slice(0, 10)})`,
      }
    : {
        ok: true,
        warning: true,
        title: `The subscription looks new (its oldest role assignment is ${hours.toFixed(0)} hours old): Azure refuses budgets for up to ${BUDGET_WAIT_HOURS} hours, so pulumi up would fail on the budget`,
        fix: wait,
      };
}

/**
 * A subscription-level Defender for Storage plan with on-upload scanning sets itself up on
 * every new storage account, including an Event Grid system topic; an account has only one,
 * so it may take the place of the one the program creates for blob events.
 */
async function defenderPlanCheck(pinned: string[]): Promise<Check> {
  const pricing = await az(['security', 'pricing', 'show', '--name', 'StorageAccounts', ...pinned]);
  if (!pricing.ok) {
    return /not registered|MissingSubscriptionRegistration/i.test(pricing.text)
      ? {
          ok: true,
          title:
            'No subscription-level Defender for Storage plan (Microsoft.Security is not registered)',
        }
      : {
          ok: true,
          warning: true,
          title: `Could not read the subscription's Defender for Storage plan (${pricing.text})`,
        };
  }
  const plan = pricing.json as {
    pricingTier?: string;
    subPlan?: string;
    extensions?: Array<{ name?: string; isEnabled?: unknown }>;
  };
  const scansOnUpload = (plan.extensions ?? []).some(
    (extension) =>
      extension.name === 'OnUploadMalwareScanning' &&
      String(extension.isEnabled).toLowerCase() === 'true',
  );
  if (plan.pricingTier !== 'Standard' || !scansOnUpload) {
    return {
      ok: true,
      title:
        plan.pricingTier === 'Standard'
          ? 'The subscription-level Defender for Storage plan does not scan on upload'
          : 'No subscription-level Defender for Storage plan',
    };
  }
  return {
    ok: true,
    warning: true,
    title: `The subscription has a Defender for Storage plan (${plan.subPlan ?? 'Standard'}) with on-upload malware scanning: it may create its own Event Grid system topic on the new upload account first, and an account has only one ("Only one system topic is allowed per source")`,
    fix: [
      'If pulumi up stops with that error, delete the topic Defender created and run pulumi up again:',
      "az eventgrid system-topic list --resource-group <the stack's resource group> --output table",
      "az eventgrid system-topic delete --resource-group <the stack's resource group> --name <that topic>",
    ],
  };
}

export interface StackSettings {
  location: string;
  nodeVersion: string;
  malwareScanning: boolean;
  monthlyBudget: number;
}

/** The keys the checks depend on, as the stack would resolve them. */
export function stackSettings(stack: string | undefined): StackSettings {
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
  const value = (key: keyof StackSettings) =>
    String(
      stackConfig[`${CONFIG_NAMESPACE}:${key}`] ?? project[key]?.default ?? CONFIG_DEFAULTS[key],
    );
  return {
    location: value('location'),
    nodeVersion: value('nodeVersion'),
    malwareScanning: value('malwareScanning') === 'true',
    monthlyBudget: Number(value('monthlyBudget')),
  };
}

export function formatChecks(checks: readonly Check[]): string {
  return checks
    .map((check) =>
      [
        `${!check.ok ? 'FAIL' : check.warning ? 'WARN' : 'ok  '} ${check.title}`,
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
      'malware-scanning': { type: 'string' },
      'monthly-budget': { type: 'string' },
      subscription: { type: 'string' },
    },
  });
  const fromStack = stackSettings(values.stack);
  const scanning = values['malware-scanning'];
  if (scanning !== undefined && scanning !== 'true' && scanning !== 'false') {
    throw new Error(`--malware-scanning must be true or false, not "${scanning}"`);
  }
  const budget = values['monthly-budget'];
  if (budget !== undefined && !/^\d+$/.test(budget)) {
    throw new Error(`--monthly-budget must be a whole number (0 for none), not "${budget}"`);
  }
  const checks = await runPreflight({
    location: values.location ?? fromStack.location,
    nodeVersion: values['node-version'] ?? fromStack.nodeVersion,
    malwareScanning: scanning === undefined ? fromStack.malwareScanning : scanning === 'true',
    monthlyBudget: budget === undefined ? fromStack.monthlyBudget : Number(budget),
    subscription: values.subscription,
    localNode: process.versions.node,
  });
  console.log(formatChecks(checks));
  const failed = checks.filter((check) => !check.ok).length;
  const warned = checks.filter((check) => check.ok && check.warning).length;
  const warnings = warned > 0 ? ` Read the ${warned} warning(s) first.` : '';
  console.log(
    failed === 0
      ? `\nReady for pulumi up.${warnings}`
      : `\n${failed} check(s) failed; fix them before pulumi up.${warnings}`,
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
