/**
 * A monthly cost budget on the resource group: e-mails and the alerts' action group hear at
 * 80 % and 100 % of actual spend and at 100 % forecast, before a runaway loop gets expensive.
 *
 * Azure refuses budgets on a subscription for up to 48 hours after it is created (Microsoft's
 * budget quickstart, "If you have a new subscription, you can't immediately create a budget"),
 * and azure-native surfaces that as an ordinary create error. So the budget is created last,
 * after everything else it is told to wait for (`after`): on a new subscription the first
 * `pulumi up` deploys the whole stack and fails on the budget alone, an error hook adds what
 * to do, and a later `pulumi up` creates just the budget. A stack may also turn it off
 * (`monthlyBudget: 0`, no CostBudget at all). The refusal's wording is not documented, so the
 * hook explains on any failed create rather than matching one message.
 */
import * as pulumi from '@pulumi/pulumi';
import * as consumption from '@pulumi/azure-native/consumption';

export interface CostBudgetArgs {
  resourceGroupId: pulumi.Input<string>;
  /** Monthly amount, in the billing account's currency. */
  monthlyAmount: number;
  emails: string[];
  actionGroupId: pulumi.Input<string>;
  /** First day of the first budget month; defaults to this month (UTC). */
  startDate?: string;
  /** What is deployed before the budget, so its refusal leaves the rest in place. */
  after?: pulumi.Resource[];
}

/** Thresholds in percent of the amount; a forecast warns before the money is spent. */
export const BUDGET_NOTIFICATIONS = [
  { key: 'actual-80-percent', threshold: 80, thresholdType: 'Actual' },
  { key: 'actual-100-percent', threshold: 100, thresholdType: 'Actual' },
  { key: 'forecast-100-percent', threshold: 100, thresholdType: 'Forecasted' },
] as const;

/** Budgets start on the first of a month (Consumption Budgets REST API, timePeriod). */
export function firstOfMonth(date: Date): string {
  return `${date.toISOString().slice(0, 7)}-01T00:00:00Z`;
}

/** What the operator reads under Azure's own error when the budget cannot be created. */
export const BUDGET_REFUSED_MESSAGE = [
  'The cost budget could not be created (the error above); everything else in the stack is deployed.',
  'Azure refuses budgets on a subscription for up to 48 hours after it is created:',
  'if this subscription is that new, wait and run pulumi up again, which then creates only the budget.',
  'Otherwise (e.g. an offer type without Cost Management budgets), or to deploy without one now,',
  'run pulumi config set monthlyBudget 0.',
].join(' ');

/** Logs the explanation and lets the create fail: a retry within 48 hours would not help. */
export function budgetRefusedHook(name: string, log: (message: string) => void = pulumi.log.error) {
  return new pulumi.ErrorHook(name, ({ failedOperation }) => {
    if (failedOperation === 'create') log(BUDGET_REFUSED_MESSAGE);
    return false;
  });
}

export class CostBudget extends pulumi.ComponentResource {
  readonly budgetName: pulumi.Output<string>;

  constructor(name: string, args: CostBudgetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:CostBudget', name, {}, opts);
    const budget = new consumption.Budget(
      name,
      {
        budgetName: 'directdrop-monthly',
        scope: args.resourceGroupId,
        amount: args.monthlyAmount,
        category: consumption.CategoryType.Cost,
        timeGrain: consumption.TimeGrainType.Monthly,
        timePeriod: { startDate: args.startDate ?? firstOfMonth(new Date()) },
        notifications: Object.fromEntries(
          BUDGET_NOTIFICATIONS.map(({ key, threshold, thresholdType }) => [
            key,
            {
              enabled: true,
              operator: consumption.OperatorType.GreaterThanOrEqualTo,
              threshold,
              thresholdType,
              contactEmails: args.emails,
              contactGroups: [args.actionGroupId],
            },
          ]),
        ),
      },
      {
        parent: this,
        dependsOn: args.after ?? [],
        hooks: { onError: [budgetRefusedHook(`${name}-refused`)] },
        // The start date is fixed once created; recomputing it each month would be a diff.
        ignoreChanges: ['timePeriod'],
      },
    );
    this.budgetName = budget.name;
    this.registerOutputs({ budgetName: this.budgetName });
  }
}
