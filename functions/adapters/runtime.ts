/**
 * Builds what the handlers need from app settings, once per process: validated
 * settings, blob clients, the SAS signer the connection calls for, the caller checks of
 * the auth mode and the upload table.
 */
import { TableClient } from '@azure/data-tables';
import {
  DefaultAzureCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import {
  BlobServiceClient,
  type ContainerClient,
  StorageSharedKeyCredential,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { type QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { STORAGE_CONNECTION } from '../core/definitions';
import {
  type DirectdropSettings,
  SETTING_KEYS,
  SettingsError,
  parseSettings,
  readOwnerKey,
} from '../core/settings';
import { OidcVerifier } from './oidc-verifier';
import { type OutcomePublisher, createOutcomePublisher } from './outcome-publisher';
import {
  AccountKeySasSigner,
  type BlobSasSigner,
  PreparedSharedKeyCredential,
  UserDelegationSasSigner,
} from './sas-signer';
import { TableUploadStore, type UploadStore } from './upload-table';

export interface Runtime {
  settings: DirectdropSettings;
  landing: ContainerClient;
  processed: ContainerClient;
  /** Only written when `settings.keepOriginals` is on. */
  originals: ContainerClient;
  signer: BlobSasSigner;
  /** The events queue, for the scan gate's timeout checks and deletion work items. */
  eventsQueue: QueueClient;
  /** Key of the owner hash; undefined only on a function-key stack (see readOwnerKey). */
  ownerKey: string | undefined;
  /** Present in oidc mode. */
  oidc: OidcVerifier | undefined;
  /** Quotas and upload records (the upload table). */
  uploads: UploadStore;
  /** A blob container by name, for drop zones. */
  container(name: string): ContainerClient;
  /** Outcome events to the stack's topic; a no-op without `outcomeTopicEndpoint`. */
  outcomes: OutcomePublisher;
}

export interface StorageConnection {
  service: BlobServiceClient;
  signer: BlobSasSigner;
  table(name: string): TableClient;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Storage calls retry briefly. An HTTP caller is waiting, and gets a 503 with Retry-After
 * instead; a failed queue invocation is retried by the host after its visibility timeout.
 * The SDK's default (4 tries, 4 s then 8 s then 16 s apart) would hold a status request
 * for half a minute whenever storage is unreachable.
 */
export const STORAGE_PIPELINE_OPTIONS: StoragePipelineOptions = {
  retryOptions: {
    maxTries: 3,
    retryDelayInMs: 200,
    maxRetryDelayInMs: 2_000,
    tryTimeoutInMs: 60_000,
  },
};

/** The same short retries for the queue client, whose options type differs only in `audience`. */
const QUEUE_PIPELINE_OPTIONS = { retryOptions: STORAGE_PIPELINE_OPTIONS.retryOptions };

function identityCredential(env: Env, prefix: string): TokenCredential {
  const clientId = env[`${prefix}__clientId`];
  // An explicit managed identity skips DefaultAzureCredential's probing of other sources.
  if (env[`${prefix}__credential`] === 'managedidentity') {
    return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}

/**
 * A connection string under the bare prefix (Azurite, development) signs with the
 * account key; `<prefix>__blobServiceUri` (Azure) signs with a user delegation key.
 */
export function connectStorage(env: Env, prefix = STORAGE_CONNECTION): StorageConnection {
  const connectionString = env[prefix];
  if (connectionString) {
    let service: BlobServiceClient;
    try {
      service = BlobServiceClient.fromConnectionString(connectionString, STORAGE_PIPELINE_OPTIONS);
    } catch {
      // The value is a secret; name the setting, never echo it.
      throw new SettingsError(prefix, 'is not a valid storage connection string');
    }
    if (!(service.credential instanceof StorageSharedKeyCredential)) {
      throw new SettingsError(prefix, 'must include an AccountKey so upload URLs can be signed');
    }
    // The key as written in the connection string signs faster prepared (core/hmac.ts);
    // `UseDevelopmentStorage=true` names none, and the SDK's credential signs as it is.
    const accountKey = /(?:^|;)\s*AccountKey=([^;]+)/i.exec(connectionString)?.[1];
    const signing = accountKey
      ? new PreparedSharedKeyCredential(service.credential.accountName, accountKey)
      : service.credential;
    return {
      service,
      signer: new AccountKeySasSigner(service.url, signing),
      // Azurite serves tables over plain http; in Azure the connection has no key at all.
      table: (name) =>
        TableClient.fromConnectionString(connectionString, name, {
          allowInsecureConnection: true,
          retryOptions: STORAGE_PIPELINE_OPTIONS.retryOptions,
        }),
    };
  }
  const serviceUri = env[`${prefix}__blobServiceUri`] ?? env[`${prefix}__serviceUri`];
  if (!serviceUri) {
    throw new SettingsError(
      prefix,
      `set either ${prefix} (a connection string) or ${prefix}__blobServiceUri`,
    );
  }
  const credential = identityCredential(env, prefix);
  const service = new BlobServiceClient(serviceUri, credential, STORAGE_PIPELINE_OPTIONS);
  const tableServiceUri = env[`${prefix}__tableServiceUri`];
  return {
    service,
    signer: new UserDelegationSasSigner(service),
    table: (name) => {
      if (!tableServiceUri) {
        throw new SettingsError(
          `${prefix}__tableServiceUri`,
          'is required for the upload table when the connection uses an identity',
        );
      }
      return new TableClient(tableServiceUri, name, credential, {
        retryOptions: STORAGE_PIPELINE_OPTIONS.retryOptions,
      });
    },
  };
}

/** The queue half of the same connection: a connection string, or `<prefix>__queueServiceUri`. */
export function connectQueues(env: Env, prefix = STORAGE_CONNECTION): QueueServiceClient {
  const connectionString = env[prefix];
  if (connectionString) {
    try {
      return QueueServiceClient.fromConnectionString(connectionString, QUEUE_PIPELINE_OPTIONS);
    } catch {
      throw new SettingsError(prefix, 'is not a valid storage connection string');
    }
  }
  const serviceUri = env[`${prefix}__queueServiceUri`];
  if (!serviceUri) {
    throw new SettingsError(
      prefix,
      `set either ${prefix} (a connection string) or ${prefix}__queueServiceUri`,
    );
  }
  return new QueueServiceClient(
    serviceUri,
    identityCredential(env, prefix),
    QUEUE_PIPELINE_OPTIONS,
  );
}

export function createRuntime(env: Env, storage = connectStorage(env)): Runtime {
  const settings = parseSettings(env);
  if (settings.publicBaseUrl === '') {
    throw new SettingsError(
      SETTING_KEYS.publicBaseUrl,
      'is required: the API base URL as clients reach it, e.g. https://<app>.azurewebsites.net/api',
    );
  }
  const ownerKey = readOwnerKey(env, settings.authMode);
  const oidc =
    settings.authMode === 'oidc'
      ? new OidcVerifier({
          issuer: settings.authIssuer,
          audiences: settings.authAudiences,
          algorithms: settings.authAlgorithms,
        })
      : undefined;
  return {
    settings,
    landing: storage.service.getContainerClient(settings.landingContainer),
    processed: storage.service.getContainerClient(settings.processedContainer),
    originals: storage.service.getContainerClient(settings.originalsContainer),
    signer: storage.signer,
    eventsQueue: connectQueues(env).getQueueClient(settings.eventsQueue),
    ownerKey,
    oidc,
    uploads: new TableUploadStore(storage.table(settings.uploadTable), {
      urlsPerMinute: settings.quotaUrlsPerMinute,
      urlBurst: settings.quotaUrlBurst,
      outstandingUploads: settings.quotaOutstandingUploads,
      bytesPerDay: settings.quotaBytesPerDay,
      globalUrlsPerMinute: settings.quotaGlobalUrlsPerMinute,
    }),
    container: (name) => storage.service.getContainerClient(name),
    outcomes: createOutcomePublisher(settings.outcomeTopicEndpoint, env, () =>
      identityCredential(env, STORAGE_CONNECTION),
    ),
  };
}

let shared: Runtime | undefined;

/** The process-wide runtime, built from the app settings on first use. */
export function getRuntime(): Runtime {
  shared ??= createRuntime(process.env);
  return shared;
}
