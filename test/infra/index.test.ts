import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { STORAGE_NAMES, poisonQueueName } from '../../functions/core/definitions';
import { toAppSettings } from '../../functions/core/settings';
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
    for (const component of ['UploadStorage', 'BlobEvents', 'FunctionApp', 'Monitoring']) {
      expect(ofType(`directdrop:index:${component}`, resources), component).to.have.length(1);
    }
  });

  it('puts everything in one resource group in the configured region', () => {
    const group = single('resources:ResourceGroup', resources);
    expect(group.inputs.location).to.equal('westeurope');
    for (const resource of resources.filter((r) => 'resourceGroupName' in r.inputs)) {
      expect(resource.inputs.resourceGroupName, resource.name).to.equal(group.name);
    }
    for (const resource of resources.filter((r) => 'location' in r.inputs)) {
      expect(resource.inputs.location, resource.name).to.equal('westeurope');
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
    const app = single('web:WebApp', resources);
    const pairs = (app.inputs.siteConfig as { appSettings: { name: string; value: string }[] })
      .appSettings;
    const settings = Object.fromEntries(pairs.map(({ name, value }) => [name, value]));
    expect(settings).to.deep.include(toAppSettings(config.app));
    expect(settings).to.deep.include({ AzureFunctionsJobHost__extensions__queues__batchSize: '3' });
    expect(settings).not.to.have.property(
      'AzureFunctionsJobHost__extensions__queues__maxDequeueCount',
    );
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

  it('deploys the configured package, keyed on its SHA-256', () => {
    const sha256 = createHash('sha256').update(readFileSync(packagePath)).digest('hex');
    expect(program.functionPackageSha256).to.equal(sha256);
    expect(single('command:local:Command', resources).inputs.triggers).to.deep.equal([sha256]);
  });
});
