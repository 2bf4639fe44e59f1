/**
 * The upload table's hot requests written by hand: entity-group transactions as the Table
 * service's `$batch` request itself
 * (learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions) and
 * point reads, sent through a trimmed copy of the TableClient's own pipeline, so its
 * credential, retries, endpoint and any policy a caller added apply. @azure/data-tables'
 * submitTransaction builds a new client and runs every operation through a pipeline of its
 * own (2.4 times the CPU of one request), and the client's full pipeline (serialisation,
 * tracing, logging, user agent, redirects, decompression) costs about a third of a request
 * on the request path of every upload URL.
 *
 * Only what the upload table needs: string properties, insert, replace (If-Match an ETag or
 * any), upsert and delete, in one changeset. The answer gives each operation's new ETag; a
 * refused operation throws a RestError with its status, code and the service's message,
 * which starts with the operation's index (`1:The update condition…`).
 */
import { randomUUID } from 'node:crypto';
import type { NamedKeyCredential, TableClient } from '@azure/data-tables';
import {
  type HttpClient,
  type Pipeline,
  type PipelinePolicy,
  RestError,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import { hmacSha256, preparedKey } from '../core/hmac';

export type BatchEntity = { partitionKey: string; rowKey: string } & Record<string, string>;

export type BatchOperation =
  | { kind: 'create'; entity: BatchEntity }
  /** Replace an existing entity: `etag` from a read, or `*` for whichever version there is. */
  | { kind: 'replace'; entity: BatchEntity; etag: string }
  | { kind: 'upsert'; entity: BatchEntity }
  | { kind: 'delete'; partitionKey: string; rowKey: string };

const CRLF = '\r\n';
/** The service version @azure/data-tables sends its transactions with. */
const BATCH_SERVICE_VERSION = '2019-02-02';

/**
 * Keys this writer takes: the upload table's own (hex owners, `upload-<id>`, `list-…`,
 * `shard-<n>`). Others would need the OData quoting and URL escaping Azurite's batch
 * parser does not read back alike, so they are refused rather than written elsewhere.
 */
const SAFE_KEY = /^[A-Za-z0-9_.-]{1,255}$/;

function checkKeys(partitionKey: string, rowKey: string): void {
  for (const key of [partitionKey, rowKey]) {
    if (!SAFE_KEY.test(key)) throw new TypeError(`A batched entity key must match ${SAFE_KEY}`);
  }
}

function entityUrl(tableUrl: string, partitionKey: string, rowKey: string): string {
  return `${tableUrl}(PartitionKey='${partitionKey}',RowKey='${rowKey}')`;
}

function entityBody({ partitionKey, rowKey, ...properties }: BatchEntity): string {
  return JSON.stringify({ PartitionKey: partitionKey, RowKey: rowKey, ...properties });
}

function part(tableUrl: string, operation: BatchOperation): string {
  const keys = 'entity' in operation ? operation.entity : operation;
  checkKeys(keys.partitionKey, keys.rowKey);
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary', ''];
  const common = ['Accept: application/json;odata=minimalmetadata', 'DataServiceVersion: 3.0'];
  let body = '';
  switch (operation.kind) {
    case 'create':
      lines.push(
        `POST ${tableUrl} HTTP/1.1`,
        'Content-Type: application/json;odata=nometadata',
        ...common,
        'Prefer: return-no-content',
      );
      body = entityBody(operation.entity);
      break;
    case 'replace':
    case 'upsert': {
      const { partitionKey, rowKey } = operation.entity;
      lines.push(
        `PUT ${entityUrl(tableUrl, partitionKey, rowKey)} HTTP/1.1`,
        'Content-Type: application/json;odata=nometadata',
        ...common,
      );
      // Without If-Match a PUT inserts or replaces (Insert Or Replace Entity).
      if (operation.kind === 'replace') lines.push(`If-Match: ${operation.etag}`);
      body = entityBody(operation.entity);
      break;
    }
    case 'delete':
      lines.push(
        `DELETE ${entityUrl(tableUrl, operation.partitionKey, operation.rowKey)} HTTP/1.1`,
        ...common,
        'If-Match: *',
      );
      break;
  }
  return `${lines.join(CRLF)}${CRLF}${CRLF}${body}${CRLF}`;
}

interface SubResponse {
  status: number;
  etag?: string;
  body: string;
}

/** The sub-responses of a `$batch` answer, in the order of the operations. */
function subResponses(text: string): SubResponse[] {
  const found: SubResponse[] = [];
  const pattern =
    /HTTP\/1\.1 (\d{3})[^\r\n]*\r?\n([\s\S]*?)\r?\n\r?\n([\s\S]*?)(?=\r?\n--changesetresponse|\r?\n--batchresponse|$)/g;
  for (const match of text.matchAll(pattern)) {
    const etag = /^etag:\s*(.+?)\s*$/im.exec(match[2])?.[1];
    found.push({ status: Number(match[1]), etag, body: match[3].trim() });
  }
  return found;
}

function refusal(sub: SubResponse, status: number): RestError {
  let code: string | undefined;
  let message = `A table transaction operation answered ${sub.status}`;
  try {
    const error = (
      JSON.parse(sub.body) as { 'odata.error'?: { code?: string; message?: { value?: string } } }
    )['odata.error'];
    code = error?.code;
    message = error?.message?.value ?? message;
  } catch {
    // Not JSON: the status says enough.
  }
  return new RestError(message, { statusCode: sub.status || status, code });
}

/** What these requests do without: they send text they built and read the answer themselves. */
const UNNEEDED_POLICIES = [
  'serializationPolicy',
  'deserializationPolicy',
  'decompressResponsePolicy',
  'formDataPolicy',
  'multipartPolicy',
  'wrapAbortSignalLikePolicy',
  'userAgentPolicy',
  'tracingPolicy',
  'redirectPolicy',
  'logPolicy',
];
const SDK_SHARED_KEY_POLICY = 'tablesNamedKeyCredentialPolicy';

function isNamedKeyCredential(credential: unknown): credential is NamedKeyCredential {
  const c = credential as Partial<NamedKeyCredential> | undefined;
  return typeof c?.name === 'string' && typeof c.key === 'string';
}

/**
 * The Authorization header of a Table service request to `path` dated `date` (its
 * `x-ms-date`): Shared Key Lite for the Table service
 * (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key#shared-key-lite-and-table-service-format-for-2009-09-19-and-later),
 * as the SDK's policy signs it, with the key prepared once (core/hmac.ts). None of these
 * requests has a `comp` parameter, the only query the canonical resource includes.
 */
export function sharedKeyLiteAuthorization(
  credential: NamedKeyCredential,
  date: string,
  path: string,
): string {
  // Looked up each time: the credential's key can be rotated in place (update()).
  const key = preparedKey(credential.key, 'base64');
  const signature = hmacSha256(key, `${date}\n/${credential.name}${path || '/'}`, 'base64');
  return `SharedKeyLite ${credential.name}:${signature}`;
}

/** Signs every request with sharedKeyLiteAuthorization, as the SDK's own policy would. */
function sharedKeyLitePolicy(credential: NamedKeyCredential): PipelinePolicy {
  return {
    name: 'directdropSharedKeyLite',
    sendRequest(request, next) {
      // A date already set (a retry's, say) is kept, as the SDK's policy keeps it.
      const date = request.headers.get('x-ms-date') || new Date().toUTCString();
      request.headers.set('x-ms-date', date);
      request.headers.set(
        'Authorization',
        sharedKeyLiteAuthorization(credential, date, new URL(request.url).pathname),
      );
      return next(request);
    },
  };
}

/**
 * The TableClient's pipeline without the policies above. Its account key credential (a
 * property the SDK keeps but does not declare public) signs through our policy; any other
 * credential, and a client without one, keep the SDK's.
 */
export function trimmedPipeline(table: TableClient): Pipeline {
  const pipeline = table.pipeline.clone();
  for (const name of UNNEEDED_POLICIES) pipeline.removePolicy({ name });
  const credential = (table as unknown as { credential?: unknown }).credential;
  if (
    isNamedKeyCredential(credential) &&
    pipeline.removePolicy({ name: SDK_SHARED_KEY_POLICY }).length
  )
    pipeline.addPolicy(sharedKeyLitePolicy(credential));
  return pipeline;
}

/** Where a table's entities and its transactions are addressed, worked out once per client. */
export interface TableEndpoint {
  tableUrl: string;
  batchUrl: string;
}

/** TableClient.url is the account's endpoint; the table is named apart. */
export function tableEndpoint(table: Pick<TableClient, 'url' | 'tableName'>): TableEndpoint {
  const account = table.url.replace(/\/+$/, '');
  return { tableUrl: `${account}/${table.tableName}`, batchUrl: `${account}/$batch` };
}

/** The `$batch` request that runs `operations` on the table as one changeset, unsigned. */
export function batchRequest(
  { tableUrl, batchUrl }: TableEndpoint,
  operations: readonly BatchOperation[],
): { url: string; headers: Record<string, string>; body: string } {
  const batch = `batch_${randomUUID()}`;
  const changeset = `changeset_${randomUUID()}`;
  const body =
    `--${batch}${CRLF}Content-Type: multipart/mixed; boundary=${changeset}${CRLF}${CRLF}` +
    operations.map((op) => `--${changeset}${CRLF}${part(tableUrl, op)}`).join('') +
    `--${changeset}--${CRLF}--${batch}--${CRLF}`;
  return {
    url: batchUrl,
    headers: {
      'Content-Type': `multipart/mixed; boundary=${batch}`,
      Accept: 'application/json',
      'x-ms-version': BATCH_SERVICE_VERSION,
      DataServiceVersion: '3.0;',
      MaxDataServiceVersion: '3.0;NetFx',
    },
    body,
  };
}

export class TableBatches {
  private readonly http: HttpClient = createDefaultHttpClient();
  private readonly pipeline: Pipeline;
  private readonly endpoint: TableEndpoint;

  constructor(table: TableClient) {
    this.pipeline = trimmedPipeline(table);
    this.endpoint = tableEndpoint(table);
  }

  /**
   * One entity's properties and ETag (Query Entity by its keys), or undefined when absent;
   * keys this writer refuses name nothing it could have written.
   */
  async get(
    partitionKey: string,
    rowKey: string,
  ): Promise<{ entity: Record<string, unknown>; etag: string } | undefined> {
    if (!SAFE_KEY.test(partitionKey) || !SAFE_KEY.test(rowKey)) return undefined;
    const url = entityUrl(this.endpoint.tableUrl, partitionKey, rowKey);
    const response = await this.pipeline.sendRequest(
      this.http,
      createPipelineRequest({
        url,
        method: 'GET',
        headers: createHttpHeaders({
          Accept: 'application/json;odata=nometadata',
          'x-ms-version': BATCH_SERVICE_VERSION,
          DataServiceVersion: '3.0;',
        }),
        allowInsecureConnection: url.startsWith('http:'),
      }),
    );
    const text = response.bodyAsText ?? '';
    if (response.status === 404) return undefined;
    if (response.status !== 200)
      throw refusal({ status: response.status, body: text }, response.status);
    const etag = response.headers.get('etag');
    if (!etag) throw new RestError('A table entity came without its ETag', { statusCode: 200 });
    return { entity: JSON.parse(text) as Record<string, unknown>, etag };
  }

  /** Runs the operations as one transaction; resolves with each one's new ETag (none for deletes). */
  async submit(operations: readonly BatchOperation[]): Promise<Array<string | undefined>> {
    const { url, headers, body } = batchRequest(this.endpoint, operations);
    const request = createPipelineRequest({
      url,
      method: 'POST',
      body,
      headers: createHttpHeaders(headers),
      // Azurite serves plain http; in Azure the endpoint is https.
      allowInsecureConnection: url.startsWith('http:'),
    });
    const response = await this.pipeline.sendRequest(this.http, request);
    const text = response.bodyAsText ?? '';
    if (response.status !== 202) {
      throw refusal({ status: response.status, body: text }, response.status);
    }
    const subs = subResponses(text);
    const failed = subs.find((sub) => sub.status >= 400);
    if (failed) throw refusal(failed, response.status);
    if (subs.length !== operations.length) {
      throw new RestError(
        `A table transaction of ${operations.length} operations answered ${subs.length}`,
        { statusCode: response.status },
      );
    }
    return subs.map((sub) => sub.etag);
  }
}
