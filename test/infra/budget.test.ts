import { expect } from 'chai';
import * as pulumi from '@pulumi/pulumi';
import {
  BUDGET_NOTIFICATIONS,
  BUDGET_REFUSED_MESSAGE,
  CostBudget,
  budgetRefusedHook,
  firstOfMonth,
} from '../../infra/budget';
import {
  ofType,
  optionsRecorder,
  registeredErrorHooks,
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
    const before = new pulumi.ComponentResource('test:index:Stack', 'rest-of-stack');
    new CostBudget(
      'budget',
      {
        resourceGroupId: GROUP_ID,
        monthlyAmount: 120,
        emails: ['ops@example.com'],
        actionGroupId: ACTION_GROUP_ID,
        startDate: '2026-12-01T00:00:00Z',
        after: [before],
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

  it('is created after everything it is told to wait for, so a refusal leaves the stack deployed', async () => {
    const urns = await options.dependsOnUrns('budget');
    expect(urns).to.have.length(1);
    expect(urns[0]).to.match(/test:index:Stack::rest-of-stack$/);
  });

  it('explains a refused create: wait 48 hours and run pulumi up again, or monthlyBudget 0', () => {
    expect(registeredErrorHooks()).to.include('budget-refused');
    const hooks = options.optionsOf('budget')?.hooks?.onError ?? [];
    expect(hooks.map((hook) => hook.name)).to.deep.equal(['budget-refused']);
    for (const part of ['48 hours', 'run pulumi up again', 'pulumi config set monthlyBudget 0'])
      expect(BUDGET_REFUSED_MESSAGE).to.contain(part);
  });

  it('logs the explanation once per refused create and never retries it', async () => {
    const logged: string[] = [];
    const hook = budgetRefusedHook('test-budget-refused', (message) => logged.push(message));
    const args = { urn: 'u', id: '', name: 'budget', type: 'azure-native:consumption:Budget' };
    expect(await hook.callback({ ...args, failedOperation: 'create', errors: ['400'] })).to.equal(
      false,
    );
    expect(await hook.callback({ ...args, failedOperation: 'update', errors: ['409'] })).to.equal(
      false,
    );
    expect(logged).to.deep.equal([BUDGET_REFUSED_MESSAGE]);
  });

  it('starts on the first of the month, in UTC', () => {
    expect(firstOfMonth(new Date('2027-03-31T23:30:00Z'))).to.equal('2027-03-01T00:00:00Z');
    expect(firstOfMonth(new Date('2027-01-01T00:00:00Z'))).to.equal('2027-01-01T00:00:00Z');
  });
});
