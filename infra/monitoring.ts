/**
 * Application Insights on a Log Analytics workspace. Local (key) auth is off, so the
 * function app sends telemetry with its managed identity.
 */
import * as pulumi from '@pulumi/pulumi';
import * as applicationinsights from '@pulumi/azure-native/applicationinsights';
import * as operationalinsights from '@pulumi/azure-native/operationalinsights';

export interface MonitoringArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  logRetentionDays: number;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class Monitoring extends pulumi.ComponentResource {
  readonly workspaceId: pulumi.Output<string>;
  readonly appInsightsId: pulumi.Output<string>;
  readonly appInsightsName: pulumi.Output<string>;
  /** Locates the component; it grants nothing while local auth is disabled. */
  readonly appInsightsConnectionString: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:Monitoring', name, {}, opts);
    const child = { parent: this };
    const placement = {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      tags: args.tags,
    };

    const workspace = new operationalinsights.Workspace(
      `${name}-logs`,
      {
        ...placement,
        sku: { name: operationalinsights.WorkspaceSkuNameEnum.PerGB2018 },
        retentionInDays: args.logRetentionDays,
        features: { disableLocalAuth: true },
      },
      child,
    );

    const appInsights = new applicationinsights.Component(
      `${name}-insights`,
      {
        ...placement,
        kind: 'web',
        applicationType: applicationinsights.ApplicationType.Web,
        workspaceResourceId: workspace.id,
        ingestionMode: applicationinsights.IngestionMode.LogAnalytics,
        disableLocalAuth: true,
      },
      child,
    );

    this.workspaceId = workspace.id;
    this.appInsightsId = appInsights.id;
    this.appInsightsName = appInsights.name;
    this.appInsightsConnectionString = appInsights.connectionString;
    this.registerOutputs({
      workspaceId: this.workspaceId,
      appInsightsId: this.appInsightsId,
      appInsightsName: this.appInsightsName,
    });
  }
}
