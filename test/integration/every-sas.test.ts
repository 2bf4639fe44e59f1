/**
 * Every path that produces a SAS, signed for real and read back: the service version
 * (`sv`, pinned before 2026-04-06 lets `c` Put Block, Put Block List and Put Block From
 * URL), the permission (`sp`), the resource (`sr`) and the lifetime cap of each. A source
 * check keeps the list complete: a new signer anywhere fails it until it is added here.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { expect } from 'chai';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import {
  AccountKeySasSigner,
  SAS_SERVICE_VERSION,
  UserDelegationSasSigner,
} from '../../functions/adapters/sas-signer';
import type { Runtime } from '../../functions/adapters/runtime';
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  readSasPolicy,
  uploadSasPolicy,
} from '../../functions/core/sas-policy';
import { SETTING_KEYS, SETTING_LIMITS, type DropZone } from '../../functions/core/settings';
import { createUploadHandler } from '../../functions/handlers/create-upload';
import { getUploadStatusHandler } from '../../functions/handlers/get-upload-status';
import { processUploadEventHandler } from '../../functions/handlers/process-upload';
import {
  type AzuriteSandbox,
  UnsignedEntraCredential,
  startAzuriteSandbox,
} from '../../local/azurite-sandbox';
import {
  DropZoneError,
  MAX_ZONE_SAS_HOURS,
  azureOperatorStorage,
  dropZoneUrl,
  localOperatorStorage,
} from '../../local/drop-zone-admin';
import { blobCreatedEvent } from '../helpers/events';
import { bodyOf, getStatus, invocationContext, runtimeFor } from '../helpers/functions';
import { sidewaysPhotoWithGps } from '../helpers/images';
import { rejection } from '../helpers/rejection';
import { issueAndPut } from '../helpers/uploads';

const REPO_ROOT = resolve(__dirname, '../..');

/** The SAS fields this test pins, and the signature's lifetime in seconds from now. */
function sasOf(url: string) {
  const params = new URL(url).searchParams;
  const expires = Date.parse(params.get('se') ?? '');
  return {
    sv: params.get('sv'),
    sp: params.get('sp'),
    sr: params.get('sr'),
    lifetimeSeconds: (expires - Date.now()) / 1000,
    startsBackSeconds: (Date.now() - Date.parse(params.get('st') ?? '')) / 1000,
  };
}

const within = (seconds: number, cap: number) => seconds > 0 && seconds <= cap + 5;

async function sourceFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(REPO_ROOT, folder), {
    withFileTypes: true,
    recursive: true,
  }))
    if (
      entry.isFile() &&
      /\.(ts|mjs|js)$/.test(entry.name) &&
      !entry.parentPath.includes('node_modules') &&
      !entry.parentPath.includes('/dist')
    )
      files.push(relative(REPO_ROOT, join(entry.parentPath, entry.name)));
  return files;
}

