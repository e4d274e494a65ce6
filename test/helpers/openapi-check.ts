/**
 * Checks API answers against the service's own OpenAPI document: every response a test gets
 * through {@link OpenApiChecker.call} must be documented for its route and status, and a JSON
 * body must match the documented schema (JSON Schema 2020-12, checked with ajv).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';

interface Document {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>;
  components: { schemas: Record<string, object> };
}

/** Calls an API and checks each answer against its OpenAPI document. */
export interface OpenApiChecker {
  /** `fetch` through `send`, then the answer is checked (a mismatch throws, naming the route). */
  call(path: string, init?: RequestInit): Promise<Response>;
  /** Answers checked so far. */
  readonly checked: number;
}

/** Loads the document from `GET /api/openapi.json` through `send` and returns a checker. */
export async function openApiChecker(send: (path: string, init?: RequestInit) => Promise<Response>): Promise<OpenApiChecker> {
  const document = (await (await send('/api/openapi.json')).json()) as Document;
  if (!String((document as unknown as { openapi: string }).openapi).startsWith('3.1')) throw new Error('not an OpenAPI 3.1 document');
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'components', ...document.components }, 'components');
  const routes = Object.entries(document.paths).map(([template, operations]) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{file\}/, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    operations,
  }));
  const validators = new Map<object, ValidateFunction>();
  const validate = (schema: object): ValidateFunction => {
    let fn = validators.get(schema);
    if (!fn) {
      // Error bodies point at #/components/schemas/Error: resolve it against the document.
      fn = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/schemas/')) as object);
      validators.set(schema, fn);
    }
    return fn;
  };
  let checked = 0;
  return {
    get checked() {
      return checked;
    },
    async call(path, init = {}) {
      const response = await send(path, init);
      const method = (init.method ?? 'GET').toLowerCase();
      const pathname = new URL(path, 'http://x').pathname;
      const route = routes.find((r) => r.pattern.test(pathname) && r.operations[method]);
      if (!route) throw new Error(`${method.toUpperCase()} ${pathname} is not in the OpenAPI document`);
      const answer = route.operations[method]!.responses[String(response.status)];
      if (!answer) throw new Error(`${method.toUpperCase()} ${route.template} answered ${response.status}, which the document does not list`);
      const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
      const json = answer.content?.['application/json'];
      if (json?.schema && type === 'application/json') {
        const body: unknown = await response.clone().json();
        const fn = validate(json.schema);
        if (!fn(body)) throw new Error(`${method.toUpperCase()} ${route.template} ${response.status}: the body does not match the document: ${ajv.errorsText(fn.errors)}`);
      } else if (answer.content && !Object.keys(answer.content).some((t) => t === type || t === 'application/octet-stream' || (t === 'application/json' && type === 'application/json'))) {
        throw new Error(`${method.toUpperCase()} ${route.template} ${response.status}: content type ${type} is not documented`);
      }
      checked++;
      return response;
    },
  };
}
