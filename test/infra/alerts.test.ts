import { expect } from 'chai';
import { registrations } from '../../functions/registrations';
import {
  ALERTED_FUNCTIONS,
  ALERT_QUERIES,
  Alerts,
  NOT_YET_READY_RETRY,
  OUTCOME_LINE,
  SCAN_FAILURE_LINE,
  notYetReadyRetryHook,
  shouldRetryAlertRule,
  triggerStalledQuery,
} from '../../infra/alerts';
import {
  OUTCOME_TOPIC_ID,
  type RecordedResource,
  UPLOAD_ACCOUNT_ID,
  ofType,
  optionsRecorder,
  registeredErrorHooks,
  resetRecorded,
  settle,
  single,
  useMocks,
  valueOf,
} from './helpers/pulumi-mocks';

const INSIGHTS_ID =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/components/insights';
const WORKSPACE_ID =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/logs';
const TOPIC_ID =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventGrid/systemTopics/topic';
const SCAN_TOPIC_ID =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventGrid/topics/uploads-scan-results';

const LOG_RULES = [
  'alerts-poisoned-uploads',
  'alerts-function-failure-rate',
  'alerts-events-backlog-age',
  'alerts-scan-failure-rate',
  'alerts-events-trigger-stalled',
];
const METRIC_RULES = [
  'alerts-dead-letters-blob-events',
  'alerts-dead-letters-scan-results',
  'alerts-dead-letters-outcomes',
  'alerts-outcome-delivery-failures',
  'alerts-outcome-publish-failures',
  'alerts-upload-capacity',
];

