/**
 * Signs blob SAS URLs. Two implementations behind one interface: the account key
 * (Azurite and development) and a user delegation key obtained with the app's
 * managed identity (Azure, where shared keys are disabled).
 */
import {
  BlobSASPermissions,
  type BlobSASSignatureValues,
  type BlobServiceClient,
  SASProtocol,
  SASQueryParameters,
  StorageSharedKeyCredential,
  type UserDelegationKey,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import type { KeyObject } from 'node:crypto';
import { hmacSha256, preparedKey } from '../core/hmac';
import type { SasPolicy } from '../core/sas-policy';
import { SETTING_LIMITS } from '../core/settings';

/**
 * The service version every SAS is signed at, in Azure and in Azurite alike. From
 * 2026-04-06 the create permission also allows Put Block, Put Block List and Put Block
 * From URL (learn.microsoft.com/rest/api/storageservices/version-2026-04-06), so one
 * upload URL could commit a blob of any size or pull bytes from anywhere; before it,
 * `c` allows a single Put Blob. 2025-11-05 is also the newest Azurite signs at.
 */
export const SAS_SERVICE_VERSION = '2025-11-05';

export interface BlobSasSigner {
  readonly kind: 'account-key' | 'user-delegation';
  /** The blob's URL with a SAS granting exactly `policy` on that one blob. */
  signBlobUrl(containerName: string, blobName: string, policy: SasPolicy): Promise<string>;
}

function blobUrl(serviceUrl: string, containerName: string, blobName: string): string {
  const path = blobName.split('/').map(encodeURIComponent).join('/');
  return `${serviceUrl.replace(/\/$/, '')}/${containerName}/${path}`;
}

/** HTTPS-only wherever the endpoint is HTTPS; plain HTTP is only ever Azurite. */
function protocolFor(serviceUrl: string): SASProtocol {
  return serviceUrl.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp;
}

function signatureValues(
  containerName: string,
  blobName: string,
  policy: SasPolicy,
  protocol: SASProtocol,
): BlobSASSignatureValues {
  return {
    containerName,
    blobName,
    permissions: BlobSASPermissions.parse(policy.permissions),
    startsOn: policy.startsOn,
    expiresOn: policy.expiresOn,
    protocol,
    version: SAS_SERVICE_VERSION,
  };
}

/**
 * The account key credential with its key prepared once (see core/hmac.ts): the SDK calls
 * computeHMACSHA256 for each SAS it signs with it.
 */
export class PreparedSharedKeyCredential extends StorageSharedKeyCredential {
  private readonly prepared: KeyObject;

  constructor(accountName: string, accountKey: string) {
    super(accountName, accountKey);
    this.prepared = preparedKey(accountKey, 'base64');
  }

  override computeHMACSHA256(stringToSign: string): string {
    return hmacSha256(this.prepared, stringToSign, 'base64');
  }
}

/** `2026-12-06T12:00:00Z`: what the SDK writes into a string-to-sign (truncatedISO8061Date). */
function sasTime(date: Date): string {
  return `${date.toISOString().slice(0, -5)}Z`;
}

/**
 * A user delegation SAS for one blob, as generateBlobSASQueryParameters signs it at
 * SAS_SERVICE_VERSION (its string-to-sign for 2025-07-05 and later, before 2026-04-06),
 * with the key prepared once (core/hmac.ts): the SDK makes a new credential holding the
 * key as bytes for every SAS, and Node 24's createHmac is slow with those. Only the fields
 * signatureValues() sets; test/unit/hmac.test.ts holds it to the SDK's bytes.
 */
export function userDelegationSas(
  values: BlobSASSignatureValues,
  key: UserDelegationKey,
  accountName: string,
): SASQueryParameters {
  const { version = '', permissions, startsOn, expiresOn, protocol, blobName } = values;
  if (version !== SAS_SERVICE_VERSION || !blobName || !permissions || !expiresOn)
    throw new Error(
      'userDelegationSas signs one blob, with permissions and an expiry, at 2025-11-05',
    );
  const signedPermissions = BlobSASPermissions.parse(permissions.toString()).toString();
  const stringToSign = [
    signedPermissions,
    startsOn ? sasTime(startsOn) : '',
    sasTime(expiresOn),
    `/blob/${accountName}/${values.containerName}/${blobName}`,
    key.signedObjectId,
    key.signedTenantId,
    key.signedStartsOn ? sasTime(key.signedStartsOn) : '',
    key.signedExpiresOn ? sasTime(key.signedExpiresOn) : '',
    key.signedService,
    key.signedVersion,
    '', // preauthorized agent object id
    '', // agent object id
    '', // correlation id
    key.signedDelegatedUserTenantId ?? '',
    '', // delegated user object id
    '', // IP range
    protocol ?? '',
    version,
    'b', // resource: a blob
    '', // snapshot time
    '', // encryption scope
    '', // Cache-Control, Content-Disposition, -Encoding, -Language, -Type
    '',
    '',
    '',
    '',
  ].join('\n');
  const signature = hmacSha256(preparedKey(key.value, 'base64'), stringToSign, 'base64');
  return new SASQueryParameters(version, signature, {
    permissions: signedPermissions,
    protocol,
    startsOn,
    expiresOn,
    resource: 'b',
    userDelegationKey: key,
  });
}

export class AccountKeySasSigner implements BlobSasSigner {
  readonly kind = 'account-key';
  private readonly protocol: SASProtocol;

  constructor(
    private readonly serviceUrl: string,
    private readonly credential: StorageSharedKeyCredential,
  ) {
    this.protocol = protocolFor(serviceUrl);
  }

  async signBlobUrl(containerName: string, blobName: string, policy: SasPolicy): Promise<string> {
    const sas = generateBlobSASQueryParameters(
      signatureValues(containerName, blobName, policy, this.protocol),
      this.credential,
    );
    return `${blobUrl(this.serviceUrl, containerName, blobName)}?${sas.toString()}`;
  }
}

export interface UserDelegationOptions {
  /** How long each requested key is valid (Azure allows up to 7 days). */
  keyLifetimeMs?: number;
  /** Fetch a new key once less than this remains, well before any SAS could outlive it. */
  refreshMarginMs?: number;
  now?: () => Date;
}

const HOUR_MS = 60 * 60 * 1000;
/** The longest SAS the settings allow; every signature a cached key makes ends before the key. */
const LONGEST_SIGNATURE_MS =
  Math.max(SETTING_LIMITS.uploadUrlTtlSeconds.max, SETTING_LIMITS.readUrlTtlSeconds.max) * 1000;

export class UserDelegationSasSigner implements BlobSasSigner {
  readonly kind = 'user-delegation';
  private key?: UserDelegationKey;
  private pendingKey?: Promise<UserDelegationKey>;
  private readonly keyLifetimeMs: number;
  private readonly refreshMarginMs: number;
  private readonly now: () => Date;
  private readonly protocol: SASProtocol;
  /** Number of keys fetched so far; observable so tests can prove the cache works. */
  keyFetches = 0;

  constructor(
    private readonly service: BlobServiceClient,
    options: UserDelegationOptions = {},
  ) {
    // A key is used for 6 hours, then replaced while it still outlives any SAS it signed.
    this.refreshMarginMs = options.refreshMarginMs ?? LONGEST_SIGNATURE_MS + HOUR_MS;
    this.keyLifetimeMs = options.keyLifetimeMs ?? this.refreshMarginMs + 6 * HOUR_MS;
    this.now = options.now ?? (() => new Date());
    this.protocol = protocolFor(service.url);
  }

  private async fetchKey(): Promise<UserDelegationKey> {
    const now = this.now();
    // Back-dated like the SAS itself, for clock skew.
    const startsOn = new Date(now.getTime() - 5 * 60 * 1000);
    const expiresOn = new Date(now.getTime() + this.keyLifetimeMs);
    this.keyFetches += 1;
    const key = await this.service.getUserDelegationKey(startsOn, expiresOn);
    this.key = key;
    return key;
  }

  /** One fetch at a time; concurrent callers share it. */
  private async currentKey(policyExpiresOn: Date): Promise<UserDelegationKey> {
    const key = this.key;
    const fresh =
      key !== undefined &&
      key.signedExpiresOn.getTime() - this.now().getTime() > this.refreshMarginMs &&
      key.signedExpiresOn.getTime() >= policyExpiresOn.getTime();
    if (fresh) return key;
    this.pendingKey ??= this.fetchKey().finally(() => {
      this.pendingKey = undefined;
    });
    return this.pendingKey;
  }

  async signBlobUrl(containerName: string, blobName: string, policy: SasPolicy): Promise<string> {
    const key = await this.currentKey(policy.expiresOn);
    const sas = userDelegationSas(
      signatureValues(containerName, blobName, policy, this.protocol),
      key,
      this.service.accountName,
    );
    return `${blobUrl(this.service.url, containerName, blobName)}?${sas.toString()}`;
  }
}
