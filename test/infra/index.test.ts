import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { STORAGE_NAMES, poisonQueueName } from '../../functions/core/definitions';
import { SETTING_KEYS, toAppSettings } from '../../functions/core/settings';
import { loadConfig } from '../../infra/config';
import { PROGRAM_CONFIG, type Program, runProgram } from './helpers/program';
import { type RecordedResource, ofType, single, valueOf } from './helpers/pulumi-mocks';

describe('infra program (index.ts)', () => {
  let program: Program;
  let resources: RecordedResource[];
  let packagePath: string;

  before(async () => {
    ({ program, resources, packagePath } = await runProgram());
  });

  it('creates one component per concern, with directdrop:index type tokens', () => {
    for (const component of [
      'UploadStorage',
      'BlobEvents',
      'FunctionApp',
      'Monitoring',
      'Alerts',
      'CostBudget',
      'MalwareScanning',
      'OutcomeEvents',
    ]) {
      expect(ofType(`directdrop:index:${component}`, resources), component).to.have.length(1);
    }
  });

  it('puts everything in one resource group in the configured region', () => {
    const group = single('resources:ResourceGroup', resources);
    expect(group.inputs.location).to.equal('westeurope');
    for (const resource of resources.filter((r) => 'resourceGroupName' in r.inputs)) {
      expect(resource.inputs.resourceGroupName, resource.name).to.equal(group.name);
    }
    // Action groups and metric alerts are global resources; everything else is in the region.
    const global = ['azure-native:monitor:ActionGroup', 'azure-native:monitor:MetricAlert'];
    for (const resource of resources.filter((r) => 'location' in r.inputs)) {
      expect(resource.inputs.location, resource.name).to.equal(
        global.includes(resource.type) ? resource.inputs.location : 'westeurope',
      );
      if (global.includes(resource.type))
        expect(String(resource.inputs.location).toLowerCase()).to.equal('global');
    }
  });

  it('keeps upload data and Functions host storage in separate accounts', () => {
    const accounts = ofType('storage:StorageAccount', resources);
    expect(accounts).to.have.length(2);
    const containers = ofType('storage:BlobContainer', resources);
    const accountOf = (container: string) =>
      containers.find((c) => c.inputs.containerName === container)?.inputs.accountName;
    expect(accountOf(STORAGE_NAMES.landingContainer)).not.to.equal(accountOf('app-package'));
  });

  it('hands the function app the settings built from the stack config', () => {
    const config = loadConfig({ get: (key) => (PROGRAM_CONFIG as Record<string, string>)[key] });
    const settings = single('web:WebAppApplicationSettings', resources).inputs.properties as Record<
      string,
      string
    >;
    const {
      [SETTING_KEYS.scanResultsTopic]: topic,
      [SETTING_KEYS.publicBaseUrl]: publicBaseUrl,
      [SETTING_KEYS.outcomeTopicEndpoint]: outcomeTopicEndpoint,
      [SETTING_KEYS.eventSource]: eventSource,
      ...fromConfig
    } = toAppSettings(config.app);
    // Known only once deployed (or per stack): the stack and the function app fill them in.
    expect(topic, 'filled in by the stack').to.equal('');
    expect(publicBaseUrl, 'filled in by the function app').to.equal('');
    expect(outcomeTopicEndpoint, 'filled in by the stack').to.equal('');
    expect(eventSource, 'filled in by the stack').to.be.a('string');
    expect(settings).to.deep.include(fromConfig);
    expect(settings).to.deep.include({ [SETTING_KEYS.malwareScanning]: 'true' });
    expect(settings).to.deep.include({ AzureFunctionsJobHost__extensions__queues__batchSize: '3' });
    expect(settings).not.to.have.property(
      'AzureFunctionsJobHost__extensions__queues__maxDequeueCount',
    );
  });

  it('tells the app to believe only the scan results topic it creates, and scans the upload account', () => {
    const settings = single('web:WebAppApplicationSettings', resources).inputs.properties as Record<
      string,
      string
    >;
    const setting = settings[SETTING_KEYS.scanResultsTopic];
    const topic = single(
      'eventgrid:Topic',
      resources.filter((r) => r.name.endsWith('-topic') && r.name.startsWith('uploads')),
    );
    const group = single('resources:ResourceGroup', resources);
    expect(setting).to.match(
      new RegExp(
        `^/subscriptions/[^/]+/resourceGroups/${group.name}/providers/Microsoft\\.EventGrid/topics/${topic.inputs.topicName}$`,
      ),
    );
    const uploadAccount = single(
      'storage:StorageAccount',
      resources.filter((r) => r.name.startsWith('uploads')),
    );
    expect(topic.inputs.topicName).to.equal(`${uploadAccount.name}-scan-results`);
    expect(single('security:DefenderForStorage', resources).inputs.resourceId).to.equal(
      uploadAccount.id,
    );
    expect(single('eventgrid:TopicEventSubscription', resources).inputs.topicName).to.equal(
      topic.inputs.topicName,
    );
  });

  it('tells the app where to publish outcome events, as which source, and its public base URL', () => {
    const settings = single('web:WebAppApplicationSettings', resources).inputs.properties as Record<
      string,
      string
    >;
    const topic = single(
      'eventgrid:Topic',
      resources.filter((r) => r.name === 'outcomes-topic'),
    );
    const uploadAccount = single(
      'storage:StorageAccount',
      resources.filter((r) => r.name.startsWith('uploads')),
    );
    const app = single('web:WebApp', resources);
    expect(topic.inputs.topicName).to.equal(`${uploadAccount.name}-outcomes`);
    expect(topic.inputs).to.deep.include({
      inputSchema: 'CloudEventSchemaV1_0',
      disableLocalAuth: true,
    });
    expect(settings).to.deep.include({
      [SETTING_KEYS.outcomeTopicEndpoint]: `https://${topic.inputs.topicName}.westeurope-1.eventgrid.azure.net/api/events`,
      [SETTING_KEYS.eventSource]: 'urn:directdrop:test',
      [SETTING_KEYS.publicBaseUrl]: `https://${app.name}.azurewebsites.net/api`,
    });
    const sender = ofType('authorization:RoleAssignment', resources).filter((a) =>
      String(a.inputs.roleDefinitionId).endsWith('d5a91429-5739-47e2-a06b-3470a27159e7'),
    );
    expect(sender.map((a) => a.inputs.scope)).to.deep.equal([topic.id]);
  });

  it('exports the API base URL, account, container, queue and app names', async () => {
    const app = single('web:WebApp', resources);
    const uploadAccount = single(
      'storage:StorageAccount',
      resources.filter((r) => r.name.startsWith('uploads')),
    );
    expect(await valueOf(program.apiBaseUrl)).to.equal(`https://${app.name}.azurewebsites.net/api`);
    expect(await valueOf(program.functionAppName)).to.equal(app.name);
    expect(await valueOf(program.uploadStorageAccountName)).to.equal(uploadAccount.name);
    expect(await valueOf(program.landingContainer)).to.equal(STORAGE_NAMES.landingContainer);
    expect(await valueOf(program.processedContainer)).to.equal(STORAGE_NAMES.processedContainer);
    expect(await valueOf(program.deadLetterContainer)).to.equal(STORAGE_NAMES.deadLetterContainer);
    expect(await valueOf(program.eventsQueue)).to.equal(STORAGE_NAMES.eventsQueue);
    expect(await valueOf(program.reprocessQueue)).to.equal(STORAGE_NAMES.reprocessQueue);
    expect(await valueOf(program.poisonQueue)).to.equal(poisonQueueName(STORAGE_NAMES.eventsQueue));
    expect(await valueOf(program.resourceGroupName)).to.equal(
      single('resources:ResourceGroup', resources).name,
    );
    expect(await valueOf(program.appInsightsName)).to.equal(
      single('applicationinsights:Component', resources).name,
    );
  });

  it('wires the alerts to the app, the Event Grid topic and the upload account, and budgets the group', () => {
    const insights = single('applicationinsights:Component', resources);
    const topic = single('eventgrid:SystemTopic', resources);
    const uploadAccount = single(
      'storage:StorageAccount',
      resources.filter((r) => r.name.startsWith('uploads')),
    );
    const actionGroup = single('monitor:ActionGroup', resources);
    expect(actionGroup.inputs.emailReceivers).to.deep.equal([
      { name: 'email-1', emailAddress: 'ops@photos.example.com', useCommonAlertSchema: true },
    ]);
    const workspace = single('operationalinsights:Workspace', resources);
    for (const rule of ofType('monitor:ScheduledQueryRule', resources))
      expect(rule.inputs.scopes, rule.name).to.deep.equal([
        rule.name === 'alerts-events-trigger-stalled' ? workspace.id : insights.id,
      ]);
    expect(ofType('monitor:ScheduledQueryRule', resources).map((r) => r.name)).to.include(
      'alerts-scan-failure-rate',
    );
    const topicId = (name: string) =>
      single(
        'eventgrid:Topic',
        resources.filter((r) => r.name === name),
      ).id;
    const metricScopes = ofType('monitor:MetricAlert', resources).map((r) => r.inputs.scopes);
    expect(metricScopes).to.have.deep.members([
      [topic.id],
      [topicId('uploads-topic')],
      [topicId('outcomes-topic')],
      [topicId('outcomes-topic')],
      [topicId('outcomes-topic')],
      [uploadAccount.id],
    ]);
    const budget = single('consumption:Budget', resources);
    expect(budget.inputs).to.deep.include({
      scope: single('resources:ResourceGroup', resources).id,
      amount: 300,
    });
  });

  it('deploys the configured package, keyed on its SHA-256', () => {
    const sha256 = createHash('sha256').update(readFileSync(packagePath)).digest('hex');
    expect(program.functionPackageSha256).to.equal(sha256);
    expect(single('command:local:Command', resources).inputs.triggers).to.deep.equal([sha256]);
  });
});
