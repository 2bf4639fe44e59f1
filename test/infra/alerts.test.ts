import { expect } from 'chai';
import { registrations } from '../../functions/registrations';
import { ALERTED_FUNCTIONS, ALERT_QUERIES, Alerts } from '../../infra/alerts';
import {
  type RecordedResource,
  UPLOAD_ACCOUNT_ID,
  ofType,
  resetRecorded,
  settle,
  single,
  useMocks,
  valueOf,
} from './helpers/pulumi-mocks';

const INSIGHTS_ID =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/components/insights';
const TOPIC_ID =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventGrid/systemTopics/topic';

describe('infra Alerts', () => {
  let alerts: Alerts;
  let actionGroup: RecordedResource;
  const rule = (suffix: string) =>
    [...ofType('monitor:ScheduledQueryRule'), ...ofType('monitor:MetricAlert')].find(
      (r) => r.name === `alerts-${suffix}`,
    ) as RecordedResource;

  before(async () => {
    await useMocks();
    resetRecorded();
    alerts = new Alerts('alerts', {
      resourceGroupName: 'rg',
      location: 'westeurope',
      emails: ['ops@example.com', 'oncall@example.org'],
      appInsightsId: INSIGHTS_ID,
      eventGridSystemTopicId: TOPIC_ID,
      uploadAccountId: UPLOAD_ACCOUNT_ID,
      failureRatePercent: 3,
      backlogAgeMinutes: 12,
      usedCapacityGiB: 250,
    });
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

  it('has exactly the five alert rules, each wired to the action group', () => {
    const logRules = ofType('monitor:ScheduledQueryRule');
    const metricRules = ofType('monitor:MetricAlert');
    expect(logRules.map((r) => r.name)).to.have.members([
      'alerts-poisoned-uploads',
      'alerts-function-failure-rate',
      'alerts-events-backlog-age',
    ]);
    expect(metricRules.map((r) => r.name)).to.have.members([
      'alerts-dead-letters',
      'alerts-upload-capacity',
    ]);
    for (const r of logRules) {
      expect(r.inputs.actions, r.name).to.deep.equal({ actionGroups: [actionGroup.id] });
      expect(r.inputs).to.deep.include({
        kind: 'LogAlert',
        enabled: true,
        scopes: [INSIGHTS_ID],
        evaluationFrequency: 'PT5M',
        windowSize: 'PT15M',
        location: 'westeurope',
      });
    }
    for (const r of metricRules) {
      expect(r.inputs.actions, r.name).to.deep.equal([{ actionGroupId: actionGroup.id }]);
      expect(r.inputs).to.deep.include({ enabled: true, location: 'global' });
    }
  });

  it('alerts on any poisoned upload or failed outcome', () => {
    const [condition] = (rule('poisoned-uploads').inputs.criteria as { allOf: unknown[] }).allOf;
    expect(condition).to.deep.equal({
      query: ALERT_QUERIES.poisoned,
      timeAggregation: 'Count',
      operator: 'GreaterThan',
      threshold: 0,
      failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
    });
    expect(ALERT_QUERIES.poisoned).to.contain(`operation_Name == "recordPoisonedEvent"`);
  });

  it('alerts on the configured failure rate and backlog age', () => {
    const condition = (suffix: string) =>
      (rule(suffix).inputs.criteria as { allOf: Record<string, unknown>[] }).allOf[0];
    expect(condition('function-failure-rate')).to.deep.include({
      query: ALERT_QUERIES.failureRate,
      timeAggregation: 'Maximum',
      metricMeasureColumn: 'failurePercent',
      operator: 'GreaterThan',
      threshold: 3,
    });
    expect(condition('events-backlog-age')).to.deep.include({
      query: ALERT_QUERIES.backlogAge,
      metricMeasureColumn: 'ageMinutes',
      threshold: 12,
    });
  });

  it('alerts on dead-lettered events and on used capacity above the bound, in bytes', () => {
    const criterion = (suffix: string) =>
      (rule(suffix).inputs.criteria as { allOf: Record<string, unknown>[] }).allOf[0];
    expect(rule('dead-letters').inputs.scopes).to.deep.equal([TOPIC_ID]);
    expect(criterion('dead-letters')).to.deep.equal({
      criterionType: 'StaticThresholdCriterion',
      name: 'DeadLetteredCount',
      metricNamespace: 'Microsoft.EventGrid/systemTopics',
      metricName: 'DeadLetteredCount',
      operator: 'GreaterThan',
      threshold: 0,
      timeAggregation: 'Total',
    });
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

  it('names functions that exist in registrations.ts', () => {
    const names = registrations.map((r) => r.name);
    for (const name of Object.values(ALERTED_FUNCTIONS)) expect(names).to.include(name);
  });
});
