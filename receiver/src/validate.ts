/**
 * Checks a parsed JSON value as a CloudEvents 1.0 event (the JSON format's rules) and then as
 * a directdrop outcome event (the fields docs/events.md documents), and names the first field
 * at fault. Fields this package does not know are kept and not checked, so the server can
 * add some; an unknown event type or caller kind is refused, as acting on it blindly could
 * attribute an upload to the wrong user.
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
import { ReceiverError } from './errors.js';
import {
  OUTCOME_DATA_FIELDS,
  OUTCOME_EVENT_TYPES,
  type OutcomeEventType,
  type UploadOutcomeEvent,
} from './events.js';

type Json = Record<string, unknown>;

const CONTEXT_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'datacontenttype',
  'dataschema',
  'subject',
  'time',
]);
/** CloudEvents attribute names: lower-case ASCII letters and digits. */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/** RFC 3339 date-time, as CloudEvents' `time` and directdrop's timestamps are written. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `where` is a field (`data.outputs[0].width`) or, for the whole event, its prefix (`event[2].` or ''). */
function fail(code: 'invalid-cloudevent' | 'invalid-event', where: string, problem: string): never {
  const field = where.replace(/\.$/, '');
  throw new ReceiverError(code, field ? `${field}: ${problem}` : problem);
}

function nonEmptyString(
  value: unknown,
  where: string,
  code: 'invalid-cloudevent' | 'invalid-event',
) {
  if (typeof value !== 'string' || value === '') fail(code, where, 'expected a non-empty string');
}

function timestamp(value: unknown, where: string, code: 'invalid-cloudevent' | 'invalid-event') {
  if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    fail(code, where, 'expected an RFC 3339 timestamp');
  }
}

function integer(value: unknown, where: string, min: number) {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(
      'invalid-event',
      where,
      min > 0 ? 'expected a positive integer' : 'expected an integer ≥ 0',
    );
  }
}

function object(value: unknown, where: string): Json {
  if (!isObject(value)) fail('invalid-event', where, 'expected an object');
  return value;
}

/** The CloudEvents 1.0 rules for one event in the JSON format. */
function checkCloudEvent(event: unknown, where: string): asserts event is Json {
  if (!isObject(event)) fail('invalid-cloudevent', where, 'expected a JSON object');
  if (event.specversion !== '1.0')
    fail('invalid-cloudevent', `${where}specversion`, 'expected "1.0"');
  for (const name of ['id', 'source', 'type'] as const) {
    nonEmptyString(event[name], `${where}${name}`, 'invalid-cloudevent');
  }
  for (const name of ['datacontenttype', 'dataschema', 'subject'] as const) {
    if (Object.hasOwn(event, name))
      nonEmptyString(event[name], `${where}${name}`, 'invalid-cloudevent');
  }
  if (Object.hasOwn(event, 'time')) timestamp(event.time, `${where}time`, 'invalid-cloudevent');
  if (Object.hasOwn(event, 'data') && Object.hasOwn(event, 'data_base64')) {
    fail('invalid-cloudevent', where, 'data and data_base64 are mutually exclusive');
  }
  for (const [name, value] of Object.entries(event)) {
    if (CONTEXT_ATTRIBUTES.has(name) || name === 'data' || name === 'data_base64') continue;
    if (!ATTRIBUTE_NAME.test(name)) {
      fail(
        'invalid-cloudevent',
        `${where}${name}`,
        'attribute names are lower-case letters and digits',
      );
    }
    if (!['string', 'number', 'boolean'].includes(typeof value)) {
      fail(
        'invalid-cloudevent',
        `${where}${name}`,
        'extension attributes are strings, numbers or booleans',
      );
    }
  }
}

const CALLER_FIELDS: Record<string, readonly string[]> = {
  oidc: ['issuer', 'subject'],
  functionKey: ['keyName'],
  anonymous: [],
  dropZone: ['zone'],
};

function checkOutputs(value: unknown, where: string) {
  if (!Array.isArray(value)) fail('invalid-event', where, 'expected an array');
  value.forEach((item, index) => {
    const at = `${where}[${index}]`;
    const output = object(item, at);
    for (const name of ['name', 'contentType', 'blobPath'])
      nonEmptyString(output[name], `${at}.${name}`, 'invalid-event');
    integer(output.size, `${at}.size`, 0);
    integer(output.width, `${at}.width`, 1);
    integer(output.height, `${at}.height`, 1);
  });
}

