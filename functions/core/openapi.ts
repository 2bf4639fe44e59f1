/**
 * The HTTP API's contract, OpenAPI 3.1, served at `GET /api/openapi.json`. Tests keep it
 * true: a standard parser validates it, and the integration tests check real responses
 * against its schemas. Numbers that are settings (max bytes, types) are not frozen in
 * here: `GET /api/limits` states them.
 */
import { STORAGE_NAMES } from './definitions';
import { METADATA_LIMITS } from './metadata';
import type { FailReason, RejectReason } from './manifest';
import { OUTPUT_FORMATS } from './settings';
import {
  MAX_FILE_NAME_LENGTH,
  MAX_REQUEST_BODY_BYTES,
  type RequestErrorCode,
} from './upload-request';

const REQUEST_ERROR_CODES: Record<400 | 413 | 415, RequestErrorCode[]> = {
  400: [
    'invalid-json',
    'invalid-body',
    'invalid-file-name',
    'invalid-content-type',
    'invalid-size',
    'invalid-metadata',
  ],
  413: ['file-too-large', 'body-too-large'],
  415: ['unsupported-media-type', 'content-type-not-allowed'],
};

// Written as a record so that a reason added to RejectReason fails to compile until listed.
const REJECT_REASONS = Object.keys({
  'too-large': true,
  'size-mismatch': true,
  'not-an-image': true,
  'type-not-allowed': true,
  'too-many-pixels': true,
  corrupt: true,
  'unsupported-codec': true,
  'not-a-plain-upload': true,
  'too-much-memory': true,
  unprocessable: true,
  malware: true,
  'not-scanned': true,
} satisfies Record<RejectReason, true>);
const FAIL_REASONS = Object.keys({
  'processing-failed': true,
  'scan-timeout': true,
  'scan-failed': true,
  'not-uploaded': true,
} satisfies Record<FailReason, true>);

const PENDING_STAGES = ['awaiting-upload', 'scanning', 'processing'];

const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** What every status answer and list entry tells of an upload whatever became of it. */
const KNOWN = {
  uploadId: { type: 'string', format: 'uuid' },
  metadata: ref('Metadata'),
  issuedAt: { type: 'string', format: 'date-time', description: 'When the upload URL was issued.' },
};

/** The Error schema narrowed to these codes: the client library's code union is kept equal to them. */
function errorSchema(codes?: string[]) {
  return codes
    ? {
        allOf: [ref('Error'), { properties: { error: { properties: { code: { enum: codes } } } } }],
      }
    : ref('Error');
}

function errorResponse(description: string, codes?: string[], headers?: object) {
  return { description, content: json(errorSchema(codes)), ...(headers ? { headers } : {}) };
}

/** Routes with no error of their own still meet the platform's refusals (Redocly: operation-4xx-response). */
const PLATFORM_4XX = {
  '4XX': errorResponse(
    'The platform refused the request, e.g. an unknown method or a malformed request.',
  ),
};

const NO_STORE = {
  'Cache-Control': {
    description: 'Always `no-store`: answers carry short-lived signed URLs.',
    schema: { type: 'string', const: 'no-store' },
  },
};

