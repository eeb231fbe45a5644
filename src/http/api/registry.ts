import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { FerryError } from '../../core/errors.js';
import { LOCAL_USER, type Principal } from '../../core/principal.js';
import { ownerOf, type HttpContext } from '../context.js';
import type { HttpReply, HttpRequest } from '../exchange.js';
import { readSmallBody } from '../headers.js';
import type { Router } from '../router.js';

// TypeBox checks formats only once they are registered; the API's schemas use this one.
FormatRegistry.Set('date-time', (value) => !Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}T/.test(value));

/** JSON bodies of the API are small; anything larger is refused before it is parsed. */
const MAX_JSON_BYTES = 64 * 1024;

export interface ApiResponseSpec {
  readonly description: string;
  readonly schema?: TSchema;
  /** A media type other than JSON (file content). */
  readonly mediaType?: string;
}

export interface ApiRouteSpec<B extends TSchema | undefined, Q extends TSchema | undefined> {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Router pattern: `:name` segments are path parameters. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** Public routes need no token (signup, login); all others act for an authenticated user. */
  readonly public?: boolean;
  /**
   * Also acts for the user of a signed link to the file named by `:id` (`?link=`, from POST
   * /files/{id}/link) instead of a token, for clients that cannot send a header (a browser link).
   */
  readonly fileLink?: boolean;
  readonly body?: B;
  readonly query?: Q;
  /** A raw (non-JSON) request body, described for the document only. */
  readonly rawBody?: { readonly mediaType: string; readonly description: string };
  /** Request headers the route reads, described for the document only. */
  readonly headers?: readonly { readonly name: string; readonly description: string; readonly required?: boolean }[];
  readonly responses: Readonly<Record<number, ApiResponseSpec>>;
}

type Input<S> = S extends TSchema ? Static<S> : undefined;

export interface ApiCall<B, Q> {
  readonly request: HttpRequest;
  readonly reply: HttpReply;
  readonly body: B;
  readonly query: Q;
  readonly params: Readonly<Record<string, string>>;
  /** The authenticated user; for public routes, LOCAL_USER is never implied: this is null. */
  readonly principal: Principal | null;
}

interface Registered {
  readonly spec: ApiRouteSpec<TSchema | undefined, TSchema | undefined>;
}

/**
 * The /api/v1 routes: each is declared once with the schemas that validate its input, and the
 * OpenAPI document is generated from those same declarations.
 */
export class ApiRegistry {
  private readonly routes: Registered[] = [];

  constructor(private readonly router: Router, private readonly ctx: HttpContext) {}

  route<B extends TSchema | undefined = undefined, Q extends TSchema | undefined = undefined>(
    spec: ApiRouteSpec<B, Q>,
    handler: (call: ApiCall<Input<B>, Input<Q>>) => Promise<void>,
  ): void {
    const bodyCheck = spec.body ? TypeCompiler.Compile(spec.body) : null;
    const queryCheck = spec.query ? TypeCompiler.Compile(spec.query) : null;
    this.routes.push({ spec: spec as ApiRouteSpec<TSchema | undefined, TSchema | undefined> });
    this.router.on(spec.method, spec.path, async (request, reply) => {
      const link = spec.fileLink ? request.query.get('link') : null;
      const principal = spec.public ? null : link !== null ? await linkedPrincipal(this.ctx, link, request.params.id ?? '') : await ownerOf(this.ctx, request);
      const query = queryCheck ? validate(queryCheck, parseQuery(request, queryCheck.Schema()), 'query') : undefined;
      const body = bodyCheck ? validate(bodyCheck, await readJson(request), 'body') : undefined;
      await handler({ request, reply, body: body as Input<B>, query: query as Input<Q>, params: request.params, principal });
    });
  }

