/**
 * The upload data plane: one Entra-only storage account holding the private landing,
 * processed and dead-letter containers, the events and reprocess queues with their poison queues,
 * the upload table (quotas, upload records, each owner's upload index), the CORS rule for
 * browser PUTs, and the lifecycle rules that clear old uploads.
 */
import * as pulumi from '@pulumi/pulumi';
import * as storage from '@pulumi/azure-native/storage';
import { poisonQueueName, uploadCorsRule } from '../functions/core/definitions';
import { type DropZone, dropZoneContainer } from '../functions/core/settings';
import { createSecureStorageAccount } from './secure-storage-account';

/** Every blob type lifecycle management can delete. */
export const SWEPT_BLOB_TYPES = ['blockBlob', 'appendBlob'] as const;

export interface UploadStorageArgs {
  resourceGroupName: pulumi.Input<string>;
  location: pulumi.Input<string>;
  /** Origins whose pages may PUT uploads straight to Blob Storage. */
  allowedCorsOrigins: string[];
  landingContainer: string;
  processedContainer: string;
  deadLetterContainer: string;
  eventsQueue: string;
  /** Table of quota counters, upload records and each owner's upload index. */
  uploadTable: string;
  /** Upload-only containers, each deleting blobs after its own retention. */
  dropZones?: readonly DropZone[];
  /** Reprocessing work items, from the operator's command only; no Event Grid delivers here. */
  reprocessQueue: string;
  /** Landing blobs older than this are deleted: abandoned and rejected uploads. */
  uploadRetentionDays: number;
  /** Event Grid dead letters older than this are deleted. */
  deadLetterRetentionDays: number;
  /** Processed outputs and manifests older than this are deleted; 0 or unset keeps them. */
  processedRetentionDays?: number;
  /** A private originals container, with its own retention, for stacks that keep originals. */
  originals?: { containerName: string; retentionDays: number };
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class UploadStorage extends pulumi.ComponentResource {
  readonly accountName: pulumi.Output<string>;
  readonly accountId: pulumi.Output<string>;
  /** e.g. https://<account>.blob.core.windows.net, no trailing slash. */
  readonly blobServiceUri: pulumi.Output<string>;
  readonly queueServiceUri: pulumi.Output<string>;
  readonly tableServiceUri: pulumi.Output<string>;
  readonly uploadTableName: pulumi.Output<string>;
  readonly dropZoneContainerNames: pulumi.Output<string>[];
  readonly landingContainerName: pulumi.Output<string>;
  readonly processedContainerName: pulumi.Output<string>;
  readonly deadLetterContainerName: pulumi.Output<string>;
  /** Undefined unless the stack keeps originals. */
  readonly originalsContainerName: pulumi.Output<string> | undefined;
  readonly eventsQueueName: pulumi.Output<string>;
  readonly poisonQueueName: pulumi.Output<string>;
  readonly reprocessQueueName: pulumi.Output<string>;
  readonly reprocessPoisonQueueName: pulumi.Output<string>;

  constructor(name: string, args: UploadStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('directdrop:index:UploadStorage', name, {}, opts);
    const child = { parent: this };

    const account = createSecureStorageAccount(
      `${name}account`,
      { resourceGroupName: args.resourceGroupName, location: args.location, tags: args.tags },
      child,
    );
    const onAccount = { resourceGroupName: args.resourceGroupName, accountName: account.name };

    new storage.BlobServiceProperties(
      `${name}-blob-service`,
      {
        ...onAccount,
        blobServicesName: 'default',
        cors: { corsRules: [uploadCorsRule(args.allowedCorsOrigins)] },
      },
      child,
    );

    const container = (containerName: string) =>
      new storage.BlobContainer(
        `${name}-${containerName}`,
        { ...onAccount, containerName, publicAccess: storage.PublicAccess.None },
        child,
      );
    const landing = container(args.landingContainer);
    const processed = container(args.processedContainer);
    const deadLetters = container(args.deadLetterContainer);
    const originals = args.originals ? container(args.originals.containerName) : undefined;
    const zones = (args.dropZones ?? []).map((zone) => ({
      zone,
      container: container(dropZoneContainer(zone.name)),
    }));

    const queue = (queueName: string) =>
      new storage.Queue(`${name}-${queueName}`, { ...onAccount, queueName }, child);
    const events = queue(args.eventsQueue);
    // Created up front so the app only needs to send to it, not create queues on the account.
    const poison = queue(poisonQueueName(args.eventsQueue));
    const reprocess = queue(args.reprocessQueue);
    const reprocessPoison = queue(poisonQueueName(args.reprocessQueue));

    const uploadTable = new storage.Table(
      `${name}-${args.uploadTable}`,
      { ...onAccount, tableName: args.uploadTable },
      child,
    );

    // Lifecycle runs about once a day, so blobs live up to a day past these ages. A create-only
    // SAS can also make an append blob, and anyone with write can snapshot: lifecycle deletes
    // block and append blobs and their snapshots (page blobs it cannot; learn.microsoft.com
    // lifecycle-management-overview, "Supported blob types"), so all of those are swept.
    const deleteAfter = (ruleName: string, containerName: pulumi.Input<string>, days: number) => ({
      name: ruleName,
      enabled: true,
      type: storage.RuleType.Lifecycle,
      definition: {
        filters: {
          blobTypes: [...SWEPT_BLOB_TYPES],
          prefixMatch: [pulumi.interpolate`${containerName}/`],
        },
        actions: {
          baseBlob: { delete: { daysAfterModificationGreaterThan: days } },
          snapshot: { delete: { daysAfterCreationGreaterThan: days } },
        },
      },
    });
    new storage.ManagementPolicy(
      `${name}-lifecycle`,
      {
        ...onAccount,
        managementPolicyName: 'default',
        policy: {
          rules: [
            deleteAfter('expire-uploads', landing.name, args.uploadRetentionDays),
            deleteAfter('expire-dead-letters', deadLetters.name, args.deadLetterRetentionDays),
            ...(args.processedRetentionDays
              ? [deleteAfter('expire-processed', processed.name, args.processedRetentionDays)]
              : []),
            ...(originals && args.originals
              ? [deleteAfter('expire-originals', originals.name, args.originals.retentionDays)]
              : []),
            ...zones.map(({ zone, container: c }) =>
              deleteAfter(`expire-dropzone-${zone.name}`, c.name, zone.retentionDays),
            ),
          ],
        },
      },
      child,
    );

    this.accountName = account.name;
    this.accountId = account.id;
    this.blobServiceUri = account.primaryEndpoints.blob.apply(withoutTrailingSlash);
    this.queueServiceUri = account.primaryEndpoints.queue.apply(withoutTrailingSlash);
    this.tableServiceUri = account.primaryEndpoints.table.apply(withoutTrailingSlash);
    this.uploadTableName = uploadTable.name;
    this.dropZoneContainerNames = zones.map(({ container: c }) => c.name);
    this.landingContainerName = landing.name;
    this.processedContainerName = processed.name;
    this.deadLetterContainerName = deadLetters.name;
    this.originalsContainerName = originals?.name;
    this.eventsQueueName = events.name;
    this.poisonQueueName = poison.name;
    this.reprocessQueueName = reprocess.name;
    this.reprocessPoisonQueueName = reprocessPoison.name;
    this.registerOutputs({
      accountName: this.accountName,
      accountId: this.accountId,
      blobServiceUri: this.blobServiceUri,
      queueServiceUri: this.queueServiceUri,
      tableServiceUri: this.tableServiceUri,
      uploadTableName: this.uploadTableName,
      dropZoneContainerNames: this.dropZoneContainerNames,
      landingContainerName: this.landingContainerName,
      processedContainerName: this.processedContainerName,
      deadLetterContainerName: this.deadLetterContainerName,
      originalsContainerName: this.originalsContainerName,
      eventsQueueName: this.eventsQueueName,
      poisonQueueName: this.poisonQueueName,
      reprocessQueueName: this.reprocessQueueName,
      reprocessPoisonQueueName: this.reprocessPoisonQueueName,
    });
  }
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