/** Responses every authenticated route can give besides its own. */
const COMMON_ERRORS = {
  '401': responseRef('Unauthorized'),
  '403': responseRef('Forbidden'),
  '429': responseRef('TooManyRequests'),
  '503': responseRef('StorageUnavailable'),
};

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'directdrop API',
    version: '0.1.0',
    description:
      'Direct-to-Blob uploads: ask for a short-lived, create-only upload URL, PUT the bytes ' +
      `straight to Blob Storage (container \`${STORAGE_NAMES.landingContainer}\`), then poll the ` +
      'status until the upload is processed, rejected or failed. The upload routes need what ' +
      'the stack is set up for: a function key (`x-functions-key`, checked by the Functions ' +
      'host in Azure; local mode checks no keys), a bearer token from its identity provider ' +
      '(local mode checks tokens of its built-in development provider by default), or nothing ' +
      'in anonymous mode, where the status is read with the `statusToken` capability its ' +
      '`statusUrl` carries. Every error is `{"error": {"code", "message"}}`.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  servers: [
    { url: '/api', description: 'The function app, or local mode on http://localhost:7071' },
  ],
  security: [{ functionKey: [] }, { bearerToken: [] }],
  paths: {
    '/uploads': {
      get: {
        operationId: 'listUploads',
        summary: "The caller's own uploads, newest first, a page at a time",
        parameters: [
          {
            name: 'limit',
            in: 'query',
            required: false,
            description: 'Uploads per page.',
            schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          },
          {
            name: 'cursor',
            in: 'query',
            required: false,
            description:
              'The `nextCursor` of the previous page. Uploads issued meanwhile sort before it, so pages never shift.',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'A page; `nextCursor` is present while more follow.',
            headers: NO_STORE,
            content: json(ref('UploadList')),
          },
          '400': errorResponse('`limit` or `cursor` is not valid.', ['invalid-query']),
          ...COMMON_ERRORS,
          '403': errorResponse(
            'The token lacks the required scope, or the stack has no sign-in (anonymous mode lists nothing).',
            ['insufficient-scope', 'listing-unavailable'],
          ),
        },
      },
      post: {
        operationId: 'createUpload',
        summary: 'Get a create-only upload URL for one file',
        requestBody: {
          required: true,
          description: `JSON, at most ${MAX_REQUEST_BODY_BYTES} bytes; unknown fields are refused.`,
          content: json(ref('UploadRequest')),
        },
        responses: {
          '201': {
            description: 'PUT the file to `uploadUrl` with `headers`, before `expiresOn`.',
            headers: NO_STORE,
            content: json(ref('UploadTicket')),
          },
          '400': errorResponse(
            'The body is not valid JSON or a field is invalid.',
            REQUEST_ERROR_CODES[400],
          ),
          '413': errorResponse(
            'The declared size or the request body is too large.',
            REQUEST_ERROR_CODES[413],
          ),
          '415': errorResponse(
            'The body is not JSON, or the content type is not accepted.',
            REQUEST_ERROR_CODES[415],
          ),
          ...COMMON_ERRORS,
        },
      },
    },
    '/uploads/{uploadId}': {
      get: {
        operationId: 'getUploadStatus',
        summary: 'What became of an upload',
        parameters: [
          {
            name: 'uploadId',
            in: 'path',
            required: true,
            description: 'The id `POST /uploads` returned.',
            schema: { type: 'string', format: 'uuid' },
          },
          {
            name: 'statusToken',
            in: 'query',
            required: false,
            description:
              'Anonymous mode only: the capability `statusUrl` carries. Without it (or with another upload’s) the upload is not found.',
            schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
          },
        ],
        responses: {
          '200': {
            description:
              'Known: `pending` until processed; `processed` with short-lived read URLs; `rejected` or `failed` with a reason. Every answer carries the `metadata` given at issuance and `issuedAt`.',
            headers: NO_STORE,
            content: json(ref('UploadStatus')),
          },
          '400': errorResponse('The id is not an upload id.', ['invalid-upload-id']),
          '404': errorResponse(
            'No upload with this id was issued to this caller (or it was deleted). Another caller’s id answers the same.',
            ['upload-not-found'],
          ),
          ...COMMON_ERRORS,
        },
      },
      delete: {
        operationId: 'deleteUpload',
        summary: 'Erase an upload',
        description:
          'Erases the upload: its outputs, manifest, kept original, any landing blob and its record; frees its quota slot and publishes `directdrop.upload.deleted`. Its upload URL can no longer write anything, and a pending upload is refused by the worker instead of processed. The outputs go at once, so read URLs handed out before answer 404 from then on (a browser may still show a copy it cached); no read URL outlives its own lifetime either way.',
        parameters: [
          {
            name: 'uploadId',
            in: 'path',
            required: true,
            description: 'The id `POST /uploads` returned.',
            schema: { type: 'string', format: 'uuid' },
          },
          {
            name: 'statusToken',
            in: 'query',
            required: false,
            description:
              'Anonymous mode only: the capability `statusUrl` carries, which makes the caller the upload’s owner.',
            schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
          },
        ],
        responses: {
          '204': { description: 'Erased.', headers: NO_STORE },
          '400': errorResponse('The id is not an upload id.', ['invalid-upload-id']),
          '404': errorResponse(
            "No such upload of the caller's: unknown, another caller's, or already deleted.",
            ['upload-not-found'],
          ),
          ...COMMON_ERRORS,
        },
      },
    },
    '/limits': {
      get: {
        operationId: 'getLimits',
        summary: 'The upload rules, from the app settings',
        security: [],
        responses: {
          '200': {
            description: 'What `POST /uploads` and the processor enforce.',
            headers: {
              'Cache-Control': {
                description: 'Cacheable for a minute.',
                schema: { type: 'string' },
              },
            },
            content: json(ref('UploadLimits')),
          },
          ...PLATFORM_4XX,
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'This document',
        security: [],
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 document.',
            content: json({
              type: 'object',
              required: ['openapi', 'paths'],
              // Redocly: no-required-schema-properties-undefined.
              properties: { openapi: { type: 'string' }, paths: { type: 'object' } },
            }),
          },
          ...PLATFORM_4XX,
        },
      },
    },
  },
  components: {
    securitySchemes: {
      functionKey: {
        type: 'apiKey',
        in: 'header',
        name: 'x-functions-key',
        description: 'An Azure Functions key (authLevel function).',
      },
      bearerToken: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'A token from the identity provider the app trusts, where it is set up for one.',
      },
    },
    responses: {
      Unauthorized: {
        description: 'No valid credentials.',
        headers: {
          'WWW-Authenticate': {
            description: 'The scheme to use, e.g. `Bearer realm="directdrop"`.',
            required: true,
            schema: { type: 'string', pattern: '^Bearer' },
          },
        },
        content: json(errorSchema(['unauthorized', 'invalid-token'])),
      },
      Forbidden: errorResponse('The credentials are valid but may not do this.', [
        'insufficient-scope',
      ]),
      TooManyRequests: {
        description: 'A quota or rate limit is used up; retry after the reset.',
        headers: {
          'Retry-After': {
            description: 'Seconds until the limit resets.',
            required: true,
            schema: { type: 'integer', minimum: 0 },
          },
        },
        content: json({
          allOf: [
            ref('Error'),
            {
              properties: {
                error: {
                  required: ['code', 'limit', 'max', 'resetsAt'],
                  properties: {
                    code: { const: 'quota-exceeded' },
                    limit: {
                      enum: [
                        'urls-per-minute',
                        'outstanding-uploads',
                        'bytes-per-day',
                        'global-urls-per-minute',
                      ],
                      description: 'Which limit was reached.',
                    },
                    max: { type: 'integer', description: 'The limit itself.' },
                    resetsAt: { type: 'string', format: 'date-time' },
                  },
                },
              },
            },
          ],
        }),
      },
      StorageUnavailable: errorResponse(
        'Storage (or the identity provider, or the quota table under contention) is briefly unavailable; retry after Retry-After.',
        ['storage-unavailable', 'identity-provider-unavailable', 'quota-busy'],
        {
          'Retry-After': {
            description: 'Seconds to wait before retrying.',
            required: true,
            schema: { type: 'string', pattern: '^[0-9]+$' },
          },
        },
      ),
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', description: 'Stable, for programs; new codes may appear.' },
              message: { type: 'string', description: 'A sentence for people.' },
            },
          },
        },
      },
      UploadRequest: {
        type: 'object',
        required: ['fileName', 'contentType', 'size'],
        additionalProperties: false,
        properties: {
          fileName: { type: 'string', minLength: 1, maxLength: MAX_FILE_NAME_LENGTH },
          contentType: {
            type: 'string',
            description:
              'A media type from `GET /limits` `allowedContentTypes`; parameters are ignored.',
          },
          size: {
            type: 'integer',
            minimum: 1,
            description: 'Exact length in bytes; any other length is rejected as `size-mismatch`.',
          },
          metadata: ref('Metadata'),
        },
        examples: [
          {
            fileName: 'cat.jpg',
            contentType: 'image/jpeg',
            size: 123456,
            metadata: { postId: '42' },
          },
        ],
      },
      Metadata: {
        type: 'object',
        description: `The application's own pairs, stored with the upload when its URL is issued and returned unchanged with its status, listing and events. The caller's claim: a backend authorizes it (e.g. a \`postId\`) against its own data. At most ${METADATA_LIMITS.maxEntries} entries and ${METADATA_LIMITS.maxBytes} bytes of UTF-8 in all, keys and values together; anything else is \`invalid-metadata\`.`,
        maxProperties: METADATA_LIMITS.maxEntries,
        propertyNames: { pattern: METADATA_LIMITS.keyPattern },
        additionalProperties: { type: 'string' },
      },
      UploadTicket: {
        type: 'object',
        additionalProperties: false,
        required: [
          'uploadId',
          'uploadUrl',
          'method',
          'headers',
          'expiresOn',
          'maxBytes',
          'statusUrl',
        ],
        properties: {
          uploadId: { type: 'string', format: 'uuid' },
          uploadUrl: {
            type: 'string',
            format: 'uri',
            description:
              'A SAS URL that may create this one blob, nothing else. A secret: do not log it.',
          },
          method: { const: 'PUT' },
          headers: {
            type: 'object',
            required: ['x-ms-blob-type', 'Content-Type'],
            properties: {
              'x-ms-blob-type': { const: 'BlockBlob' },
              'Content-Type': { type: 'string' },
            },
            additionalProperties: { type: 'string' },
          },
          expiresOn: { type: 'string', format: 'date-time' },
          maxBytes: { type: 'integer', minimum: 1 },
          statusUrl: {
            type: 'string',
            format: 'uri',
            description:
              'Where to poll, under the API’s configured public URL. In anonymous mode it carries the `statusToken` capability: a secret, like the upload URL.',
          },
        },
      },
      ProcessedOutput: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'width', 'height', 'contentType', 'size', 'url'],
        properties: {
          name: { type: 'string' },
          width: { type: 'integer', minimum: 1 },
          height: { type: 'integer', minimum: 1 },
          contentType: { type: 'string' },
          size: { type: 'integer', minimum: 1 },
          url: {
            type: 'string',
            format: 'uri',
            description: 'Read URL, valid until `urlsExpireOn`.',
          },
        },
      },
      UploadStatus: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['uploadId', 'status', 'stage', 'metadata', 'issuedAt'],
            properties: {
              ...KNOWN,
              status: { const: 'pending' },
              stage: {
                enum: PENDING_STAGES,
                description:
                  '`awaiting-upload` until the file arrives, `scanning` while its malware scan is awaited, then `processing`.',
              },
            },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: [
              'uploadId',
              'status',
              'metadata',
              'issuedAt',
              'outputs',
              'urlsExpireOn',
              'completedAt',
            ],
            properties: {
              ...KNOWN,
              status: { const: 'processed' },
              original: {
                type: 'object',
                required: ['format', 'width', 'height'],
                properties: {
                  format: { type: 'string' },
                  width: { type: 'integer' },
                  height: { type: 'integer' },
                  size: { type: 'integer', description: 'Bytes uploaded.' },
                },
              },
              outputs: { type: 'array', items: ref('ProcessedOutput') },
              urlsExpireOn: { type: 'string', format: 'date-time' },
              completedAt: { type: 'string', format: 'date-time' },
            },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: [
              'uploadId',
              'status',
              'reason',
              'message',
              'metadata',
              'issuedAt',
              'completedAt',
            ],
            properties: {
              ...KNOWN,
              status: { const: 'rejected' },
              reason: { enum: REJECT_REASONS },
              message: { type: 'string' },
              completedAt: { type: 'string', format: 'date-time' },
            },
          },
          {
            type: 'object',
            additionalProperties: false,
            // No completedAt when no outcome was ever recorded (`not-uploaded`, or the pending deadline passed).
            required: ['uploadId', 'status', 'reason', 'message', 'metadata', 'issuedAt'],
            properties: {
              ...KNOWN,
              status: { const: 'failed' },
              reason: {
                enum: FAIL_REASONS,
                description: '`not-uploaded`: the upload URL expired and nothing came with it.',
              },
              message: { type: 'string' },
              completedAt: { type: 'string', format: 'date-time' },
            },
          },
        ],
      },
      UploadSummary: {
        type: 'object',
        additionalProperties: false,
        required: ['uploadId', 'status', 'fileName', 'contentType', 'metadata', 'issuedAt'],
        properties: {
          ...KNOWN,
          status: { enum: ['pending', 'processed', 'rejected', 'failed'] },
          stage: {
            enum: PENDING_STAGES,
            description:
              'Given only where the listing checked it; the status endpoint always says.',
          },
          reason: { enum: [...REJECT_REASONS, ...FAIL_REASONS] },
          fileName: { type: 'string', description: 'As the caller declared it.' },
          contentType: { type: 'string' },
          size: { type: 'integer', minimum: 1, description: 'As declared.' },
          completedAt: { type: 'string', format: 'date-time' },
          dropZone: { type: 'string' },
        },
      },
      UploadList: {
        type: 'object',
        additionalProperties: false,
        required: ['uploads'],
        properties: {
          uploads: { type: 'array', items: ref('UploadSummary'), maxItems: 100 },
          nextCursor: {
            type: 'string',
            description: 'Opaque; pass it as `cursor` for the next page. Absent on the last page.',
          },
        },
      },
      UploadLimits: {
        type: 'object',
        additionalProperties: false,
        required: [
          'maxBytes',
          'allowedContentTypes',
          'maxFileNameLength',
          'maxInputPixels',
          'variants',
          'uploadUrlTtlSeconds',
          'readUrlTtlSeconds',
          'metadata',
        ],
        properties: {
          maxBytes: { type: 'integer', minimum: 1 },
          allowedContentTypes: { type: 'array', items: { type: 'string' }, minItems: 1 },
          maxFileNameLength: { type: 'integer', minimum: 1 },
          maxInputPixels: { type: 'integer', minimum: 1 },
          variants: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'width', 'format'],
              properties: {
                name: { type: 'string' },
                width: { type: 'integer', minimum: 1 },
                format: { enum: [...OUTPUT_FORMATS] },
              },
            },
          },
          uploadUrlTtlSeconds: { type: 'integer', minimum: 1 },
          readUrlTtlSeconds: { type: 'integer', minimum: 1 },
          metadata: {
            type: 'object',
            additionalProperties: false,
            required: ['maxEntries', 'maxBytes', 'keyPattern'],
            description: 'What `metadata` on `POST /uploads` may hold.',
            properties: {
              maxEntries: { type: 'integer', minimum: 0 },
              maxBytes: { type: 'integer', minimum: 0, description: 'Keys and values, UTF-8.' },
              keyPattern: { type: 'string', format: 'regex' },
            },
          },
        },
      },
    },
  },
};
