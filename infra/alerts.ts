/**
 * What tells the operator something is wrong: one action group (e-mail) and alert rules for
 * poisoned messages and failed outcomes, Event Grid dead letters, the function failure rate,
 * the age of the events backlog, and the upload account's used capacity.
 */
import * as pulumi from '@pulumi/pulumi';
import * as monitor from '@pulumi/azure-native/monitor';

export interface AlertsArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  /** Who is e-mailed; may be empty in development (alerts then show in the portal only). */
  emails: string[];
  appInsightsId: pulumi.Input<string>;
  eventGridSystemTopicId: pulumi.Input<string>;
  uploadAccountId: pulumi.Input<string>;
  /** Failed invocations, in percent of all, above which the failure-rate alert fires. */
  failureRatePercent: number;
  /** Minutes a message may wait in the events queue before it is picked up. */
  backlogAgeMinutes: number;
  /** Used capacity of the upload account, in GiB, above which the capacity alert fires. */
  usedCapacityGiB: number;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The functions the queries name (functions/registrations.ts; a test keeps them equal). */
export const ALERTED_FUNCTIONS = {
  processUpload: 'processUploadEvent',
  recordPoisoned: 'recordPoisonedEvent',
} as const;

/** Fewer invocations than this in a window say nothing about a failure rate. */
export const FAILURE_RATE_MIN_INVOCATIONS = 20;

/** Log (KQL) queries over the Application Insights tables, one per log alert. */
export const ALERT_QUERIES = {
  // Each message in the poison queue runs recordPoisonedEvent, the only writer of `failed`
  // outcomes, so its invocations count both.
  poisoned: `requests | where operation_Name == "${ALERTED_FUNCTIONS.recordPoisoned}"`,
  failureRate: `requests | summarize total = count(), failed = countif(success == false) | where total >= ${FAILURE_RATE_MIN_INVOCATIONS} | extend failurePercent = 100.0 * failed / total`,
  // The queue extension logs "Trigger Details: MessageId: …, DequeueCount: …, InsertedOn: …"
  // for each invocation (WebJobs SDK; format confidence medium), so the age is now − InsertedOn.
  backlogAge: `traces | where operation_Name == "${ALERTED_FUNCTIONS.processUpload}" and message startswith "Trigger Details:" | extend insertedOn = todatetime(extract(@"InsertedOn: ([^,]+)", 1, message)) | where isnotnull(insertedOn) | summarize ageMinutes = max(datetime_diff('second', timestamp, insertedOn)) / 60.0`,
} as const;

const GIB = 1024 ** 3;

export class Alerts extends pulumi.ComponentResource {
  readonly actionGroupId: pulumi.Output<string>;

  constructor(name: string, args: AlertsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:Alerts', name, {}, opts);
    const child = { parent: this };
    const inGroup = { resourceGroupName: args.resourceGroupName, tags: args.tags };

    const actionGroup = new monitor.ActionGroup(
      `${name}-action-group`,
      {
        ...inGroup,
        location: 'Global',
        groupShortName: 'directdrop',
        enabled: true,
        emailReceivers: args.emails.map((emailAddress, index) => ({
          name: `email-${index + 1}`,
          emailAddress,
          useCommonAlertSchema: true,
        })),
      },
      child,
    );

    const logAlert = (
      rule: string,
      description: string,
      severity: number,
      condition: monitor.ScheduledQueryRuleArgs['criteria'],
    ) =>
      new monitor.ScheduledQueryRule(
        `${name}-${rule}`,
        {
          ...inGroup,
          location: args.location,
          kind: monitor.Kind.LogAlert,
          description,
          severity,
          enabled: true,
          scopes: [args.appInsightsId],
          evaluationFrequency: 'PT5M',
          windowSize: 'PT15M',
          criteria: condition,
          autoMitigate: true,
          actions: { actionGroups: [actionGroup.id] },
        },
        child,
      );
    const once = { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 };
    // scheduledQueryRules take "GreaterThan" (ARM reference, Microsoft.Insights/scheduledQueryRules);
    // azure-native's monitor.ConditionOperator enum is another API's ("gt").
    const greaterThan = 'GreaterThan';

    logAlert('poisoned-uploads', 'An upload failed after all its retries (poison queue)', 2, {
      allOf: [
        {
          query: ALERT_QUERIES.poisoned,
          timeAggregation: monitor.TimeAggregation.Count,
          operator: greaterThan,
          threshold: 0,
          failingPeriods: once,
        },
      ],
    });
    logAlert(
      'function-failure-rate',
      `More than ${args.failureRatePercent} % of function invocations failed`,
      1,
      {
        allOf: [
          {
            query: ALERT_QUERIES.failureRate,
            timeAggregation: monitor.TimeAggregation.Maximum,
            metricMeasureColumn: 'failurePercent',
            operator: greaterThan,
            threshold: args.failureRatePercent,
            failingPeriods: once,
          },
        ],
      },
    );
    logAlert(
      'events-backlog-age',
      `Upload events waited more than ${args.backlogAgeMinutes} minutes in the queue`,
      2,
      {
        allOf: [
          {
            query: ALERT_QUERIES.backlogAge,
            timeAggregation: monitor.TimeAggregation.Maximum,
            metricMeasureColumn: 'ageMinutes',
            operator: greaterThan,
            threshold: args.backlogAgeMinutes,
            failingPeriods: once,
          },
        ],
      },
    );

    const metricAlert = (
      rule: string,
      description: string,
      severity: number,
      scope: pulumi.Input<string>,
      window: { evaluationFrequency: string; windowSize: string },
      criterion: {
        metricNamespace: string;
        metricName: string;
        timeAggregation: string;
        threshold: number;
      },
    ) =>
      new monitor.MetricAlert(
        `${name}-${rule}`,
        {
          ...inGroup,
          location: 'global',
          description,
          severity,
          enabled: true,
          scopes: [scope],
          ...window,
          criteria: {
            odataType: 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria',
            allOf: [
              {
                criterionType: 'StaticThresholdCriterion',
                name: criterion.metricName,
                metricNamespace: criterion.metricNamespace,
                metricName: criterion.metricName,
                operator: monitor.Operator.GreaterThan,
                threshold: criterion.threshold,
                timeAggregation: criterion.timeAggregation,
              },
            ],
          },
          autoMitigate: true,
          actions: [{ actionGroupId: actionGroup.id }],
        },
        child,
      );

    // Event Grid system topic metric (learn.microsoft.com event-grid metrics): each dead-lettered
    // event is a blob written to the dead-letter container.
    metricAlert(
      'dead-letters',
      'Event Grid dead-lettered upload events (see the dead-letter container)',
      1,
      args.eventGridSystemTopicId,
      { evaluationFrequency: 'PT5M', windowSize: 'PT15M' },
      {
        metricNamespace: 'Microsoft.EventGrid/systemTopics',
        metricName: 'DeadLetteredCount',
        timeAggregation: 'Total',
        threshold: 0,
      },
    );
    // UsedCapacity is reported hourly (storage monitoring reference); six hours always hold one.
    metricAlert(
      'upload-capacity',
      `The upload storage account holds more than ${args.usedCapacityGiB} GiB`,
      3,
      args.uploadAccountId,
      { evaluationFrequency: 'PT1H', windowSize: 'PT6H' },
      {
        metricNamespace: 'Microsoft.Storage/storageAccounts',
        metricName: 'UsedCapacity',
        timeAggregation: 'Average',
        threshold: args.usedCapacityGiB * GIB,
      },
    );

    this.actionGroupId = actionGroup.id;
    this.registerOutputs({ actionGroupId: this.actionGroupId });
  }
}
