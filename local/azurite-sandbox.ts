/**
 * Throwaway Azurite instances for tests and benchmarks: free ports, a temporary data
 * folder, the app's containers, and a quick stop. The OAuth flavour (HTTPS with a
 * self-signed certificate and `--oauth basic`) is the only way to get a real user
 * delegation key locally.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { STORAGE_CONNECTION, STORAGE_NAMES } from '../functions/core/definitions';
import { SETTING_KEYS } from '../functions/core/settings';
import { type RunningAzurite, startAzurite } from './azurite';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no free port')),
      );
    });
  });
}

/**
 * Quotas no load test reaches, for tests and harnesses whose subject is not quotas; every caller of a
 * harness is one address, so the defaults would throttle them.
 */
export const UNTHROTTLED_QUOTA_ENV: Record<string, string> = {
  DIRECTDROP_QUOTA_URLS_PER_MINUTE: '100000',
  DIRECTDROP_QUOTA_URL_BURST: '10000',
  DIRECTDROP_QUOTA_OUTSTANDING_UPLOADS: '500',
  DIRECTDROP_QUOTA_BYTES_PER_DAY: String(1024 ** 4),
  DIRECTDROP_QUOTA_GLOBAL_URLS_PER_MINUTE: '1000000',
};

export interface AzuriteSandbox {
  azurite: RunningAzurite;
  /** App settings pointing the functions (`createRuntime`) at this instance, quotas out of reach. */
  env: Record<string, string>;
  service: BlobServiceClient;
  /** The self-signed certificate of an OAuth sandbox, for clients that must trust it. */
  ca?: Buffer;
  stop(): Promise<void>;
}

/**
 * Azurite's basic OAuth checks a token's issuer, audience and lifetime but not its
 * signature, so an unsigned token of Entra ID's shape stands in for the app's identity.
 */
export class UnsignedEntraCredential implements TokenCredential {
  static readonly tenantId = 'ab1f708d-50f6-404c-a006-d71b2ac7a606';
  static readonly objectId = '23657296-5cd5-45b0-a809-d972a7f4dfe1';

  async getToken(): Promise<AccessToken> {
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = {
      iss: `https://sts.windows.net/${UnsignedEntraCredential.tenantId}/`,
      aud: 'https://storage.azure.com',
      nbf: now - 60,
      iat: now - 60,
      exp: now + 3600,
      oid: UnsignedEntraCredential.objectId,
      tid: UnsignedEntraCredential.tenantId,
    };
    return {
      token: `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.sig`,
      expiresOnTimestamp: (now + 3600) * 1000,
    };
  }
}

function selfSignedCertificate(folder: string): { cert: string; key: string } {
  const [cert, key] = [join(folder, 'cert.pem'), join(folder, 'key.pem')];
  // prettier-ignore
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** The upload table, as the Pulumi program and local mode create it. */
export async function createUploadTable(connectionString: string): Promise<void> {
  await TableClient.fromConnectionString(connectionString, STORAGE_NAMES.uploadTable, {
    allowInsecureConnection: true,
  }).createTable();
}

/** Starts Azurite with the landing, processed and originals containers; `oauth` needs openssl. */
export async function startAzuriteSandbox(
  options: { oauth?: boolean } = {},
): Promise<AzuriteSandbox> {
  const folder = await mkdtemp(join(tmpdir(), 'directdrop-azurite-'));
  try {
    const tls = options.oauth ? selfSignedCertificate(folder) : undefined;
    const azurite = await startAzurite({
      location: join(folder, 'data'),
      blobPort: await freePort(),
      queuePort: await freePort(),
      tablePort: await freePort(),
      ...(tls && { ...tls, oauth: true }),
    });
    const ca = tls && (await readFile(tls.cert));
    // The self-signed certificate is trusted by this client only, never process-wide.
    const service = ca
      ? new BlobServiceClient(azurite.blobEndpoint, new UnsignedEntraCredential(), {
          tlsOptions: { ca },
        } as StoragePipelineOptions)
      : BlobServiceClient.fromConnectionString(azurite.connectionString);
    for (const name of [
      STORAGE_NAMES.landingContainer,
      STORAGE_NAMES.processedContainer,
      STORAGE_NAMES.originalsContainer,
    ])
      await service.getContainerClient(name).createIfNotExists();
    if (!tls) await createUploadTable(azurite.connectionString);
    return {
      azurite,
      env: {
        [STORAGE_CONNECTION]: azurite.connectionString,
        // Where local mode serves the API; statusUrl is built from it.
        [SETTING_KEYS.publicBaseUrl]: 'http://localhost:7071/api',
        ...UNTHROTTLED_QUOTA_ENV,
      },
      service,
      ca,
      async stop() {
        // The data is throwaway: an Azurite lingering over open connections is killed.
        const timer = setTimeout(() => azurite.process.kill('SIGKILL'), 10_000);
        await azurite.stop();
        clearTimeout(timer);
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}
