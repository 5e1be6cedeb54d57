import { Ajv2020 } from 'ajv/dist/2020.js';

/** One answer of the HTTP API as a client saw it. */
export interface SeenAnswer {
  method: string;
  /** The path and query asked for. */
  url: string;
  status: number;
  contentType: string | null;
  body: unknown;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>
  >;
}

/**
 * What a client generated from the OpenAPI document would find wrong in `answers`: a path or
 * method the document lacks, a status its operation does not list, a JSON body that does not
 * match the schema listed for that status. Answers outside `/v1` and bodies that are not JSON
 * (CSV, JSON lines, the event stream) are checked for their status only.
 */
export function undocumentedAnswers(
  doc: unknown,
  answers: readonly SeenAnswer[],
  /** Skip paths that match no route of the document (a fuzzer's), instead of reporting them. */
  { skipUnknownPaths = false }: { skipUnknownPaths?: boolean } = {},
): string[] {
  const document = doc as OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ ...(doc as object), $id: 'openapi' });
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  const problems = new Set<string>();
  for (const a of answers) {
    const path = a.url.split('?')[0]!;
    if (!path.startsWith('/v1/') || path === '/v1/openapi.json') continue;
    const found = templates.find((t) => t.pattern.test(path));
    const method = a.method.toLowerCase();
    const operation = found === undefined ? undefined : document.paths[found.template]![method];
    if (found === undefined && skipUnknownPaths) continue;
    if (found === undefined || operation === undefined) {
      problems.add(`${a.method} ${path}: not in the document`);
      continue;
    }
    const response = operation.responses?.[String(a.status)];
    if (response === undefined) {
      problems.add(`${a.method} ${found.template}: ${a.status} is not listed`);
      continue;
    }
    if (!(a.contentType ?? '').startsWith('application/json')) continue;
    if (response.content?.['application/json']?.schema === undefined) {
      problems.add(`${a.method} ${found.template}: ${a.status} answers JSON, the document gives no schema`);
      continue;
    }
    const pointer = [
      'paths',
      found.template.replace(/~/g, '~0').replace(/\//g, '~1'),
      method,
      'responses',
      String(a.status),
      'content',
      'application~1json',
      'schema',
    ].join('/');
    const validate = ajv.getSchema(`openapi#/${pointer}`);
    if (validate === undefined) {
      problems.add(`${a.method} ${found.template}: ${a.status}: its schema does not compile`);
      continue;
    }
    if (!validate(a.body))
      problems.add(
        `${a.method} ${found.template}: ${a.status} does not match its schema: ${ajv.errorsText(validate.errors)}`,
      );
  }
  return [...problems];
}
