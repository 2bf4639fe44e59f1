import { join } from 'node:path';
import { expect } from 'chai';
import {
  STORAGE_CONNECTION,
  STORAGE_NAMES,
  poisonQueueName,
} from '../../functions/core/definitions';
import { DEFAULT_SETTINGS, SETTING_KEYS, toAppSettings } from '../../functions/core/settings';
import { input as sdkInputs } from '@pulumi/azure-native/types';
import {
  DEPLOYMENT_CONTAINER,
  DEPLOY_SCRIPT,
  FLEX_SITE_CONFIG_KEYS,
  FunctionApp,
} from '../../infra/function-app';
import { HOST_JSON_QUEUE_SETTINGS, queueHostOverrides } from '../../infra/host-json';
import { type BuiltInRole, roleAssignmentName, roleDefinitionId } from '../../infra/roles';
import {
  OUTCOME_TOPIC_ID,
  TEST_SUBSCRIPTION_ID,
  clientIdOf,
  UPLOAD_ACCOUNT_ID,
  type RecordedResource,
  ofType,
  optionsRecorder,
  principalIdOf,
  resetRecorded,
  settle,
  single,
  useMocks,
  valueOf,
} from './helpers/pulumi-mocks';

const APP_INSIGHTS_ID = `/subscriptions/${TEST_SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.Insights/components/insights`;
const CONNECTION_STRING =
  'InstrumentationKey=abc;IngestionEndpoint=https://example.in.applicationinsights.azure.com/';
const FUNCTION_PACKAGE = {
  zipPath: join(process.cwd(), '.local', 'directdrop functions.zip'),
  sha256: 'f00d',
  bytes: 4,
};
const OWNER_KEY = 'generated-owner-key-0123456789abcdefghijklmnopqrstuv';
const OVERRIDES = queueHostOverrides({ ...HOST_JSON_QUEUE_SETTINGS, batchSize: 8 });

/** Settings the Flex Consumption plan rejects or replaces with functionAppConfig. */
const FORBIDDEN_ON_FLEX = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
];

