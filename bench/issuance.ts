/**
 * Benchmark 2a: upload URL issuance in-process, through our core path (validate the
 * request, choose the blob name, build the policy, sign) with no HTTP framework, for
 * the account-key signer and the user-delegation signer with a cached key, against a
 * raw HMAC-SHA256 of a same-sized string-to-sign (the floor no signer can beat); then
 * what sign-in, quotas and the upload record add, up to the whole createUpload handler,
 * whose CPU per issuance is compared with the signing path's in the same run.
 * Rates are per CPU-second, i.e. per core; rounds are interleaved and the median kept.
 */
import { createHmac, createSecretKey, randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, createServer } from 'node:http';
import { request } from 'node:https';
import {
  BlobSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { type BlobSasSigner, UserDelegationSasSigner } from '../functions/adapters/sas-signer';
import { createRuntime } from '../functions/adapters/runtime';
import { OidcVerifier } from '../functions/adapters/oidc-verifier';
import { TableUploadStore } from '../functions/adapters/upload-table';
import { ownerHash } from '../functions/core/auth';
import { STORAGE_NAMES } from '../functions/core/definitions';
import { uploadSasPolicy } from '../functions/core/sas-policy';
import {
  type DirectdropSettings,
  OWNER_KEY_SETTING,
  SETTING_KEYS,
} from '../functions/core/settings';
import { createUploadHandler } from '../functions/handlers/create-upload';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { functionKeyOwner } from '../functions/core/auth';
import { landingBlobName, parseUploadRequest } from '../functions/core/upload-request';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME } from '../local/azurite';
import { type AzuriteSandbox, startAzuriteSandbox } from '../local/azurite-sandbox';
import {
  DEV_AUDIENCE,
  devIssuer,
  loadDevIdentity,
  serveDevIdentity,
  signDevToken,
} from '../local/dev-identity';
import { UNTHROTTLED_QUOTA_ENV } from '../local/local-mode-process';
import { AzureNamedKeyCredential, TableClient, odata } from '@azure/data-tables';
import {
  TableBatches,
  batchRequest,
  sharedKeyLiteAuthorization,
  tableEndpoint,
} from '../functions/adapters/table-batch';
import {
  LIST_ROW_PREFIX,
  QUOTA_ROW,
  listRowKey,
  recordRowKey,
} from '../functions/core/upload-record';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMsSince, fmt, median } from './lib/measure';
import type { Row, SectionResult, TargetCheck } from './lib/report';

const REQUEST_BODY = JSON.stringify({
  fileName: 'IMG_20250101_120000.jpg',
  contentType: 'image/jpeg',
  size: 4_500_000,
});
const REQUEST_BODY_WITH_METADATA = JSON.stringify({
  ...(JSON.parse(REQUEST_BODY) as object),
  metadata: { postId: '42' },
});

/** Our issuance path minus the HTTP framework: exactly what createUpload does per call. */
async function issue(settings: DirectdropSettings, signer: BlobSasSigner): Promise<string> {
  const parsed = parseUploadRequest(REQUEST_BODY, settings);
  if (!parsed.ok) throw new Error(parsed.error.message);
  const blobName = landingBlobName(functionKeyOwner(), randomUUID(), parsed.value);
  const policy = uploadSasPolicy(new Date(), settings.uploadUrlTtlSeconds);
  return signer.signBlobUrl(settings.landingContainer, blobName, policy);
}

/**
 * What createUpload adds to signing: verify the caller's token, then take quota and write
 * the upload record in Azurite's table (256 callers in turn, as many clients would), and
 * the whole handler doing all of it for real requests.
 */
