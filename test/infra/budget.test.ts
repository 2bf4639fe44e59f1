import { expect } from 'chai';
import { BUDGET_NOTIFICATIONS, CostBudget, firstOfMonth } from '../../infra/budget';
import {
  ofType,
  optionsRecorder,
  resetRecorded,
  settle,
  single,
  useMocks,
} from './helpers/pulumi-mocks';

const GROUP_ID = '/subscriptions/s/resourceGroups/directdrop-prod';
const ACTION_GROUP_ID = `${GROUP_ID}/providers/Microsoft.Insights/actionGroups/alerts`;

describe('infra CostBudget', () => {
  const options = optionsRecorder();

  before(async () => {
    await useMocks();
    resetRecorded();
    new CostBudget(
      'budget',
      {
        resourceGroupId: GROUP_ID,
        monthlyAmount: 120,
        emails: ['ops@example.com'],
        actionGroupId: ACTION_GROUP_ID,
        startDate: '2026-12-01T00:00:00Z',
      },
      { transformations: options.transformations },
    );
    await settle();
  });

  it('registers as a directdrop:index:CostBudget component', () => {
    expect(ofType('directdrop:index:CostBudget').map((r) => r.name)).to.deep.equal(['budget']);
  });

  it('budgets the resource group monthly, notifying at 80 % and 100 % actual and 100 % forecast', () => {
    const notice = (threshold: number, thresholdType: string) => ({
      enabled: true,
      operator: 'GreaterThanOrEqualTo',
      threshold,
      thresholdType,
      contactEmails: ['ops@example.com'],
      contactGroups: [ACTION_GROUP_ID],
    });
    expect(single('consumption:Budget').inputs).to.deep.equal({
      budgetName: 'directdrop-monthly',
      scope: GROUP_ID,
      amount: 120,
      category: 'Cost',
      timeGrain: 'Monthly',
      timePeriod: { startDate: '2026-12-01T00:00:00Z' },
      notifications: {
        'actual-80-percent': notice(80, 'Actual'),
        'actual-100-percent': notice(100, 'Actual'),
        'forecast-100-percent': notice(100, 'Forecasted'),
      },
    });
    expect(BUDGET_NOTIFICATIONS).to.have.length(3);
  });

  it('keeps the start date it was created with', () => {
    expect(options.optionsOf('budget')?.ignoreChanges).to.deep.equal(['timePeriod']);
  });

  it('starts on the first of the month, in UTC', () => {
    expect(firstOfMonth(new Date('2027-03-31T23:30:00Z'))).to.equal('2027-03-01T00:00:00Z');
    expect(firstOfMonth(new Date('2027-01-01T00:00:00Z'))).to.equal('2027-01-01T00:00:00Z');
  });
});
