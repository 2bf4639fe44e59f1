/**
 * What tells the operator something is wrong: one action group (e-mail) and alert rules for
 * poisoned messages and failed outcomes, the function failure rate, the age of the events
 * backlog, events that wait with no invocation at all (the trigger stopped), the share of
 * scan-timeout and scan-failed outcomes, dead letters of every Event Grid topic the stack
 * creates, outcome events that cannot be delivered or published, and the upload account's
 * used capacity.
 */
import * as pulumi from '@pulumi/pulumi';
import * as monitor from '@pulumi/azure-native/monitor';

export interface AlertsArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  /** Who is e-mailed; may be empty in development (alerts then show in the portal only). */
  emails: string[];
  appInsightsId: pulumi.Input<string>;
  /** The Log Analytics workspace behind Application Insights. */
  workspaceId: pulumi.Input<string>;
  /** The upload account's system topic (BlobCreated into the events queue). */
  blobEventsTopicId: pulumi.Input<string>;
  /** The Defender results topic; set when the stack scans uploads. */
  scanResultsTopicId?: pulumi.Input<string>;
  /** The outcome topic, whose subscribers are the application's. */
  outcomeTopicId: pulumi.Input<string>;
  uploadAccountId: pulumi.Input<string>;
  /** Failed invocations, in percent of all, above which the failure-rate alert fires. */
  failureRatePercent: number;
  /** Minutes a message may wait in the events queue before it is picked up. */
  backlogAgeMinutes: number;
  /** Used capacity of the upload account, in GiB, above which the capacity alert fires. */
  usedCapacityGiB: number;
  /** Share of outcomes ending scan-timeout or scan-failed above which to alert; with scanning only. */
  scanFailurePercent?: number;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The functions the queries name (functions/registrations.ts; a test keeps them equal). */
export const ALERTED_FUNCTIONS = {
  processUpload: 'processUploadEvent',
  recordPoisoned: 'recordPoisonedEvent',
} as const;

/** Fewer invocations than this in a window say nothing about a failure rate. */
export const FAILURE_RATE_MIN_INVOCATIONS = 20;
/** Fewer outcomes than this in a window say nothing about a share of scan failures. */
export const SCAN_FAILURE_MIN_OUTCOMES = 5;

/**
 * The worker's outcome log lines (functions/handlers/process-upload.ts and scan-gate.ts):
 * `Upload <id>: processed`, `Upload <id>: rejected (<reason>)`, and from the scan gate
 * `Upload <id>: failed (scan-timeout|scan-failed) by the malware scan gate`. A test matches
 * these patterns against those lines; change both together.
 */
export const OUTCOME_LINE = String.raw`^Upload \S+: (processed|rejected|failed)\b`;
export const SCAN_FAILURE_LINE = String.raw`^Upload \S+: failed \((scan-timeout|scan-failed)\)`;

/** Log (KQL) queries over the Application Insights tables, one per log alert. */
export const ALERT_QUERIES = {
  // Each message in the poison queue runs recordPoisonedEvent, the only writer of `failed`
  // outcomes, so its invocations count both.
  poisoned: `requests | where operation_Name == "${ALERTED_FUNCTIONS.recordPoisoned}"`,
  failureRate: `requests | summarize total = count(), failed = countif(success == false) | where total >= ${FAILURE_RATE_MIN_INVOCATIONS} | extend failurePercent = 100.0 * failed / total`,
  // The queue extension logs "Trigger Details: MessageId: …, DequeueCount: …, InsertedOn: …"
  // for each invocation (WebJobs SDK; format confidence medium), so the age is now − InsertedOn.
  backlogAge: `traces | where operation_Name == "${ALERTED_FUNCTIONS.processUpload}" and message startswith "Trigger Details:" | extend insertedOn = todatetime(extract(@"InsertedOn: ([^,]+)", 1, message)) | where isnotnull(insertedOn) | summarize ageMinutes = max(datetime_diff('second', timestamp, insertedOn)) / 60.0`,
  // The Defender cap hit under scanUnverifiedPolicy fail, or verdicts that stopped coming,
  // end every upload this way while every function invocation still succeeds.
  scanFailures: `traces | where message matches regex @"${OUTCOME_LINE}" | summarize outcomes = count(), scanFailures = countif(message matches regex @"${SCAN_FAILURE_LINE}") | where outcomes >= ${SCAN_FAILURE_MIN_OUTCOMES} | extend scanFailurePercent = 100.0 * scanFailures / outcomes`,
} as const;

