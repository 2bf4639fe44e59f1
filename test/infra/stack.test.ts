import { expect } from 'chai';
import { buildStack } from './helpers/program';
import { type RecordedResource, ofType, single } from './helpers/pulumi-mocks';

const SECRET = 'w3bh00k-s3cret-0123456789abcdef';

describe('infra stack: budget off', function () {
  this.timeout(60_000);
  let resources: RecordedResource[];

  before(async () => {
    ({ resources } = await buildStack({ monthlyBudget: '0' }));
  });

  it('creates no budget with monthlyBudget 0, and everything else', () => {
    expect(ofType('consumption:Budget', resources)).to.deep.equal([]);
    expect(ofType('directdrop:index:CostBudget', resources)).to.deep.equal([]);
    expect(ofType('web:WebApp', resources)).to.have.length(1);
    expect(ofType('monitor:ActionGroup', resources)).to.have.length(1);
  });
});

describe('infra stack: drop zones under the scan gate, and outcome subscribers', function () {
  this.timeout(60_000);
  let resources: RecordedResource[];
  let options: Awaited<ReturnType<typeof buildStack>>['options'];

  before(async () => {
    ({ resources, options } = await buildStack({
      dropZones: '[{"name":"cameras","retentionDays":3,"maxSasHours":48}]',
      outcomeSubscribers: JSON.stringify([
        {
          name: 'backend',
          webhookUrl: 'https://photos.example.com/hooks/directdrop',
          webhookSecret: SECRET,
        },
      ]),
    }));
  });

  it('deploys drop zones with malware scanning on, the scan results covering the zone container', () => {
    const results = single(
      'eventgrid:TopicEventSubscription',
      resources.filter((r) => r.name === 'uploads-results'),
    );
    const filter = results.inputs.filter as { advancedFilters: { values: string[] }[] };
    const account = single(
      'storage:StorageAccount',
      resources.filter((r) => r.name.startsWith('uploads')),
    );
    expect(filter.advancedFilters[0].values).to.deep.equal([
      `https://${account.name}.blob.core.windows.net/uploads/`,
      `https://${account.name}.blob.core.windows.net/dropzone-cameras/`,
    ]);
    expect(ofType('eventgrid:SystemTopicEventSubscription', resources)).to.have.length(2);
  });

  it('subscribes the configured webhook to the outcome topic', () => {
    const webhook = single(
      'eventgrid:TopicEventSubscription',
      resources.filter((r) => r.name === 'outcomes-backend'),
    );
    expect(webhook.inputs).to.deep.include({ eventSubscriptionName: 'backend' });
  });

  it('creates the budget last: after every other component of the stack', async () => {
    const urns = await options.dependsOnUrns('budget');
    for (const component of [
      'UploadStorage::uploads',
      'BlobEvents::uploads',
      'OutcomeEvents::outcomes',
      'Monitoring::monitoring',
      'FunctionApp::directdrop',
      'Alerts::alerts',
      'MalwareScanning::uploads',
    ])
      expect(
        urns.some((urn) => urn.endsWith(`directdrop:index:${component}`)),
        component,
      ).to.equal(true);
  });
});
