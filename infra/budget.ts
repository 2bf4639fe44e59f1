/**
 * A monthly cost budget on the resource group: e-mails and the alerts' action group hear at
 * 80 % and 100 % of actual spend and at 100 % forecast, before a runaway loop gets expensive.
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
      // The start date is fixed once created; recomputing it each month would be a diff.
      { parent: this, ignoreChanges: ['timePeriod'] },
    );
    this.budgetName = budget.name;
    this.registerOutputs({ budgetName: this.budgetName });
  }
}