describe('infra FunctionApp', () => {
  const options = optionsRecorder();
  let functionApp: FunctionApp;
  let app: RecordedResource;
  let hostAccount: RecordedResource;
  let identity: RecordedResource;
  let settings: Record<string, string>;

  before(async () => {
    await useMocks();
    resetRecorded();
    functionApp = new FunctionApp(
      'fn',
      {
        resourceGroupName: 'rg',
        location: 'swedencentral',
        nodeVersion: '24',
        maximumInstanceCount: 60,
        instanceMemoryMB: 4096,
        uploads: {
          accountId: UPLOAD_ACCOUNT_ID,
          blobServiceUri: 'https://uploads.blob.core.windows.net',
          queueServiceUri: 'https://uploads.queue.core.windows.net',
          landingContainerName: STORAGE_NAMES.landingContainer,
          processedContainerName: STORAGE_NAMES.processedContainer,
          eventsQueueName: STORAGE_NAMES.eventsQueue,
          poisonQueueName: poisonQueueName(STORAGE_NAMES.eventsQueue),
          tableServiceUri: 'https://uploads.table.core.windows.net',
          uploadTableName: STORAGE_NAMES.uploadTable,
          reprocessQueueName: STORAGE_NAMES.reprocessQueue,
          reprocessPoisonQueueName: poisonQueueName(STORAGE_NAMES.reprocessQueue),
        },
        outcomeTopicId: OUTCOME_TOPIC_ID,
        ownerKey: OWNER_KEY,
        appSettings: { ...toAppSettings(DEFAULT_SETTINGS), ...OVERRIDES },
        appInsights: { id: APP_INSIGHTS_ID, connectionString: CONNECTION_STRING },
        allowedCorsOrigins: ['https://app.example.com'],
        functionPackage: FUNCTION_PACKAGE,
        deployRetryMinutes: 7,
      },
      { transformations: options.transformations },
    );
    await settle();
    app = single('web:WebApp');
    hostAccount = single('storage:StorageAccount');
    identity = single('managedidentity:UserAssignedIdentity');
    const appSettings = single('web:WebAppApplicationSettings');
    expect(appSettings.inputs).to.deep.include({ name: app.name, resourceGroupName: 'rg' });
    settings = appSettings.inputs.properties as Record<string, string>;
  });

  it('registers as a directdrop:index:FunctionApp component', () => {
    expect(ofType('directdrop:index:FunctionApp').map((r) => r.name)).to.deep.equal(['fn']);
  });

  it('runs on a Flex Consumption (FC1) Linux plan', () => {
    const plan = single('web:AppServicePlan');
    expect(plan.inputs).to.deep.include({
      kind: 'functionapp',
      reserved: true,
      sku: { name: 'FC1', tier: 'FlexConsumption' },
    });
    expect(app.inputs).to.deep.include({
      kind: 'functionapp,linux',
      serverFarmId: plan.id,
      httpsOnly: true,
      identity: { type: 'UserAssigned', userAssignedIdentities: [identity.id] },
    });
  });

  it('creates its user-assigned identity, and every role it holds, before the app', async () => {
    expect(identity.inputs).to.deep.include({ resourceGroupName: 'rg', location: 'swedencentral' });
    const urns = await options.dependsOnUrns(app.name);
    const assignments = ofType('authorization:RoleAssignment');
    expect(urns).to.have.length(assignments.length);
    for (const { name } of assignments)
      expect(urns.some((urn) => urn.endsWith(`::${name}`))).to.equal(true);
  });

  it('answers CORS for the configured origins, the same list the blob service allows', () => {
    const { cors } = app.inputs.siteConfig as { cors?: unknown };
    expect(cors).to.deep.equal({ allowedOrigins: ['https://app.example.com'] });
  });

  it('configures deployment storage with identity auth, the Node runtime and scale from args', () => {
    expect(app.inputs.functionAppConfig).to.deep.equal({
      deployment: {
        storage: {
          type: 'blobContainer',
          value: `https://${hostAccount.name}.blob.core.windows.net/${DEPLOYMENT_CONTAINER}`,
          authentication: {
            type: 'UserAssignedIdentity',
            userAssignedIdentityResourceId: identity.id,
          },
        },
      },
      runtime: { name: 'node', version: '24' },
      scaleAndConcurrency: { maximumInstanceCount: 60, instanceMemoryMB: 4096 },
    });
    const deploymentContainer = single('storage:BlobContainer');
    expect(deploymentContainer.inputs).to.deep.include({
      accountName: hostAccount.name,
      containerName: DEPLOYMENT_CONTAINER,
      publicAccess: 'None',
    });
  });

  it('keeps its host storage in its own locked-down account', () => {
    expect(hostAccount.id).not.to.equal(UPLOAD_ACCOUNT_ID);
    expect(hostAccount.inputs).to.deep.include({
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      defaultToOAuthAuthentication: true,
      minimumTlsVersion: 'TLS1_2',
      enableHttpsTrafficOnly: true,
    });
  });

  it('connects to storage and App Insights with its identity', () => {
    const clientId = clientIdOf(identity.name);
    expect(settings).to.deep.include({
      AzureWebJobsStorage__accountName: hostAccount.name,
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: clientId,
      [`${STORAGE_CONNECTION}__blobServiceUri`]: 'https://uploads.blob.core.windows.net',
      [`${STORAGE_CONNECTION}__queueServiceUri`]: 'https://uploads.queue.core.windows.net',
      [`${STORAGE_CONNECTION}__tableServiceUri`]: 'https://uploads.table.core.windows.net',
      DIRECTDROP_OWNER_KEY: OWNER_KEY,
      [`${STORAGE_CONNECTION}__credential`]: 'managedidentity',
      [`${STORAGE_CONNECTION}__clientId`]: clientId,
      APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION_STRING,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `ClientId=${clientId};Authorization=AAD`,
    });
  });

  it('limits glibc malloc arenas for sharp, as measured in docs/performance.md', () => {
    expect(settings).to.include({ MALLOC_ARENA_MAX: '2' });
  });

  it('hands the functions every name and limit they read', () => {
    // The API's own public URL is the function app's to know, never a default's.
    const { [SETTING_KEYS.publicBaseUrl]: publicBaseUrl, ...rest } =
      toAppSettings(DEFAULT_SETTINGS);
    expect(publicBaseUrl).to.equal('');
    expect(settings).to.deep.include(rest);
  });

  it('writes host.json overrides as AzureFunctionsJobHost__ settings', () => {
    expect(settings).to.deep.include({ AzureFunctionsJobHost__extensions__queues__batchSize: '8' });
    expect(settings).not.to.have.property(
      'AzureFunctionsJobHost__extensions__queues__newBatchThreshold',
    );
  });

  it('sets none of the settings Flex rejects, and no keys or connection strings', () => {
    for (const name of FORBIDDEN_ON_FLEX) expect(settings, name).not.to.have.property(name);
    expect(settings).not.to.have.property('AzureWebJobsStorage');
    expect(settings).not.to.have.property(STORAGE_CONNECTION);
    for (const [name, value] of Object.entries(settings)) {
      expect(value, name).not.to.match(/AccountKey=|SharedAccessSignature=|[?&]sig=|ClientSecret/i);
    }
  });

  it('sends Flex only the siteConfig keys it accepts, none of those the SDK injects', () => {
    // The SDK still adds these to any siteConfig; without the transformation they would be sent.
    expect(sdkInputs.web.siteConfigArgsProvideDefaults({})).to.include.keys(
      'netFrameworkVersion',
      'http20Enabled',
      'localMySqlEnabled',
    );
    expect(app.inputs.siteConfig).to.deep.equal({
      cors: { allowedOrigins: ['https://app.example.com'] },
      minTlsVersion: '1.2',
    });
    expect(Object.keys(app.inputs.siteConfig as object)).to.have.members([
      ...FLEX_SITE_CONFIG_KEYS,
    ]);
  });

  it('turns off basic (password) publishing credentials for SCM and FTP', () => {
    for (const type of ['web:WebAppScmAllowed', 'web:WebAppFtpAllowed']) {
      expect(single(type).inputs).to.deep.equal({
        name: app.name,
        resourceGroupName: 'rg',
        allow: false,
      });
    }
  });

  it('writes to the site one after another: app settings, then the SCM policy, then the FTP policy', async () => {
    const settingsName = single('web:WebAppApplicationSettings').name;
    const scm = single('web:WebAppScmAllowed').name;
    const ftp = single('web:WebAppFtpAllowed').name;
    const urnOf = (type: string, name: string) => `azure-native:web:${type}::${name}`;
    expect(await options.dependsOnUrns(settingsName)).to.deep.equal([]);
    const scmDeps = await options.dependsOnUrns(scm);
    expect(scmDeps).to.have.length(1);
    expect(scmDeps[0]).to.match(new RegExp(`${urnOf('WebAppApplicationSettings', settingsName)}$`));
    const ftpDeps = await options.dependsOnUrns(ftp);
    expect(ftpDeps).to.have.length(1);
    expect(ftpDeps[0]).to.match(new RegExp(`${urnOf('WebAppScmAllowed', scm)}$`));
  });

  it('tells the app its public API base URL, from the default host name, past any empty default', () => {
    expect(settings[SETTING_KEYS.publicBaseUrl]).to.equal(
      `https://${app.name}.azurewebsites.net/api`,
    );
  });

  it('grants its identity exactly the roles the functions use, each at the narrowest scope', () => {
    const container = (name: string) =>
      `${UPLOAD_ACCOUNT_ID}/blobServices/default/containers/${name}`;
    const queue = (name: string) => `${UPLOAD_ACCOUNT_ID}/queueServices/default/queues/${name}`;
    const poison = poisonQueueName(STORAGE_NAMES.eventsQueue);
    const expected: [BuiltInRole, string][] = [
      ['storageBlobDataOwner', hostAccount.id],
      ['storageTableDataContributor', hostAccount.id],
      ['storageBlobDataContributor', container(STORAGE_NAMES.landingContainer)],
      ['storageBlobDataContributor', container(STORAGE_NAMES.processedContainer)],
      ['storageBlobDelegator', UPLOAD_ACCOUNT_ID],
      ['storageQueueDataContributor', queue(STORAGE_NAMES.eventsQueue)],
      ['storageQueueDataContributor', queue(poison)],
      [
        'storageTableDataContributor',
        `${UPLOAD_ACCOUNT_ID}/tableServices/default/tables/${STORAGE_NAMES.uploadTable}`,
      ],
      ['storageQueueDataContributor', queue(STORAGE_NAMES.reprocessQueue)],
      ['storageQueueDataContributor', queue(poisonQueueName(STORAGE_NAMES.reprocessQueue))],
      ['eventGridDataSender', OUTCOME_TOPIC_ID],
      ['monitoringMetricsPublisher', APP_INSIGHTS_ID],
    ];
    const assignments = ofType('authorization:RoleAssignment');
    expect(
      assignments.map((a) => ({ role: a.inputs.roleDefinitionId, scope: a.inputs.scope })),
    ).to.have.deep.members(
      expected.map(([role, scope]) => ({
        role: roleDefinitionId(TEST_SUBSCRIPTION_ID, role),
        scope,
      })),
    );
    for (const assignment of assignments) {
      expect(assignment.inputs.principalId).to.equal(principalIdOf(identity.name));
      expect(assignment.inputs.principalType).to.equal('ServicePrincipal');
      expect(assignment.inputs.roleAssignmentName).to.equal(
        roleAssignmentName(
          assignment.inputs.scope as string,
          principalIdOf(identity.name),
          assignment.inputs.roleDefinitionId as string,
        ),
      );
    }
    const names = assignments.map((a) => a.inputs.roleAssignmentName);
    expect(new Set(names).size).to.equal(names.length);
  });

  it('holds no queue role on its host storage: its queue triggers read the upload account', () => {
    // Microsoft's Flex rbac.bicep makes host queues opt-in, for Durable Functions and MCP triggers.
    const onHost = ofType('authorization:RoleAssignment').filter(
      (a) => a.inputs.scope === hostAccount.id,
    );
    expect(onHost.map((a) => a.inputs.roleDefinitionId)).to.have.members([
      roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageBlobDataOwner'),
      roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageTableDataContributor'),
    ]);
    expect(onHost.map((a) => a.inputs.roleDefinitionId)).not.to.include(
      roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageQueueDataContributor'),
    );
  });

  it('may publish to the outcome topic only, and to no other Event Grid resource', () => {
    const senders = ofType('authorization:RoleAssignment').filter(
      (a) =>
        a.inputs.roleDefinitionId === roleDefinitionId(TEST_SUBSCRIPTION_ID, 'eventGridDataSender'),
    );
    expect(senders.map((a) => a.inputs.scope)).to.deep.equal([OUTCOME_TOPIC_ID]);
  });

  it('deploys with the deploy script and an argument array, again only when the hash changes, after the last site write and the roles', async () => {
    const deploy = single('command:local:Command');
    expect(deploy.inputs.interpreter).to.deep.equal([
      'node',
      '--import',
      'tsx',
      DEPLOY_SCRIPT,
      '--subscription',
      TEST_SUBSCRIPTION_ID,
      '--resource-group',
      'rg',
      '--name',
      app.name,
      '--src',
      '.local/directdrop functions.zip',
      '--retry-for',
      '420',
    ]);
    expect(deploy.inputs.create).to.equal(`--sha256=${FUNCTION_PACKAGE.sha256}`);
    expect(deploy.inputs.triggers).to.deep.equal([FUNCTION_PACKAGE.sha256]);
    expect(deploy.inputs).not.to.have.property('dir');
    expect(deploy.inputs).not.to.have.property('environment');
    const urns = await options.dependsOnUrns(deploy.name);
    const expected = [
      single('web:WebAppFtpAllowed').name,
      ...ofType('authorization:RoleAssignment').map((a) => a.name),
    ];
    expect(urns).to.have.length(expected.length);
    for (const name of expected)
      expect(
        urns.some((urn) => urn.endsWith(`::${name}`)),
        name,
      ).to.equal(true);
  });

  it('exposes the API base URL and app name', async () => {
    expect(await valueOf(functionApp.apiBaseUrl)).to.equal(
      `https://${app.name}.azurewebsites.net/api`,
    );
    expect(await valueOf(functionApp.name)).to.equal(app.name);
  });
});

