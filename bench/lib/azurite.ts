/**
 * Throwaway Azurite instances for the benchmarks: free ports, a temporary data folder,
 * the app's containers. The OAuth flavour (HTTPS, `--oauth basic`) is the only way to get
 * a real user delegation key locally; see test/integration/sas-signer.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { STORAGE_CONNECTION, STORAGE_NAMES } from '../../functions/core/definitions';
import { type RunningAzurite, startAzurite } from '../../local/azurite';

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

export interface BenchAzurite {
  azurite: RunningAzurite;
  /** App settings pointing createRuntime at this instance. */
  env: Record<string, string>;
  service: BlobServiceClient;
  stop(): Promise<void>;
}

export async function startBenchAzurite(): Promise<BenchAzurite> {
  const folder = await mkdtemp(join(tmpdir(), 'directdrop-bench-'));
  const azurite = await startAzurite({
    location: folder,
    blobPort: await freePort(),
    queuePort: await freePort(),
    tablePort: await freePort(),
  });
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  for (const name of [STORAGE_NAMES.landingContainer, STORAGE_NAMES.processedContainer])
    await service.getContainerClient(name).createIfNotExists();
  return {
    azurite,
    env: { [STORAGE_CONNECTION]: azurite.connectionString },
    service,
    stop: () => stopQuickly(azurite, folder),
  };
}

/** The data is throwaway: if Azurite lingers over open connections, it is killed. */
async function stopQuickly(azurite: RunningAzurite, folder: string): Promise<void> {
  const timer = setTimeout(() => azurite.process.kill('SIGKILL'), 10_000);
  await azurite.stop();
  clearTimeout(timer);
  await rm(folder, { recursive: true, force: true });
}

/** Azurite's basic OAuth checks issuer, audience and lifetime, not the signature. */
class UnsignedEntraCredential implements TokenCredential {
  async getToken(): Promise<AccessToken> {
    const now = Math.floor(Date.now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const tenant = 'ab1f708d-50f6-404c-a006-d71b2ac7a606';
    const claims = {
      iss: `https://sts.windows.net/${tenant}/`,
      aud: 'https://storage.azure.com',
      nbf: now - 60,
      iat: now - 60,
      exp: now + 3600,
      oid: '23657296-5cd5-45b0-a809-d972a7f4dfe1',
      tid: tenant,
    };
    return {
      token: `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.sig`,
      expiresOnTimestamp: (now + 3600) * 1000,
    };
  }
}

export interface OAuthAzurite {
  /** Blob service authenticated with an Entra-shaped token, as the app is in Azure. */
  service: BlobServiceClient;
  /** The self-signed certificate, for clients that must trust this instance. */
  ca: Buffer;
  stop(): Promise<void>;
}

/** Needs openssl for the self-signed certificate; throws if it is missing. */
export async function startOAuthAzurite(): Promise<OAuthAzurite> {
  const folder = await mkdtemp(join(tmpdir(), 'directdrop-bench-oauth-'));
  const [cert, key] = [join(folder, 'cert.pem'), join(folder, 'key.pem')];
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const ca = await readFile(cert);
    const azurite = await startAzurite({
      location: join(folder, 'data'),
      blobPort: await freePort(),
      queuePort: await freePort(),
      tablePort: await freePort(),
      cert,
      key,
      oauth: true,
    });
    // Trust the self-signed certificate for this client only.
    const options = { tlsOptions: { ca } } as StoragePipelineOptions;
    const service = new BlobServiceClient(
      azurite.blobEndpoint,
      new UnsignedEntraCredential(),
      options,
    );
    await service.getContainerClient(STORAGE_NAMES.landingContainer).createIfNotExists();
    return {
      service,
      ca,
      stop: () => stopQuickly(azurite, folder),
    };
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}