/**
 * Events Event Grid delivered into the queue (its DeliverySuccessCount, in the workspace's
 * AzureMetrics through the topic's diagnostic setting) that no processUploadEvent invocation
 * has followed (AppRequests, the workspace table of Application Insights requests) for more
 * than `minutes`: the trigger stopped, so the backlog-age alert, which needs pickups, hears
 * nothing. A workspace query, as the two tables live in one workspace.
 */
export function triggerStalledQuery(
  blobEventsTopicId: pulumi.Input<string>,
  minutes: number,
): pulumi.Output<string> {
  return pulumi.interpolate`let lastInvocation = toscalar(AppRequests | where OperationName == "${ALERTED_FUNCTIONS.processUpload}" | summarize max(TimeGenerated)); AzureMetrics | where ResourceId =~ "${blobEventsTopicId}" and MetricName == "DeliverySuccessCount" and Total > 0 | where isnull(lastInvocation) or TimeGenerated > lastInvocation | summarize oldestWaiting = min(TimeGenerated) | where oldestWaiting < ago(${minutes}m)`;
}

/**
 * A metric alert created minutes after its resource can fail with "Couldn't find a metric
 * named …" until Azure Monitor knows the new resource's metrics
 * (hashicorp/terraform-provider-azurerm#22210), and a log alert whose table the new
 * workspace has not seen yet with Kusto's SEM0100, "'where' operator: Failed to resolve
 * table or column expression named '…'" (as CDCgov/prime-reportstream#11773 quotes it; also
 * "column or scalar"). Both pass on a later try, so the rule is retried on those
 * errors alone, every 30 s for up to 10 minutes, within the same `pulumi up` (an onError
 * hook: the engine retries the create while the hook says so). A wait for the metric
 * definitions would need its own ARM calls and credentials in a command; the retry reacts
 * to the very error.
 */
export const NOT_YET_READY_RETRY = { delayMs: 30_000, maxAttempts: 20 } as const;
const NOT_YET_READY = [
  /Couldn't find a metric named/i,
  /Failed to resolve (?:table|column|scalar)(?: or (?:table|column|scalar))? expression named/i,
];

/** Whether an alert rule's create should be tried again; `errors` is newest first. */
export function shouldRetryAlertRule(
  errors: readonly string[],
  maxAttempts: number = NOT_YET_READY_RETRY.maxAttempts,
): boolean {
  const latest = errors[0] ?? '';
  return errors.length < maxAttempts && NOT_YET_READY.some((pattern) => pattern.test(latest));
}

/** The hook every alert rule is created with; its name must be unique in the program. */
export function notYetReadyRetryHook(
  name: string,
  delayMs: number = NOT_YET_READY_RETRY.delayMs,
): pulumi.ErrorHook {
  return new pulumi.ErrorHook(name, async ({ errors }) => {
    if (!shouldRetryAlertRule(errors)) return false;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return true;
  });
}

const GIB = 1024 ** 3;

export class Alerts extends pulumi.ComponentResource {
  readonly actionGroupId: pulumi.Output<string>;