describe('infra Alerts', () => {
  const options = optionsRecorder();
  let alerts: Alerts;
  let actionGroup: RecordedResource;
  const rule = (suffix: string) =>
    [...ofType('monitor:ScheduledQueryRule'), ...ofType('monitor:MetricAlert')].find(
      (r) => r.name === `alerts-${suffix}`,
    ) as RecordedResource;
  const criterion = (suffix: string) =>
    (rule(suffix).inputs.criteria as { allOf: Record<string, unknown>[] }).allOf[0];

  before(async () => {
    await useMocks();
    resetRecorded();
    alerts = new Alerts(
      'alerts',
      {
        resourceGroupName: 'rg',
        location: 'westeurope',
        emails: ['ops@example.com', 'oncall@example.org'],
        appInsightsId: INSIGHTS_ID,
        workspaceId: WORKSPACE_ID,
        blobEventsTopicId: TOPIC_ID,
        scanResultsTopicId: SCAN_TOPIC_ID,
        outcomeTopicId: OUTCOME_TOPIC_ID,
        uploadAccountId: UPLOAD_ACCOUNT_ID,
        failureRatePercent: 3,
        backlogAgeMinutes: 12,
        usedCapacityGiB: 250,
        scanFailurePercent: 7,
      },
      { transformations: options.transformations },
    );
    await settle();
    actionGroup = single('monitor:ActionGroup');
  });

  it('registers as a directdrop:index:Alerts component', () => {
    expect(ofType('directdrop:index:Alerts').map((r) => r.name)).to.deep.equal(['alerts']);
  });

  it('e-mails every configured address through one action group', async () => {
    expect(actionGroup.inputs).to.deep.equal({
      resourceGroupName: 'rg',
      location: 'Global',
      groupShortName: 'directdrop',
      enabled: true,
      emailReceivers: [
        { name: 'email-1', emailAddress: 'ops@example.com', useCommonAlertSchema: true },
        { name: 'email-2', emailAddress: 'oncall@example.org', useCommonAlertSchema: true },
      ],
    });
    expect(await valueOf(alerts.actionGroupId)).to.equal(actionGroup.id);
  });

  it('has exactly the eleven alert rules, each wired to the action group', () => {
    const logRules = ofType('monitor:ScheduledQueryRule');
    const metricRules = ofType('monitor:MetricAlert');
    expect(logRules.map((r) => r.name)).to.have.members(LOG_RULES);
    expect(metricRules.map((r) => r.name)).to.have.members(METRIC_RULES);
    for (const r of logRules) {
      expect(r.inputs.actions, r.name).to.deep.equal({ actionGroups: [actionGroup.id] });
      expect(r.inputs).to.deep.include({
        kind: 'LogAlert',
        enabled: true,
        evaluationFrequency: 'PT5M',
        location: 'westeurope',
      });
    }
    for (const r of metricRules) {
      expect(r.inputs.actions, r.name).to.deep.equal([{ actionGroupId: actionGroup.id }]);
      expect(r.inputs).to.deep.include({ enabled: true, location: 'global' });
    }
  });

  it('alerts on any poisoned upload or failed outcome', () => {
    expect(criterion('poisoned-uploads')).to.deep.equal({
      query: ALERT_QUERIES.poisoned,
      timeAggregation: 'Count',
      operator: 'GreaterThan',
      threshold: 0,
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
    });
    expect(ALERT_QUERIES.poisoned).to.contain(`operation_Name == "recordPoisonedEvent"`);
  });

  it('alerts on the configured failure rate and backlog age, over Application Insights', () => {
    for (const name of ['function-failure-rate', 'events-backlog-age', 'scan-failure-rate'])
      expect(rule(name).inputs).to.deep.include({ scopes: [INSIGHTS_ID], windowSize: 'PT15M' });
    expect(criterion('function-failure-rate')).to.deep.include({
      query: ALERT_QUERIES.failureRate,
      timeAggregation: 'Maximum',
      metricMeasureColumn: 'failurePercent',
      operator: 'GreaterThan',
      threshold: 3,
    });
    expect(criterion('events-backlog-age')).to.deep.include({
      query: ALERT_QUERIES.backlogAge,
      metricMeasureColumn: 'ageMinutes',
      threshold: 12,
    });
  });

  it('alerts on the configured share of scan-timeout and scan-failed outcomes', () => {
    expect(criterion('scan-failure-rate')).to.deep.include({
      query: ALERT_QUERIES.scanFailures,
      timeAggregation: 'Maximum',
      metricMeasureColumn: 'scanFailurePercent',
      operator: 'GreaterThan',
      threshold: 7,
    });
  });

  it("counts the worker's own outcome lines, and only scan-timeout and scan-failed as scan failures", () => {
    // As functions/handlers/process-upload.ts and scan-gate.ts write them today.
    const id = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';
    const outcome = new RegExp(OUTCOME_LINE);
    const scanFailure = new RegExp(SCAN_FAILURE_LINE);
    const outcomes = [
      `Upload ${id}: processed`,
      `Upload ${id}: rejected (too-large)`,
      `Upload ${id}: rejected (malware) by the malware scan gate`,
      `Upload ${id}: failed (scan-timeout) by the malware scan gate`,
      `Upload ${id}: failed (scan-failed) by the malware scan gate`,
    ];
    for (const line of outcomes) expect(outcome.test(line), line).to.equal(true);
    for (const line of [
      `Upload ${id}: reprocessed to variant set 2`,
      `Upload ${id}: waiting for the malware scan of "0x8D"`,
      `Upload ${id}: no malware-scan result for "0x8D" after 900 s`,
    ])
      expect(outcome.test(line), line).to.equal(false);
    expect(outcomes.filter((line) => scanFailure.test(line))).to.deep.equal(outcomes.slice(3));
  });

  it('alerts when delivered events wait past the backlog age with no invocation since, over the workspace', async () => {
    const stalled = rule('events-trigger-stalled');
    expect(stalled.inputs).to.deep.include({ scopes: [WORKSPACE_ID], windowSize: 'P2D' });
    expect(criterion('events-trigger-stalled')).to.deep.include({
      query: await valueOf(triggerStalledQuery(TOPIC_ID, 12)),
      timeAggregation: 'Count',
      operator: 'GreaterThan',
      threshold: 0,
    });
    const query = await valueOf(triggerStalledQuery(TOPIC_ID, 12));
    expect(query).to.contain(`ResourceId =~ "${TOPIC_ID}"`);
    expect(query).to.contain('MetricName == "DeliverySuccessCount"');
    expect(query).to.contain(`OperationName == "${ALERTED_FUNCTIONS.processUpload}"`);
    expect(query).to.contain('ago(12m)');
  });

  it("sends the system topic's metrics to the workspace, before the stall alert that reads them", async () => {
    const setting = single('monitor:DiagnosticSetting');
    expect(setting.inputs).to.deep.equal({
      name: 'directdrop-metrics-to-logs',
      resourceUri: TOPIC_ID,
      workspaceId: WORKSPACE_ID,
      metrics: [{ category: 'AllMetrics', enabled: true }],
    });
    const urns = await options.dependsOnUrns('alerts-events-trigger-stalled');
    expect(urns).to.have.length(1);
    expect(urns[0]).to.match(/DiagnosticSetting::alerts-blob-events-metrics$/);
  });

  it('alerts on dead letters of every Event Grid topic the stack creates', () => {
    const deadLetters = {
      'blob-events': [TOPIC_ID, 'Microsoft.EventGrid/systemTopics'],
      'scan-results': [SCAN_TOPIC_ID, 'Microsoft.EventGrid/topics'],
      outcomes: [OUTCOME_TOPIC_ID, 'Microsoft.EventGrid/topics'],
    };
    for (const [topic, [scope, metricNamespace]] of Object.entries(deadLetters)) {
      expect(rule(`dead-letters-${topic}`).inputs.scopes, topic).to.deep.equal([scope]);
      expect(criterion(`dead-letters-${topic}`), topic).to.deep.equal({
        criterionType: 'StaticThresholdCriterion',
        name: 'DeadLetteredCount',
        metricNamespace,
        metricName: 'DeadLetteredCount',
        operator: 'GreaterThan',
        threshold: 0,
        timeAggregation: 'Total',
      });
    }
  });

  it('alerts on outcome events that fail to reach a subscriber or to be published', () => {
    for (const [suffix, metricName] of [
      ['outcome-delivery-failures', 'DeliveryAttemptFailCount'],
      ['outcome-publish-failures', 'PublishFailCount'],
    ]) {
      expect(rule(suffix).inputs.scopes).to.deep.equal([OUTCOME_TOPIC_ID]);
      expect(criterion(suffix)).to.deep.include({
        metricNamespace: 'Microsoft.EventGrid/topics',
        metricName,
        operator: 'GreaterThan',
        threshold: 0,
        timeAggregation: 'Total',
      });
    }
  });

  it('alerts on used capacity above the bound, in bytes', () => {
    expect(rule('upload-capacity').inputs.scopes).to.deep.equal([UPLOAD_ACCOUNT_ID]);
    expect(rule('upload-capacity').inputs).to.deep.include({
      evaluationFrequency: 'PT1H',
      windowSize: 'PT6H',
    });
    expect(criterion('upload-capacity')).to.deep.include({
      metricNamespace: 'Microsoft.Storage/storageAccounts',
      metricName: 'UsedCapacity',
      timeAggregation: 'Average',
      threshold: 250 * 1024 ** 3,
    });
  });

  it('creates every alert rule with the retry for signals Azure does not know yet', () => {
    expect(registeredErrorHooks()).to.include('alerts-retry-not-yet-ready');
    for (const name of [...LOG_RULES, ...METRIC_RULES]) {
      const hooks = options.optionsOf(name)?.hooks?.onError ?? [];
      expect(
        hooks.map((hook) => hook.name),
        name,
      ).to.deep.equal(['alerts-retry-not-yet-ready']);
    }
  });

  it('names functions that exist in registrations.ts', () => {
    const names = registrations.map((r) => r.name);
    for (const name of Object.values(ALERTED_FUNCTIONS)) expect(names).to.include(name);
  });
});