/** One check per `data` field; which fields each type requires is OUTCOME_DATA_FIELDS. */
const DATA_FIELD_CHECKS: Record<string, (value: unknown, where: string) => void> = {
  uploadId: (value, where) => nonEmptyString(value, where, 'invalid-event'),
  // The status agrees with the type; checked with the envelope below.
  status: (value, where) => nonEmptyString(value, where, 'invalid-event'),
  metadata: (value, where) => {
    for (const [key, entry] of Object.entries(object(value, where))) {
      if (typeof entry !== 'string') fail('invalid-event', `${where}.${key}`, 'expected a string');
    }
  },
  caller: (value, where) => {
    const caller = object(value, where);
    const kind = caller.kind;
    const fields =
      typeof kind === 'string' && Object.hasOwn(CALLER_FIELDS, kind)
        ? CALLER_FIELDS[kind]
        : undefined;
    if (!fields) {
      fail(
        'invalid-event',
        `${where}.kind`,
        `expected one of ${Object.keys(CALLER_FIELDS).join(', ')}`,
      );
    }
    for (const name of fields) nonEmptyString(caller[name], `${where}.${name}`, 'invalid-event');
  },
  dropZone: (value, where) => nonEmptyString(value, where, 'invalid-event'),
  issuedAt: (value, where) => timestamp(value, where, 'invalid-event'),
  uploadedAt: (value, where) => timestamp(value, where, 'invalid-event'),
  completedAt: (value, where) => timestamp(value, where, 'invalid-event'),
  deletedAt: (value, where) => timestamp(value, where, 'invalid-event'),
  outputs: checkOutputs,
  original: (value, where) => {
    const original = object(value, where);
    nonEmptyString(original.format, `${where}.format`, 'invalid-event');
    integer(original.size, `${where}.size`, 0);
    integer(original.width, `${where}.width`, 1);
    integer(original.height, `${where}.height`, 1);
  },
  reason: (value, where) => nonEmptyString(value, where, 'invalid-event'),
  message: (value, where) => {
    if (typeof value !== 'string') fail('invalid-event', where, 'expected a string');
  },
};

const isOutcomeType = (type: string): type is OutcomeEventType =>
  (OUTCOME_EVENT_TYPES as readonly string[]).includes(type);

export interface EventOptions {
  /** Accept only events from these `source`s (e.g. `['urn:directdrop:prod']`); default any. */
  sources?: readonly string[];
}

/**
 * A directdrop outcome event from a parsed JSON value, or a ReceiverError naming the field.
 * `where` prefixes field names (e.g. `event[2].` inside a batch).
 */
export function toOutcomeEvent(
  candidate: unknown,
  options: EventOptions = {},
  where = '',
): UploadOutcomeEvent {
  checkCloudEvent(candidate, where);
  if (options.sources && !options.sources.includes(candidate.source as string)) {
    throw new ReceiverError(
      'unexpected-source',
      `${where}source: not one of the sources this receiver accepts`,
    );
  }
  const type = candidate.type as string;
  if (!isOutcomeType(type)) {
    throw new ReceiverError(
      'unknown-event-type',
      `${where}type: not a directdrop outcome event type`,
    );
  }
  const contentType = candidate.datacontenttype;
  if (contentType !== undefined && !/^application\/json\s*(;|$)/i.test(contentType as string)) {
    fail('invalid-event', `${where}datacontenttype`, 'expected application/json');
  }
  const data = isObject(candidate.data)
    ? candidate.data
    : fail('invalid-event', `${where}data`, 'expected an object');
  const fields = OUTCOME_DATA_FIELDS[type];
  for (const name of fields.required) {
    if (!Object.hasOwn(data, name)) fail('invalid-event', `${where}data.${name}`, 'missing');
  }
  for (const name of [...fields.required, ...fields.optional]) {
    if (Object.hasOwn(data, name)) DATA_FIELD_CHECKS[name](data[name], `${where}data.${name}`);
  }
  if (data.status !== type.slice('directdrop.upload.'.length)) {
    fail(
      'invalid-event',
      `${where}data.status`,
      `expected "${type.slice('directdrop.upload.'.length)}" for ${type}`,
    );
  }
  if (candidate.subject !== `uploads/${data.uploadId as string}`) {
    fail('invalid-event', `${where}subject`, 'expected uploads/<data.uploadId>');
  }
  if (!Object.hasOwn(candidate, 'time')) fail('invalid-event', `${where}time`, 'missing');
  return candidate as unknown as UploadOutcomeEvent;
}