  /** OpenAPI 3.1: JSON Schema 2020-12 is its schema dialect, so the TypeBox schemas go in as they are. */
  document(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const { spec } of this.routes) {
      const path = spec.path.replace(/:([A-Za-z]+)/g, '{$1}');
      const parameters: unknown[] = [...spec.path.matchAll(/:([A-Za-z]+)/g)].map((match) => ({
        name: match[1], in: 'path', required: true, schema: { type: 'string' },
      }));
      for (const [name, schema] of Object.entries((spec.query as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {})) {
        parameters.push({ name, in: 'query', required: (spec.query as { required?: string[] }).required?.includes(name) ?? false, schema: plain(schema) });
      }
      if (spec.fileLink) {
        parameters.push({ name: 'link', in: 'query', required: false, description: 'A signed link from POST /files/{id}/link, instead of a token', schema: { type: 'string' } });
      }
      for (const header of spec.headers ?? []) {
        parameters.push({ name: header.name, in: 'header', required: header.required ?? false, description: header.description, schema: { type: 'string' } });
      }
      const operation: Record<string, unknown> = {
        summary: spec.summary,
        tags: [spec.tag],
        parameters,
        responses: Object.fromEntries(Object.entries(spec.responses).map(([status, response]) => [status, responseDoc(response)])),
      };
      if (!spec.public) operation.security = [{ bearer: [] }];
      if (spec.body) operation.requestBody = { required: true, content: { 'application/json': { schema: plain(spec.body) } } };
      if (spec.rawBody) {
        operation.requestBody = { required: true, description: spec.rawBody.description, content: { [spec.rawBody.mediaType]: { schema: { type: 'string', format: 'binary' } } } };
      }
      (paths[path] ??= {})[spec.method.toLowerCase()] = operation;
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Ferry API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A session token from login or an API key' } } },
      paths,
    };
  }
}

function responseDoc(response: ApiResponseSpec): Record<string, unknown> {
  if (!response.schema && !response.mediaType) return { description: response.description };
  const mediaType = response.mediaType ?? 'application/json';
  return { description: response.description, content: { [mediaType]: { schema: response.schema ? plain(response.schema) : { type: 'string', format: 'binary' } } } };
}

/** TypeBox marks its schemas with symbols; JSON.stringify drops them, leaving plain JSON Schema. */
function plain(schema: TSchema): unknown {
  return JSON.parse(JSON.stringify(schema));
}

/** Without accounts (FERRY_AUTH=none) everyone is the one local user, and a link adds nothing. */
async function linkedPrincipal(ctx: HttpContext, link: string, fileId: string): Promise<Principal> {
  const principal = ctx.config.auth === 'none' ? LOCAL_USER : await ctx.accounts.verifyFileLink(link, fileId);
  if (!principal) throw new FerryError('unauthorized', 'the link is invalid or has expired');
  return principal;
}

function validate<S extends TSchema>(check: TypeCheck<S>, value: unknown, where: string): Static<S> {
  if (check.Check(value)) return value;
  const problems = [...check.Errors(value)].slice(0, 10).map((error) => ({ path: error.path || '/', message: error.message }));
  const first = problems[0];
  throw new FerryError('invalid_request', `invalid ${where}${first ? `: ${first.path} ${first.message}` : ''}`, { details: { problems } });
}

/**
 * Query values arrive as strings; they are converted to the schema's types before the check.
 * Integers only from plain decimal digits: TypeBox's conversion reads "1e3" as 1, "1.5" as 1 and
 * "0x10" as 16, and takes 19 digits past 2^53; anything but digits stays a string and fails the check.
 */
function parseQuery(request: HttpRequest, schema: TSchema): unknown {
  const search = request.query;
  const properties = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const raw: Record<string, string> = {};
  const integers: Record<string, number | string> = {};
  for (const [key, value] of search) {
    if (properties[key]?.type === 'integer') integers[key] = /^\d{1,16}$/.test(value) && Number.isSafeInteger(Number(value)) ? Number(value) : value;
    else raw[key] = value;
  }
  return { ...(Value.Convert(schema, Value.Default(schema, raw)) as Record<string, unknown>), ...integers };
}

export async function readJson(request: HttpRequest): Promise<unknown> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new FerryError('unsupported_media_type', 'send the body as application/json');
  const text = await readSmallBody(request, MAX_JSON_BYTES, 'a JSON body');
  try {
    return JSON.parse(text);
  } catch {
    throw new FerryError('invalid_json', 'the body is not valid JSON');
  }
}
