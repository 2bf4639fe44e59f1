/**
 * Pulumi under mocks: no engine, no Azure. Records every resource registered, with its
 * inputs, and answers with Azure-shaped outputs (ARM IDs, endpoints, identities) for the
 * properties the program reads back.
 */
import * as pulumi from '@pulumi/pulumi';

export const TEST_PROJECT = 'directdrop';
export const TEST_SUBSCRIPTION_ID = '00000000-0000-0000-0000-000000000001';

export interface RecordedResource {
  type: string;
  /** The logical (Pulumi) name. */
  name: string;
  inputs: Record<string, unknown>;
  /** The ARM ID the mock gave it. */
  id: string;
}

let recorded: RecordedResource[] = [];

/** Types whose Azure name comes from an input; others are named after the logical name. */
const NAME_INPUTS: Record<string, string> = {
  'azure-native:storage:BlobContainer': 'containerName',
  'azure-native:storage:Queue': 'queueName',
  'azure-native:storage:Table': 'tableName',
  'azure-native:storage:ManagementPolicy': 'managementPolicyName',
  'azure-native:storage:BlobServiceProperties': 'blobServicesName',
  'azure-native:eventgrid:Topic': 'topicName',
};

/** The upload storage account's id, for components that take it as an input. */
export const UPLOAD_ACCOUNT_ID = `/subscriptions/${TEST_SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/uploads`;

/** An outcome topic's id, for components that take it as an input. */
export const OUTCOME_TOPIC_ID = `/subscriptions/${TEST_SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.EventGrid/topics/uploads-outcomes`;

/** What Defender for Storage answers when scanning is fully on (Azure PowerShell's docs). */
export const SCANNING_SUCCEEDED = { code: 'Succeeded' };

function armId(type: string, name: string): string {
  const [, provider, resourceType] = type.split(':');
  return `/subscriptions/${TEST_SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.${provider}/${resourceType}/${name}`;
}

export function principalIdOf(name: string): string {
  return `${name}-principal`;
}

export function clientIdOf(name: string): string {
  return `${name}-client`;
}

function outputsFor(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  switch (type) {
    case 'azure-native:storage:StorageAccount':
      return {
        primaryEndpoints: {
          blob: `https://${name}.blob.core.windows.net/`,
          queue: `https://${name}.queue.core.windows.net/`,
          table: `https://${name}.table.core.windows.net/`,
        },
      };
    case 'azure-native:web:WebApp':
      return {
        defaultHostName: `${name}.azurewebsites.net`,
        identity: { type: 'SystemAssigned', principalId: principalIdOf(name) },
      };
    case 'azure-native:managedidentity:UserAssignedIdentity':
      return { principalId: principalIdOf(name), clientId: clientIdOf(name) };
    case 'azure-native:eventgrid:SystemTopic':
      return { identity: { type: 'SystemAssigned', principalId: principalIdOf(name) } };
    case 'azure-native:eventgrid:Topic':
      return {
        identity: { type: 'SystemAssigned', principalId: principalIdOf(name) },
        endpoint: `https://${name}.${String(inputs.location)}-1.eventgrid.azure.net/api/events`,
      };
    case 'azure-native:security:DefenderForStorage': {
      // Azure echoes the settings and adds each feature's operation status.
      const properties = inputs.properties as { malwareScanning?: object } | undefined;
      return {
        properties: {
          ...properties,
          malwareScanning: { ...properties?.malwareScanning, operationStatus: SCANNING_SUCCEEDED },
        },
      };
    }
    case 'azure-native:applicationinsights:Component':
      return {
        connectionString: `InstrumentationKey=${name};IngestionEndpoint=https://example.in.applicationinsights.azure.com/`,
      };
    default:
      return {};
  }
}

/** Outputs a test puts in place of what outputsFor answers, per resource type token. */
export type OutputOverrides = Record<
  string,
  (name: string, inputs: Record<string, unknown>) => Record<string, unknown>
>;

/** The error hooks the program registered, by name (for resources' `hooks.onError`). */
let errorHookNames: string[] = [];
export function registeredErrorHooks(): readonly string[] {
  return errorHookNames;
}

/**
 * Installs the mocks with `directdrop:<key>` config; call before creating resources.
 * `overrides` replaces the answers for some types, e.g. a Defender status reporting an error.
 */
export async function useMocks(
  config: Record<string, string> = {},
  overrides: OutputOverrides = {},
): Promise<void> {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries(config).map(([key, value]) => [`${TEST_PROJECT}:${key}`, value]),
    ),
  );
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const nameInput = NAME_INPUTS[args.type];
        const name = (nameInput && (args.inputs[nameInput] as string | undefined)) || args.name;
        const id = armId(args.type, name);
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs, id });
        const outputs = (overrides[args.type] ?? ((n, i) => outputsFor(args.type, n, i)))(
          name,
          args.inputs,
        );
        return { id, state: { ...args.inputs, name, ...outputs } };
      },
      call(args) {
        if (args.token === 'azure-native:authorization:getClientConfig') {
          return {
            subscriptionId: TEST_SUBSCRIPTION_ID,
            tenantId: 'tenant',
            clientId: 'client',
            objectId: 'object',
          };
        }
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    TEST_PROJECT,
    'test',
    false,
  );
  // The SDK's mock monitor announces error hooks but cannot register one (no
  // registerErrorHook), which would leave every resource with an onError hook waiting.
  errorHookNames = [];
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerErrorHook?: (
      request: { getName(): string },
      done: (error: null, reply: object) => void,
    ) => void;
  };
  monitor.registerErrorHook = (request, done) => {
    errorHookNames.push(request.getName());
    done(null, {});
  };
}

/**
 * Waits until every registration under way has reached the mocks. `waitForRPCs` is what
 * `pulumi.runtime.disconnect` waits on; the SDK exports it without a type.
 */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** Forgets what earlier tests registered. */
export function resetRecorded(): void {
  recorded = [];
}

export function recordedResources(): readonly RecordedResource[] {
  return recorded;
}

/** The resources of one type, e.g. `storage:StorageAccount` for azure-native's. */
export function ofType(
  type: string,
  resources: readonly RecordedResource[] = recorded,
): RecordedResource[] {
  const token = type.includes(':') && type.split(':').length === 3 ? type : `azure-native:${type}`;
  return resources.filter((resource) => resource.type === token);
}

export function single(type: string, resources?: readonly RecordedResource[]): RecordedResource {
  const found = ofType(type, resources);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/**
 * Captures the resource options each child of a component was created with (dependsOn in
 * particular, which the mocks never see): pass `transformations` to the component.
 */
export function optionsRecorder() {
  const options = new Map<string, pulumi.ResourceOptions>();
  const transformation: pulumi.ResourceTransformation = (args) => {
    options.set(args.name, args.opts);
    return undefined;
  };
  return {
    transformations: [transformation],
    /** The options `name` was created with. */
    optionsOf: (name: string) => options.get(name),
    /** URNs of the resources `name` was told to depend on. */
    async dependsOnUrns(name: string): Promise<string[]> {
      const dependsOn = options.get(name)?.dependsOn;
      if (dependsOn === undefined) return [];
      const resources = await valueOf(pulumi.output(dependsOn as pulumi.Input<pulumi.Resource[]>));
      return Promise.all([resources].flat().map((resource) => valueOf(resource.urn)));
    },
  };
}
