import { expect } from 'chai';
import { Monitoring } from '../../infra/monitoring';
import { ofType, resetRecorded, settle, single, useMocks, valueOf } from './helpers/pulumi-mocks';

describe('infra Monitoring', () => {
  let monitoring: Monitoring;

  before(async () => {
    await useMocks();
    resetRecorded();
    monitoring = new Monitoring('mon', {
      resourceGroupName: 'rg',
      location: 'swedencentral',
      logRetentionDays: 90,
    });
    await settle();
  });

  it('registers as a directdrop:index:Monitoring component', () => {
    expect(ofType('directdrop:index:Monitoring').map((r) => r.name)).to.deep.equal(['mon']);
  });

  it('keeps logs in a pay-as-you-go Log Analytics workspace for the configured days', () => {
    expect(single('operationalinsights:Workspace').inputs).to.deep.include({
      sku: { name: 'PerGB2018' },
      retentionInDays: 90,
      features: { disableLocalAuth: true },
    });
  });

  it('puts Application Insights on that workspace with key (local) auth disabled', async () => {
    const workspace = single('operationalinsights:Workspace');
    const insights = single('applicationinsights:Component');
    expect(insights.inputs).to.deep.include({
      kind: 'web',
      applicationType: 'web',
      workspaceResourceId: workspace.id,
      ingestionMode: 'LogAnalytics',
      disableLocalAuth: true,
    });
    expect(await valueOf(monitoring.appInsightsId)).to.equal(insights.id);
    expect(await valueOf(monitoring.appInsightsConnectionString)).to.match(/^InstrumentationKey=/);
  });
});