export async function issuanceGuards(storage: AzuriteSandbox) {
  const quota = (key: string) => Number(UNTHROTTLED_QUOTA_ENV[key]);
  const store = new TableUploadStore(
    TableClient.fromConnectionString(storage.azurite.connectionString, STORAGE_NAMES.uploadTable, {
      allowInsecureConnection: true,
    }),
    {
      urlsPerMinute: quota('DIRECTDROP_QUOTA_URLS_PER_MINUTE'),
      urlBurst: quota('DIRECTDROP_QUOTA_URL_BURST'),
      // Slots are freed by the worker, not on this path: the busy caller below holds thousands.
      outstandingUploads: 1_000_000,
      bytesPerDay: quota('DIRECTDROP_QUOTA_BYTES_PER_DAY'),
      globalUrlsPerMinute: quota('DIRECTDROP_QUOTA_GLOBAL_URLS_PER_MINUTE'),
    },
  );
  const CALLERS = 256;
  const owners = Array.from({ length: CALLERS }, (_, i) =>
    ownerHash('bench-owner-key-0123456789abcdef01234', { issuer: 'bench', subject: `u${i}` }),
  );
  let turn = 0;
  const issueRecord = async (owner = owners[turn++ % owners.length]) => {
    const uploadId = randomUUID();
    const issuedAt = new Date();
    const urlExpiresAtMs = issuedAt.getTime() + 600_000;
    const decision = await store.issue(
      {
        uploadId,
        owner,
        status: 'issued',
        issuedAt: issuedAt.toISOString(),
        urlExpiresAt: new Date(urlExpiresAtMs).toISOString(),
        container: 'uploads',
        blobName: `${owner}/${uploadId}/4500000/IMG_20250101_120000.jpg`,
        fileName: 'IMG_20250101_120000.jpg',
        contentType: 'image/jpeg',
        size: 4_500_000,
        metadata: { postId: '42' },
        caller: { kind: 'oidc', issuer: 'bench', subject: `u${turn}` },
      },
      { uploadId, size: 4_500_000, urlExpiresAtMs },
    );
    if (!decision.ok) throw new Error(`quota refused: ${decision.exceeded.limit}`);
  };

  // One caller holding 400 uploads without an outcome, as a CLI uploading a folder would:
  // what it pays per URL must not grow with what it holds.
  const busyOwner = ownerHash('bench-owner-key-0123456789abcdef01234', {
    issuer: 'bench',
    subject: 'busy',
  });

  const folder = await mkdtemp(join(tmpdir(), 'directdrop-bench-idp-'));
  const identity = await loadDevIdentity(folder);
  let issuer = '';
  const server = createServer((request, response) => {
    if (
      !serveDevIdentity(
        identity,
        issuer,
        new URL(request.url ?? '/', 'http://x').pathname,
        response,
      )
    )
      response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = devIssuer(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  const verifier = new OidcVerifier({ issuer, audiences: [DEV_AUDIENCE], algorithms: ['ES256'] });
  // Remembering no token: every call pays the signature check, as before the cache.
  const uncached = new OidcVerifier({
    issuer,
    audiences: [DEV_AUDIENCE],
    algorithms: ['ES256'],
    maxCachedTokens: 0,
  });
  const token = await signDevToken(identity, { subject: 'alice', issuer });

  // The real handler in oidc mode: each caller's token is reused, as a signed-in client does.
  const runtime = createRuntime({
    ...storage.env,
    [SETTING_KEYS.authMode]: 'oidc',
    [SETTING_KEYS.authIssuer]: issuer,
    [SETTING_KEYS.authAudiences]: DEV_AUDIENCE,
    [OWNER_KEY_SETTING]: 'bench-owner-key-0123456789abcdef01234',
  });
  const createUpload = createUploadHandler(() => runtime);
  const tokens = await Promise.all(
    Array.from({ length: CALLERS }, (_, i) =>
      signDevToken(identity, { subject: `user-${i}`, issuer }),
    ),
  );
  const context = new InvocationContext({
    functionName: 'createUpload',
    logHandler: () => undefined,
  });
  let caller = 0;
  // Built by the Functions host in production, outside our code: made before the CPU is read.
  const request = () =>
    new HttpRequest({
      method: 'POST',
      url: 'http://localhost:7071/api/uploads',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${tokens[caller++ % tokens.length]}`,
      },
      body: { string: REQUEST_BODY_WITH_METADATA },
    });
  const handler = async (prepared: HttpRequest = request()) => {
    const response = await createUpload(prepared, context);
    if (response.status !== 201) throw new Error(`createUpload answered ${response.status}`);
  };
  return {
    issueRecord: () => issueRecord(),
    /** Gives the busy caller its 400 outstanding uploads; only the runs that measure it pay. */
    async fillBusyCaller() {
      for (let i = 0; i < 400; i++) await issueRecord(busyOwner);
    },
    issueRecordBusyCaller: () => issueRecord(busyOwner),
    busyOwner,
    verify: () => verifier.verify(token),
    verifyUncached: () => uncached.verify(token),
    handler,
    request,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/**
 * The floor of a quota-checked issuance: the transaction it writes (the caller's quota
 * entity replaced, a record and a list entry created, copied from `owner`'s real ones into a
 * partition of their own), signed and posted with bare node:http and nothing parsed but the
 * statuses.
 */
async function bareBatchPost(
  storage: AzuriteSandbox,
  agent: Agent,
  owner: string,
): Promise<() => Promise<void>> {
  const table = TableClient.fromConnectionString(
    storage.azurite.connectionString,
    STORAGE_NAMES.uploadTable,
    { allowInsecureConnection: true },
  );
  const stringsOf = (entity: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(entity).filter(
        ([name, value]) =>
          typeof value === 'string' &&
          !['partitionKey', 'rowKey', 'etag', 'timestamp'].includes(name),
      ),
    ) as Record<string, string>;
  let quota: Record<string, string> | undefined;
  let record: Record<string, string> | undefined;
  let list: Record<string, string> | undefined;
  for await (const entity of table.listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${owner}` },
  })) {
    const rowKey = entity.rowKey ?? '';
    if (rowKey === QUOTA_ROW) quota = stringsOf(entity);
    else if (rowKey.startsWith(recordRowKey(''))) record ??= stringsOf(entity);
    else if (rowKey.startsWith(LIST_ROW_PREFIX)) list ??= stringsOf(entity);
  }
  if (!quota || !record || !list) throw new Error(`no issuance to copy in partition ${owner}`);
  const partitionKey = 'f'.repeat(owner.length);
  await new TableBatches(table).submit([
    { kind: 'upsert', entity: { partitionKey, rowKey: QUOTA_ROW, ...quota } },
  ]);
  const credential = new AzureNamedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY);
  const endpoint = tableEndpoint(table);
  const target = new URL(endpoint.batchUrl);
  return () =>
    new Promise<void>((resolve, reject) => {
      const uploadId = randomUUID();
      const { headers, body } = batchRequest(endpoint, [
        { kind: 'replace', entity: { partitionKey, rowKey: QUOTA_ROW, ...quota }, etag: '*' },
        { kind: 'create', entity: { partitionKey, rowKey: recordRowKey(uploadId), ...record } },
        {
          kind: 'create',
          entity: { partitionKey, rowKey: listRowKey(new Date().toISOString(), uploadId), ...list },
        },
      ]);
      const date = new Date().toUTCString();
      const req = httpRequest(
        target,
        {
          method: 'POST',
          agent,
          headers: {
            ...headers,
            'x-ms-date': date,
            Authorization: sharedKeyLiteAuthorization(credential, date, target.pathname),
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () =>
            res.statusCode === 202 && !/HTTP\/1\.1 [45]\d\d/.test(text)
              ? resolve()
              : reject(new Error(`$batch answered ${res.statusCode}: ${text.slice(0, 300)}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

/** One call under test; `prepare` makes its argument outside the measured CPU. */
interface Variant {
  call: (input?: never) => unknown;
  prepare?: () => unknown;
}

/** Calls per CPU-second of a variant, run for about `ms` of wall time in batches of 200. */
async function ratePerCore(variant: Variant, ms: number): Promise<number> {
  let calls = 0;
  let cpuMs = 0;
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const inputs = Array.from({ length: 200 }, () => variant.prepare?.());
    const cpu = process.cpuUsage();
    for (const input of inputs) await variant.call(input as never);
    cpuMs += cpuMsSince(cpu);
    calls += inputs.length;
  }
  return calls / (cpuMs / 1000);
}

function putStatus(url: string, ca?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PUT',
        ca,
        headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'image/jpeg' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('not really a jpeg');
  });
}

async function putWithFetch(url: string): Promise<number> {
  const response = await fetch(url, {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'image/jpeg' },
    body: 'not really a jpeg',
  });
  return response.status;
}

export async function runIssuance(
  storage: AzuriteSandbox,
  options: { quick: boolean },
): Promise<SectionResult> {
  const runtime = createRuntime(storage.env);
  const { settings } = runtime;
  const notes: string[] = [];

  // Correctness first: a URL from each signer really uploads.
  const accountUrl = await issue(settings, runtime.signer);
  if ((await putWithFetch(accountUrl)) !== 201)
    throw new Error('an account-key upload URL was refused');

  let oauth: AzuriteSandbox | undefined;
  let delegation: UserDelegationSasSigner | undefined;
  try {
    oauth = await startAzuriteSandbox({ oauth: true });
    delegation = new UserDelegationSasSigner(oauth.service);
    const url = await issue(settings, delegation);
    if ((await putStatus(url, oauth.ca)) !== 201)
      throw new Error('a user-delegation upload URL was refused');
  } catch (error) {
    await oauth?.stop();
    oauth = undefined;
    delegation = undefined;
    notes.push(
      `Issuance: user delegation skipped, no OAuth Azurite here (${error instanceof Error ? error.message : error}).`,
    );
  }

  // The floor: one HMAC-SHA256 over a string-to-sign as long as the SDK's for a blob SAS.
  const key = Buffer.from(DEV_ACCOUNT_KEY, 'base64');
  const stringToSign = [
    'c',
    '2025-01-01T11:55:00Z',
    '2025-01-01T12:10:00Z',
    `/blob/${DEV_ACCOUNT_NAME}/uploads/5f0c6f9e-4a8b-4c1e-9d2a-0b7e3c1f2a4d/IMG_20250101_120000.jpg`,
    '',
    '',
    'https,http',
    '2026-04-06',
    'b',
    '',
    '',
    '',
    '',
    '',
    '',
    '',
  ].join('\n');
  // With the key prepared once, as our signers hold it (functions/core/hmac.ts).
  const keyObject = createSecretKey(key);
  const hmac = () => createHmac('sha256', keyObject).update(stringToSign, 'utf8').digest('base64');
  // The same with the key as bytes: Node 24 pays for a caught exception on every call.
  const hmacBufferKey = () =>
    createHmac('sha256', key).update(stringToSign, 'utf8').digest('base64');
  // The SDK call alone, to show where our path's time goes.
  const credential = new StorageSharedKeyCredential(DEV_ACCOUNT_NAME, DEV_ACCOUNT_KEY);
  const sdkOnly = () => {
    const now = new Date();
    return generateBlobSASQueryParameters(
      {
        containerName: 'uploads',
        blobName: `${randomUUID()}/IMG_20250101_120000.jpg`,
        permissions: BlobSASPermissions.parse('c'),
        startsOn: new Date(now.getTime() - 300_000),
        expiresOn: new Date(now.getTime() + 600_000),
        protocol: SASProtocol.HttpsAndHttp,
      },
      credential,
    ).toString();
  };

  // The least an issuance with quotas can cost this process: one HTTP round trip to the
  // table service (a bare GET on a kept-alive connection, refused for want of a key), no
  // client library, no body to build or parse.
  const tableEndpoint = new URL(
    storage.azurite.connectionString.match(/TableEndpoint=([^;]+)/)![1],
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const roundTrip = () =>
    new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          host: tableEndpoint.hostname,
          port: tableEndpoint.port,
          path: `${tableEndpoint.pathname}/Tables`,
          agent,
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });

  const guards = await issuanceGuards(storage);
  await guards.fillBusyCaller();
  const bareBatch = await bareBatchPost(storage, agent, guards.busyOwner);
  const variants: Record<string, Variant> = {
    hmac: { call: hmac },
    hmacBufferKey: { call: hmacBufferKey },
    sdkAccountKey: { call: sdkOnly },
    accountKey: { call: () => issue(settings, runtime.signer) },
    accountKeyQuota: {
      call: async () => {
        await guards.issueRecord();
        return issue(settings, runtime.signer);
      },
    },
    accountKeyQuotaBusyCaller: {
      call: async () => {
        await guards.issueRecordBusyCaller();
        return issue(settings, runtime.signer);
      },
    },
    accountKeySignInQuota: {
      call: async () => {
        await guards.verify();
        await guards.issueRecord();
        return issue(settings, runtime.signer);
      },
    },
    handlerSignedIn: { call: guards.handler, prepare: guards.request },
    signInAlone: { call: guards.verify },
    signInUncached: { call: guards.verifyUncached },
    roundTrip: { call: roundTrip },
    bareBatch: { call: bareBatch },
  };
  if (delegation) {
    const signer = delegation;
    variants.userDelegation = { call: () => issue(settings, signer) };
  }
  const rounds = options.quick ? 1 : 3;
  const roundMs = options.quick ? 300 : 600;
  const rates: Record<string, number[]> = Object.fromEntries(
    Object.keys(variants).map((k) => [k, []]),
  );
  try {
    // Warm-up: JIT every path before any round counts.
    for (const fn of Object.values(variants)) await ratePerCore(fn, 200);
    for (let round = 0; round < rounds; round++)
      for (const [name, fn] of Object.entries(variants))
        rates[name].push(await ratePerCore(fn, roundMs));
    if (delegation && delegation.keyFetches !== 1)
      throw new Error(`the delegation key was fetched ${delegation.keyFetches} times, not once`);
  } finally {
    await oauth?.stop();
    await guards.stop();
    agent.destroy();
  }

  const rate = (name: string) => (rates[name]?.length ? median(rates[name]) : Number.NaN);
  const cell = (r: number) => (Number.isFinite(r) ? `${fmt(r)}/s (${fmt(1e6 / r)} µs)` : 'n/a');
  const floor = rate('hmac');
  const row = (label: string, name: string): Row => ({
    benchmark: 'issuance in-process',
    case: `${label}: per s per core (cost per call)`,
    ours: cell(rate(name)),
    baseline: `HMAC ${cell(floor)}`,
    ratio: Number.isFinite(rate(name)) ? `${fmt(rate(name) / floor)}× of floor` : 'n/a',
  });
  const rows: Row[] = [
    row('account key, our core path', 'accountKey'),
    row('user delegation (cached key), our core path', 'userDelegation'),
    row('account key, SDK signing call alone (diagnostic)', 'sdkAccountKey'),
    row('HMAC with the key as bytes, not a KeyObject (diagnostic)', 'hmacBufferKey'),
    row('account key + quota and record in Azurite tables', 'accountKeyQuota'),
    row(
      'account key + quota and record, caller holding 400+ outstanding',
      'accountKeyQuotaBusyCaller',
    ),
    row('account key + ES256 token check + quota and record', 'accountKeySignInQuota'),
    row('createUpload handler, signed in, quotas, record, metadata', 'handlerSignedIn'),
    row('ES256 token check, token seen before (diagnostic)', 'signInAlone'),
    row('ES256 token check, every call afresh (diagnostic)', 'signInUncached'),
    row('one bare node:http round trip to the table service (diagnostic)', 'roundTrip'),
    row(
      "an issuance's $batch posted by bare node:http, no client library (diagnostic)",
      'bareBatch',
    ),
  ];
  const costUs = (name: string) => 1e6 / rate(name);
  const costRow = (label: string, oursUs: number, baselineUs: number): Row => ({
    benchmark: 'issuance in-process',
    case: `CPU per issuance: ${label}`,
    ours: `${fmt(oursUs)} µs`,
    baseline: `${fmt(baselineUs)} µs`,
    ratio: `${fmt(oursUs / baselineUs)}×`,
  });
  // CPU per issuance, the whole handler over the signing path alone, measured side by side.
  const handlerRatio = costUs('handlerSignedIn') / costUs('accountKey');
  // What any design paying one table round trip per URL could reach, beside what we pay.
  const floorUs = costUs('accountKey') + costUs('roundTrip');
  const heldRatio = costUs('accountKeyQuotaBusyCaller') / costUs('accountKeyQuota');
  rows.push(
    costRow(
      'signed-in handler with quotas ÷ signing path alone',
      costUs('handlerSignedIn'),
      costUs('accountKey'),
    ),
    costRow(
      'signed-in handler ÷ (signing path + one bare round trip)',
      costUs('handlerSignedIn'),
      floorUs,
    ),
    costRow(
      "signed-in handler ÷ (signing path + the issuance's $batch by bare node:http)",
      costUs('handlerSignedIn'),
      costUs('accountKey') + costUs('bareBatch'),
    ),
    costRow(
      'caller holding 400+ outstanding ÷ callers holding few',
      costUs('accountKeyQuotaBusyCaller'),
      costUs('accountKeyQuota'),
    ),
  );
  const targets: TargetCheck[] = [
    {
      target: 'in-process issuance, account key ≥ 40,000/s per core',
      measured: `${fmt(rate('accountKey'))}/s`,
      met: rate('accountKey') >= 40_000,
    },
    {
      target: 'in-process issuance, cached user delegation key ≥ 25,000/s per core',
      measured: delegation ? `${fmt(rate('userDelegation'))}/s` : 'not run: no OAuth Azurite',
      met: delegation ? rate('userDelegation') >= 25_000 : undefined,
    },
    {
      target: 'CPU per issuance with sign-in and quotas ≤ 15× the signing path alone',
      measured: `${fmt(handlerRatio)}× (${fmt(costUs('handlerSignedIn'))} µs vs ${fmt(costUs('accountKey'))} µs)`,
      met: handlerRatio <= 15,
    },
    {
      target:
        'CPU per issuance does not grow with what the caller holds (400+ outstanding ≤ 1.25× few)',
      measured: `${fmt(heldRatio)}×`,
      met: heldRatio <= 1.25,
    },
  ];
  const allowedUs = 15 * costUs('accountKey');
  const transactionUs = costUs('bareBatch');
  notes.push(
    `Issuance: 15× the signing path allows ${fmt(allowedUs)} µs; the transaction an issuance writes, posted by bare node:http with no client library, costs this process ${fmt(transactionUs)} µs alone, ${transactionUs >= allowedUs ? 'more than the whole allowance' : `leaving ${fmt(allowedUs - transactionUs)} µs for the token check, body, quota decision, signing and answer`}.`,
    'Issuance: each signer’s URL was used for a real PUT to Azurite (201); the delegation key was fetched once and cached.',
    'Issuance with quotas: each call issues an upload for one of 256 callers in Azurite’s table: one entity-group transaction (quota If-Match the ETag last seen, record, list entry) once the caller is known, a read first otherwise; the global cap comes from a block leased to the process. Slots are freed by the worker, off this path. Per core counts this process’s CPU only, not Azurite’s.',
    'The handler row is createUpload itself on real HttpRequest objects (oidc mode, each caller reusing its token, metadata in the body): token check (remembered after the first), body read and validation, quota and record, signing, the JSON answer.',
  );
  return { rows, targets, notes, data: { ratesPerCore: rates } };
}