describe('infra FunctionApp with drop zones', () => {
  before(async () => {
    await useMocks();
    resetRecorded();
    new FunctionApp('fn', {
      resourceGroupName: 'rg',
      location: 'swedencentral',
      nodeVersion: '22',
      maximumInstanceCount: 60,
      instanceMemoryMB: 4096,
      uploads: {
        accountId: UPLOAD_ACCOUNT_ID,
        blobServiceUri: 'https://uploads.blob.core.windows.net',
        queueServiceUri: 'https://uploads.queue.core.windows.net',
        landingContainerName: STORAGE_NAMES.landingContainer,
        processedContainerName: STORAGE_NAMES.processedContainer,
        eventsQueueName: STORAGE_NAMES.eventsQueue,
        poisonQueueName: poisonQueueName(STORAGE_NAMES.eventsQueue),
        tableServiceUri: 'https://uploads.table.core.windows.net',
        uploadTableName: STORAGE_NAMES.uploadTable,
        dropZoneContainerNames: ['dropzone-cameras'],
      },
      outcomeTopicId: OUTCOME_TOPIC_ID,
      ownerKey: OWNER_KEY,
      appSettings: { ...toAppSettings(DEFAULT_SETTINGS), ...OVERRIDES },
      appInsights: { id: APP_INSIGHTS_ID, connectionString: CONNECTION_STRING },
      allowedCorsOrigins: ['https://app.example.com'],
      functionPackage: FUNCTION_PACKAGE,
      deployRetryMinutes: 10,
    });
    await settle();
  });

  it('may read, tombstone and sweep each drop zone container, and nothing more there', () => {
    const onZone = ofType('authorization:RoleAssignment').filter(
      (a) =>
        a.inputs.scope === `${UPLOAD_ACCOUNT_ID}/blobServices/default/containers/dropzone-cameras`,
    );
    expect(onZone.map((a) => a.inputs.roleDefinitionId)).to.deep.equal([
      roleDefinitionId(TEST_SUBSCRIPTION_ID, 'storageBlobDataContributor'),
    ]);
  });
});
