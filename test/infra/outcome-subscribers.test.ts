import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../infra/config';
import { OUTCOME_EVENT_TYPES } from '../../infra/outcome-subscribers';

const SECRET = 'w3bh00k-s3cret-0123456789abcdef';
const ACCOUNT_ID =
  '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/app/providers/Microsoft.Storage/storageAccounts/appevents';
const SERVICE_BUS_QUEUE_ID =
  '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/app/providers/Microsoft.ServiceBus/namespaces/appbus/queues/outcomes';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

function subscribers(value: unknown) {
  return loadConfig({
    get: (key) =>
      ({
        allowedCorsOrigins: '["https://app.example.com"]',
        outcomeSubscribers: typeof value === 'string' ? value : JSON.stringify(value),
      })[key],
  }).outcomes.subscribers;
}

/** The message loadConfig refuses `value` with; fails the test when it takes it. */
function refusal(value: unknown): string {
  try {
    subscribers(value);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).key).to.equal('outcomeSubscribers');
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

const webhook = {
  name: 'backend',
  webhookUrl: 'https://app.example.com/hooks/directdrop',
  webhookSecret: SECRET,
};

describe('infra config: outcomeSubscribers', () => {
  it('has none by default', () => {
    expect(subscribers('')).to.deep.equal([]);
  });

  it('reads a webhook, with Event Grid retry defaults and every event type', () => {
    expect(subscribers([webhook])).to.deep.equal([
      {
        kind: 'webhook',
        name: 'backend',
        url: 'https://app.example.com/hooks/directdrop',
        secret: SECRET,
        eventTypes: [...OUTCOME_EVENT_TYPES],
        maxDeliveryAttempts: 30,
        eventTimeToLiveMinutes: 1440,
      },
    ]);
  });

  it('reads Entra ID-protected delivery, a Storage queue and a Service Bus queue, with their own retry and types', () => {
    const [entra, storageQueue, serviceBus] = subscribers([
      {
        ...webhook,
        azureActiveDirectoryTenantId: TENANT,
        azureActiveDirectoryApplicationIdOrUri: 'api://directdrop-receiver',
      },
      {
        name: 'audit',
        storageAccountId: ACCOUNT_ID,
        storageQueueName: 'directdrop-outcomes',
        maxDeliveryAttempts: 10,
        eventTimeToLiveMinutes: 60,
      },
      {
        name: 'billing',
        serviceBusQueueId: SERVICE_BUS_QUEUE_ID,
        eventTypes: ['directdrop.upload.processed', 'directdrop.upload.deleted'],
      },
    ]);
    expect(entra).to.deep.include({
      kind: 'webhook',
      entra: { tenantId: TENANT, applicationIdOrUri: 'api://directdrop-receiver' },
    });
    expect(storageQueue).to.deep.equal({
      kind: 'storageQueue',
      name: 'audit',
      storageAccountId: ACCOUNT_ID,
      queueName: 'directdrop-outcomes',
      eventTypes: [...OUTCOME_EVENT_TYPES],
      maxDeliveryAttempts: 10,
      eventTimeToLiveMinutes: 60,
    });
    expect(serviceBus).to.deep.include({
      kind: 'serviceBusQueue',
      queueId: SERVICE_BUS_QUEUE_ID,
      eventTypes: ['directdrop.upload.processed', 'directdrop.upload.deleted'],
    });
  });

  const refused: [string, unknown, string][] = [
    ['not a list', '{"name":"x"}', 'must be a list of at most 20 subscribers'],
    ['not JSON', 'webhook', 'must be a list of subscribers like'],
    [
      'more than 20',
      Array.from({ length: 21 }, (_, i) => ({ ...webhook, name: `hook-${i}` })),
      'at most 20',
    ],
    [
      'a bad name',
      [{ ...webhook, name: 'Backend!' }],
      'subscriber 1: name must be 3-48 lower-case letters',
    ],
    ['a name used twice', [webhook, webhook], 'subscriber 2: name "backend" is used twice'],
    ['an unknown field', [{ ...webhook, url: 'x' }], 'subscriber 1: unknown field "url"'],
    [
      'no destination',
      [{ name: 'backend' }],
      'subscriber 1 (backend): needs exactly one destination',
    ],
    [
      'two destinations',
      [{ ...webhook, serviceBusQueueId: SERVICE_BUS_QUEUE_ID }],
      'not webhookUrl and serviceBusQueueId',
    ],
    [
      'an http webhook',
      [{ ...webhook, webhookUrl: 'http://app.example.com/hook' }],
      'webhookUrl must be an https:// URL',
    ],
    [
      'credentials in the URL',
      [{ ...webhook, webhookUrl: 'https://u:p@app.example.com/' }],
      'without credentials',
    ],
    [
      'no secret',
      [{ name: 'backend', webhookUrl: webhook.webhookUrl }],
      'webhookSecret must be 16 to 256',
    ],
    ['a short secret', [{ ...webhook, webhookSecret: 'short' }], 'webhookSecret must be 16 to 256'],
    [
      'a secret with spaces',
      [{ ...webhook, webhookSecret: 'a secret with spaces in it' }],
      'visible ASCII',
    ],
    [
      'a tenant without an app',
      [{ ...webhook, azureActiveDirectoryTenantId: TENANT }],
      'azureActiveDirectoryApplicationIdOrUri must be',
    ],
    [
      'a tenant that is no GUID',
      [
        {
          ...webhook,
          azureActiveDirectoryTenantId: 'contoso',
          azureActiveDirectoryApplicationIdOrUri: 'api://x',
        },
      ],
      'azureActiveDirectoryTenantId must be the tenant',
    ],
    [
      'a webhook setting on a queue',
      [{ name: 'audit', serviceBusQueueId: SERVICE_BUS_QUEUE_ID, webhookSecret: SECRET }],
      'webhookSecret applies to webhookUrl subscribers only',
    ],
    [
      'a storage queue without its account',
      [{ name: 'audit', storageQueueName: 'q-1' }],
      'storageAccountId must be',
    ],
    [
      'a bad queue name',
      [{ name: 'audit', storageAccountId: ACCOUNT_ID, storageQueueName: 'Q' }],
      'storageQueueName must be',
    ],
    [
      'a bad Service Bus queue',
      [{ name: 'billing', serviceBusQueueId: ACCOUNT_ID }],
      'serviceBusQueueId must be',
    ],
    [
      'an unknown event type',
      [{ ...webhook, eventTypes: ['directdrop.upload.created'] }],
      'eventTypes must be a non-empty list of',
    ],
    ['no event types', [{ ...webhook, eventTypes: [] }], 'eventTypes must be a non-empty list'],
    [
      'too many attempts',
      [{ ...webhook, maxDeliveryAttempts: 31 }],
      'maxDeliveryAttempts must be an integer from 1 to 30',
    ],
    [
      'a time to live past a day',
      [{ ...webhook, eventTimeToLiveMinutes: 1441 }],
      'eventTimeToLiveMinutes must be an integer from 1 to 1440',
    ],
  ];
  for (const [what, value, expected] of refused) {
    it(`refuses ${what}, naming the key and what is allowed`, () => {
      const message = refusal(value);
      expect(message).to.match(/^Invalid config directdrop:outcomeSubscribers: /);
      expect(message).to.contain(expected);
    });
  }

  it('never repeats a webhook secret in an error, and says how to store it encrypted', () => {
    const secretWithSpace = `${SECRET} x`;
    const message = refusal([{ ...webhook, webhookSecret: secretWithSpace }]);
    expect(message).not.to.contain(SECRET);
    expect(message).to.contain(
      "pulumi config set --secret --path 'outcomeSubscribers[0].webhookSecret'",
    );
    const malformed = `[{"name":"backend","webhookSecret":"${SECRET}"`;
    expect(refusal(malformed)).not.to.contain(SECRET);
  });

  it("docs/events.md's example stack config is a list the program takes", () => {
    const events = readFileSync('docs/events.md', 'utf8');
    const section = events.slice(events.indexOf('## Subscribers: `outcomeSubscribers`'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    // As Pulumi hands the program a decrypted secret, with the placeholders filled in.
    const filled = yaml
      .replaceAll('<sub>', '11111111-2222-3333-4444-555555555555')
      .replaceAll('<rg>', 'app')
      .replaceAll('<account>', 'appevents')
      .replaceAll('<ns>', 'appbus');
    const config = parse(filled) as { config: Record<string, unknown> };
    const value = (config.config['directdrop:outcomeSubscribers'] as Record<string, unknown>[]).map(
      (entry) =>
        typeof entry.webhookSecret === 'object' ? { ...entry, webhookSecret: SECRET } : entry,
    );
    expect(subscribers(value).map((s) => [s.name, s.kind])).to.deep.equal([
      ['backend', 'webhook'],
      ['outcomes-queue', 'storageQueue'],
      ['outcomes-bus', 'serviceBusQueue'],
    ]);
  });
});