describe('every SAS directdrop signs (against Azurite)', function () {
  this.timeout(60_000);
  let fixture: AzuriteSandbox;
  let oauth: AzuriteSandbox;
  let runtime: Runtime;
  const zone: DropZone = { name: 'cameras', retentionDays: 1, maxSasHours: 48 };

  before(async () => {
    fixture = await startAzuriteSandbox();
    oauth = await startAzuriteSandbox({ oauth: true });
    // The longest lifetimes the settings allow: the caps are what is checked.
    runtime = runtimeFor({
      ...fixture.env,
      [SETTING_KEYS.uploadUrlTtlSeconds]: String(SETTING_LIMITS.uploadUrlTtlSeconds.max),
      [SETTING_KEYS.readUrlTtlSeconds]: String(SETTING_LIMITS.readUrlTtlSeconds.max),
    });
    await fixture.service.getContainerClient('dropzone-cameras').createIfNotExists();
  });
  after(async () => {
    await fixture?.stop();
    await oauth?.stop();
  });

  it('knows every place in the code that signs a SAS', async () => {
    const signers: string[] = [];
    for (const folder of ['functions', 'local', 'ops', 'client/src', 'bin'])
      for (const file of await sourceFiles(folder)) {
        const text = await readFile(join(REPO_ROOT, file), 'utf8');
        if (
          /generateBlobSASQueryParameters\(|generateSasUrl\(|generateUserDelegationSasUrl\(|generateAccountSasUrl\(/.test(
            text,
          )
        )
          signers.push(file);
      }
    expect(signers.sort()).to.deep.equal([
      'functions/adapters/sas-signer.ts',
      'local/drop-zone-admin.ts',
    ]);
  });

  it('upload URLs (account key): pinned version, create-only, one blob, at most the longest upload lifetime', async () => {
    const { uploadUrl } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(200, 150),
    );
    const sas = sasOf(uploadUrl);
    expect(sas).to.include({ sv: SAS_SERVICE_VERSION, sp: 'c', sr: 'b' });
    expect(within(sas.lifetimeSeconds, SETTING_LIMITS.uploadUrlTtlSeconds.max)).to.equal(true);
    expect(sas.startsBackSeconds).to.be.at.most(CLOCK_SKEW_ALLOWANCE_MS / 1000 + 5);
  });

  it('read URLs (account key): pinned version, read-only, one blob, at most the longest read lifetime', async () => {
    const { uploadId, blobName } = await issueAndPut(
      createUploadHandler(() => runtime),
      await sidewaysPhotoWithGps(200, 150),
    );
    await processUploadEventHandler(() => runtime)(
      await blobCreatedEvent(runtime.landing, blobName),
      invocationContext('processUploadEvent'),
    );
    const body = bodyOf(
      await getUploadStatusHandler(() => runtime)(getStatus(uploadId), invocationContext('s')),
    );
    const outputs = body.outputs as Array<{ url: string }>;
    expect(outputs).to.have.length.above(0);
    for (const { url } of outputs) {
      const sas = sasOf(url);
      expect(sas).to.include({ sv: SAS_SERVICE_VERSION, sp: 'r', sr: 'b' });
      expect(within(sas.lifetimeSeconds, SETTING_LIMITS.readUrlTtlSeconds.max)).to.equal(true);
    }
  });

  it('upload and read URLs (user delegation key, as in Azure): the same version, permissions and caps', async () => {
    const signer = new UserDelegationSasSigner(oauth.service);
    const now = new Date();
    const upload = sasOf(
      await signer.signBlobUrl(
        'uploads',
        'a/b.jpg',
        uploadSasPolicy(now, SETTING_LIMITS.uploadUrlTtlSeconds.max),
      ),
    );
    expect(upload).to.include({ sv: SAS_SERVICE_VERSION, sp: 'c', sr: 'b' });
    expect(within(upload.lifetimeSeconds, SETTING_LIMITS.uploadUrlTtlSeconds.max)).to.equal(true);
    const read = sasOf(
      await signer.signBlobUrl(
        'processed',
        'a/b.webp',
        readSasPolicy(now, SETTING_LIMITS.readUrlTtlSeconds.max),
      ),
    );
    expect(read).to.include({ sv: SAS_SERVICE_VERSION, sp: 'r', sr: 'b' });
    expect(within(read.lifetimeSeconds, SETTING_LIMITS.readUrlTtlSeconds.max)).to.equal(true);
    // The account-key signer is the same code with another key.
    expect(runtime.signer).to.be.instanceOf(AccountKeySasSigner);
  });

  it('drop zone URLs (account key, local mode): pinned version, create-only, the container, within the zone limit', async () => {
    const storage = localOperatorStorage(Number(new URL(fixture.azurite.blobEndpoint).port));
    const { url } = await dropZoneUrl(storage, zone, zone.maxSasHours);
    const sas = sasOf(url);
    expect(sas).to.include({ sv: SAS_SERVICE_VERSION, sp: 'c', sr: 'c' });
    expect(within(sas.lifetimeSeconds, zone.maxSasHours * 3600)).to.equal(true);
    await rejection(dropZoneUrl(storage, zone, zone.maxSasHours + 1), DropZoneError);
    // At the pinned version a create-only container SAS cannot stage a block.
    const block = new URL(url);
    block.pathname += '/cam1/a.jpg';
    block.searchParams.set('comp', 'block');
    block.searchParams.set('blockid', Buffer.from('block-0').toString('base64'));
    expect((await fetch(block, { method: 'PUT', body: 'abc' })).status).to.equal(403);
  });

  it('drop zone URLs (user delegation key, as in Azure): the same, and never past 7 days', async () => {
    const service = new BlobServiceClient(
      oauth.azurite.blobEndpoint,
      new UnsignedEntraCredential(),
      {
        tlsOptions: { ca: oauth.ca },
      } as StoragePipelineOptions,
    );
    const storage = azureOperatorStorage(oauth.azurite.blobEndpoint, service);
    const weekLong: DropZone = { ...zone, maxSasHours: SETTING_LIMITS.dropZoneMaxSasHours.max };
    const { url } = await dropZoneUrl(storage, weekLong, MAX_ZONE_SAS_HOURS);
    const sas = sasOf(url);
    expect(sas).to.include({ sv: SAS_SERVICE_VERSION, sp: 'c', sr: 'c' });
    expect(new URL(url).searchParams.get('spr')).to.equal('https');
    expect(within(sas.lifetimeSeconds, 7 * 24 * 3600)).to.equal(true);
    await rejection(dropZoneUrl(storage, weekLong, MAX_ZONE_SAS_HOURS + 1), DropZoneError);
  });
});
