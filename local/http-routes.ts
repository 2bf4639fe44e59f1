/**
 * Route templates as the Functions host reads them (ASP.NET routing, the subset
 * directdrop can use): literal segments match case-insensitively, `{name}` captures
 * one segment, `{name?}` an optional last segment, `{*name}` the rest of the path.
 */
export interface RouteMatcher {
  template: string;
  /** The route parameters when `path` (no leading slash, no query) matches; else undefined. */
  match(path: string): Record<string, string> | undefined;
}

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean }
  | { kind: 'catchAll'; name: string };

export class RouteTemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`Route "${template}": ${problem}`);
    this.name = 'RouteTemplateError';
  }
}

function parseSegment(template: string, raw: string, isLast: boolean): Segment {
  const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(\?)?\}$/.exec(raw);
  if (param) {
    const [, star, name, optional] = param;
    if ((star || optional) && !isLast) {
      throw new RouteTemplateError(template, `only the last segment can be optional or catch-all`);
    }
    return star ? { kind: 'catchAll', name } : { kind: 'param', name, optional: Boolean(optional) };
  }
  if (/[{}]/.test(raw)) {
    throw new RouteTemplateError(
      template,
      `segment "${raw}" is not supported locally (constraints and mixed segments are not emulated)`,
    );
  }
  return { kind: 'literal', text: raw.toLowerCase() };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function compileRoute(template: string): RouteMatcher {
  const parts = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter(Boolean);
  const segments = parts.map((raw, index) =>
    parseSegment(template, raw, index === parts.length - 1),
  );
  return {
    template,
    match(path) {
      const pieces = path
        .replace(/^\/+|\/+$/g, '')
        .split('/')
        .filter(Boolean);
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i];
        if (segment.kind === 'catchAll') {
          const rest = pieces.slice(i).map(decodeSegment);
          if (rest.some((piece) => piece === undefined)) return undefined;
          if (rest.length > 0) params[segment.name] = rest.join('/');
          return params;
        }
        const piece = pieces[i];
        if (piece === undefined) {
          return segment.kind === 'param' && segment.optional ? params : undefined;
        }
        const decoded = decodeSegment(piece);
        if (decoded === undefined) return undefined;
        if (segment.kind === 'literal') {
          if (decoded.toLowerCase() !== segment.text) return undefined;
        } else {
          params[segment.name] = decoded;
        }
      }
      return pieces.length === segments.length ? params : undefined;
    },
  };
}