  constructor(name: string, args: AlertsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:Alerts', name, {}, opts);
    const child = { parent: this };
    const inGroup = { resourceGroupName: args.resourceGroupName, tags: args.tags };
    const retry = notYetReadyRetryHook(`${name}-retry-not-yet-ready`);
    const rule = (dependsOn: pulumi.Resource[] = []) => ({
      ...child,
      dependsOn,
      hooks: { onError: [retry] },
    });

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
      ruleName: string,
      description: string,
      severity: number,
      condition: monitor.ScheduledQueryRuleArgs['criteria'],
      target: {
        scope: pulumi.Input<string>;
        evaluationFrequency: string;
        windowSize: string;
        dependsOn?: pulumi.Resource[];
      } = { scope: args.appInsightsId, evaluationFrequency: 'PT5M', windowSize: 'PT15M' },
    ) =>
      new monitor.ScheduledQueryRule(
        `${name}-${ruleName}`,
        {
          ...inGroup,
          location: args.location,
          kind: monitor.Kind.LogAlert,
          description,
          severity,
          enabled: true,
          scopes: [target.scope],
          evaluationFrequency: target.evaluationFrequency,
          windowSize: target.windowSize,
          criteria: condition,
          autoMitigate: true,
          actions: { actionGroups: [actionGroup.id] },
        },
        rule(target.dependsOn),
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
    if (args.scanFailurePercent !== undefined) {
      logAlert(
        'scan-failure-rate',
        `More than ${args.scanFailurePercent} % of outcomes were scan-timeout or scan-failed (Defender's monthly cap, or verdicts not arriving)`,
        1,
        {
          allOf: [
            {
              query: ALERT_QUERIES.scanFailures,
              timeAggregation: monitor.TimeAggregation.Maximum,
              metricMeasureColumn: 'scanFailurePercent',
              operator: greaterThan,
              threshold: args.scanFailurePercent,
              failingPeriods: once,
            },
          ],
        },
      );
    }

    // Event Grid's metrics reach the workspace only through a diagnostic setting.
    const blobEventsMetrics = new monitor.DiagnosticSetting(
      `${name}-blob-events-metrics`,
      {
        name: 'directdrop-metrics-to-logs',
        resourceUri: args.blobEventsTopicId,
        workspaceId: args.workspaceId,
        metrics: [{ category: 'AllMetrics', enabled: true }],
      },
      child,
    );
    logAlert(
      'events-trigger-stalled',
      `Upload events have waited more than ${args.backlogAgeMinutes} minutes with no processUploadEvent invocation since: the queue trigger is not running`,
      1,
      {
        allOf: [
          {
            query: triggerStalledQuery(args.blobEventsTopicId, args.backlogAgeMinutes),
            timeAggregation: monitor.TimeAggregation.Count,
            operator: greaterThan,
            threshold: 0,
            failingPeriods: once,
          },
        ],
      },
      // Two days hold the longest configurable wait (alertBacklogAgeMinutes, a day) and more.
      {
        scope: args.workspaceId,
        evaluationFrequency: 'PT5M',
        windowSize: 'P2D',
        dependsOn: [blobEventsMetrics],
      },
    );

    const metricAlert = (
      ruleName: string,
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
        `${name}-${ruleName}`,
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
        rule(),
      );
    const quarterHour = { evaluationFrequency: 'PT5M', windowSize: 'PT15M' };
    const anyOf = (metricNamespace: string, metricName: string) => ({
      metricNamespace,
      metricName,
      timeAggregation: 'Total',
      threshold: 0,
    });

    // Event Grid topic metrics (learn.microsoft.com event-grid metrics): each dead-lettered event
    // is a blob written to the dead-letter container, under the topic's and subscription's name.
    const deadLetterTopics = [
      { topic: 'blob-events', id: args.blobEventsTopicId, kind: 'systemTopics', what: 'upload' },
      ...(args.scanResultsTopicId
        ? [
            {
              topic: 'scan-results',
              id: args.scanResultsTopicId,
              kind: 'topics',
              what: 'scan result',
            },
          ]
        : []),
      { topic: 'outcomes', id: args.outcomeTopicId, kind: 'topics', what: 'outcome' },
    ];
    for (const { topic, id, kind, what } of deadLetterTopics) {
      metricAlert(
        `dead-letters-${topic}`,
        `Event Grid dead-lettered ${what} events (see the dead-letter container)`,
        1,
        id,
        quarterHour,
        anyOf(`Microsoft.EventGrid/${kind}`, 'DeadLetteredCount'),
      );
    }
    metricAlert(
      'outcome-delivery-failures',
      'Event Grid failed to deliver outcome events to a subscriber (it retries, then dead-letters)',
      2,
      args.outcomeTopicId,
      quarterHour,
      anyOf('Microsoft.EventGrid/topics', 'DeliveryAttemptFailCount'),
    );
    metricAlert(
      'outcome-publish-failures',
      'The function app could not publish outcome events to the outcome topic',
      2,
      args.outcomeTopicId,
      quarterHour,
      anyOf('Microsoft.EventGrid/topics', 'PublishFailCount'),
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
