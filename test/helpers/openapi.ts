/**
 * Real responses checked against the OpenAPI document's schemas (ajv, JSON Schema
 * 2020-12 as OpenAPI 3.1 uses), so the handlers and the contract cannot drift apart.
 */
import { dereference } from '@readme/openapi-parser';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { OPENAPI_DOCUMENT } from '../../functions/core/openapi';

interface HeaderSpec {
  required?: boolean;
  schema: object;
}
interface ResponseSpec {
  headers?: Record<string, HeaderSpec>;
  content?: Record<string, { schema: object }>;
}
interface Operation {
  responses: Record<string, ResponseSpec>;
}
type Paths = Record<string, Record<string, Operation>>;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface Contract {
  /** Why `answer` breaks the documented response of `method path`; empty when it does not. */
  problems(method: string, path: string, answer: Answer): string[];
}

let loaded: Promise<Contract> | undefined;

export function apiContract(): Promise<Contract> {
  loaded ??= load();
  return loaded;
}

async function load(): Promise<Contract> {
  const document = (await dereference(structuredClone(OPENAPI_DOCUMENT) as never)) as unknown as {
    paths: Paths;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const compiled = new WeakMap<object, ValidateFunction>();
  const validator = (schema: object) => {
    let fn = compiled.get(schema);
    if (!fn) compiled.set(schema, (fn = ajv.compile(schema)));
    return fn;
  };
  return {
    problems(method, path, answer) {
      const operation = document.paths[path]?.[method.toLowerCase()];
      if (!operation) return [`${method} ${path} is not in the document`];
      const spec = operation.responses[String(answer.status)];
      if (!spec) return [`${method} ${path} documents no ${answer.status}`];
      const problems: string[] = [];
      for (const [name, header] of Object.entries(spec.headers ?? {})) {
        const raw = answer.headers[name.toLowerCase()];
        const value = Array.isArray(raw) ? raw.join(', ') : raw;
        if (value === undefined) {
          if (header.required) problems.push(`header ${name} is missing`);
          continue;
        }
        const typed =
          (header.schema as { type?: string }).type === 'integer' ? Number(value) : value;
        const check = validator(header.schema);
        if (!check(typed)) problems.push(`header ${name}: ${ajv.errorsText(check.errors)}`);
      }
      const schema = spec.content?.['application/json']?.schema;
      if (schema) {
        const check = validator(schema);
        if (!check(answer.body)) problems.push(`body: ${ajv.errorsText(check.errors)}`);
      }
      return problems;
    },
  };
}