describe('infra Alerts without malware scanning', () => {
  before(async () => {
    await useMocks();
    resetRecorded();
    new Alerts('alerts', {
      resourceGroupName: 'rg',
      location: 'westeurope',
      emails: [],
      appInsightsId: INSIGHTS_ID,
      workspaceId: WORKSPACE_ID,
      blobEventsTopicId: TOPIC_ID,
      outcomeTopicId: OUTCOME_TOPIC_ID,
      uploadAccountId: UPLOAD_ACCOUNT_ID,
      failureRatePercent: 5,
      backlogAgeMinutes: 15,
      usedCapacityGiB: 100,
    });
    await settle();
  });

  it('has no scan alerts, and every other rule', () => {
    const names = [...ofType('monitor:ScheduledQueryRule'), ...ofType('monitor:MetricAlert')].map(
      (r) => r.name,
    );
    expect(names).to.have.members(
      [...LOG_RULES, ...METRIC_RULES].filter(
        (name) =>
          name !== 'alerts-scan-failure-rate' && name !== 'alerts-dead-letters-scan-results',
      ),
    );
  });
});

describe('infra Alerts retry of rules Azure cannot resolve yet', () => {
  before(() => useMocks());

  it('retries "Couldn\'t find a metric named" and unresolved tables, for a bounded number of tries', () => {
    const missingMetric =
      'Code="BadRequest" Message="Couldn\'t find a metric named DeadLetteredCount. Make sure the name is correct."';
    // Kusto's SEM0100 as Azure Monitor returns it for a scheduled query rule's create.
    const missingTable =
      '{"code":"SEM0100","message":"\'where\' operator: Failed to resolve table or column expression named \'AppRequests\'"}';
    const missingColumn =
      "'extend' operator: Failed to resolve column or scalar expression named 'customDimensions'";
    expect(shouldRetryAlertRule([missingMetric])).to.equal(true);
    expect(shouldRetryAlertRule([missingTable])).to.equal(true);
    expect(shouldRetryAlertRule([missingColumn])).to.equal(true);
    expect(shouldRetryAlertRule([missingTable, missingMetric])).to.equal(true);
    expect(
      shouldRetryAlertRule(Array(NOT_YET_READY_RETRY.maxAttempts - 1).fill(missingMetric)),
    ).to.equal(true);
    expect(
      shouldRetryAlertRule(Array(NOT_YET_READY_RETRY.maxAttempts).fill(missingMetric)),
    ).to.equal(false);
    expect(NOT_YET_READY_RETRY.delayMs * NOT_YET_READY_RETRY.maxAttempts).to.equal(10 * 60_000);
  });

  it('fails at once on any other error', () => {
    expect(
      shouldRetryAlertRule(['AuthorizationFailed: the client does not have authorization']),
    ).to.equal(false);
    // The newest error decides: an earlier missing metric does not make a conflict retryable.
    expect(shouldRetryAlertRule(['Conflict', "Couldn't find a metric named X"])).to.equal(false);
    expect(shouldRetryAlertRule([])).to.equal(false);
  });

  it('waits before asking the engine to retry, and answers no retry without waiting', async () => {
    const hook = notYetReadyRetryHook('test-retry', 50);
    const args = { urn: 'u', id: '', name: 'n', type: 't', failedOperation: 'create' };
    let started = Date.now();
    expect(await hook.callback({ ...args, errors: ["Couldn't find a metric named X"] })).to.equal(
      true,
    );
    expect(Date.now() - started).to.be.at.least(45);
    started = Date.now();
    expect(await hook.callback({ ...args, errors: ['Conflict'] })).to.equal(false);
    expect(Date.now() - started).to.be.below(45);
  });
});
