import { Type, type Static } from '@sinclair/typebox';
import { FILE_LINK_TTL_SECONDS } from '../../core/accounts.js';
import { parseFolder } from '../../core/names.js';
import { bearerSecret } from '../auth.js';
import type { FileQuery } from '../../meta/types.js';
import type { HttpContext } from '../context.js';
import { sendFile } from '../download.js';
import type { ApiCall, ApiRegistry } from './registry.js';
import { errorResponses, FileJson, fileJson } from './schemas.js';

const TAG = 'files';
const DEFAULT_LIMIT = 50;
const DEFAULT_SORT = 'time';

const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_LIMIT })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  sort: Type.Optional(
    Type.Union([Type.Literal('name'), Type.Literal('size'), Type.Literal('time')], {
      default: DEFAULT_SORT,
      description: '`time` is when the file was added; `name` compares code points (case-sensitive)',
    }),
  ),
  order: Type.Optional(
    Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'Default: `desc` (newest first) for `time`, `asc` otherwise' }),
  ),
  q: Type.Optional(Type.String({ maxLength: 1024, description: 'Only names containing this text, ignoring case' })),
  folder: Type.Optional(
    Type.String({ maxLength: 1024, description: 'Only names under this folder, at any depth (`photos` or `photos/`)' }),
  ),
});

const FileList = Type.Object(
  {
    files: Type.Array(FileJson),
    total: Type.Integer({ minimum: 0, description: 'Files matching the filters, on all pages' }),
    limit: Type.Integer(),
    offset: Type.Integer(),
  },
  { title: 'FileList' },
);

const FileLink = Type.Object(
  {
    url: Type.String({ description: 'Path of the content with the signed `link` parameter' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Null without accounts (FERRY_AUTH=none): the content needs no token' }),
  },
  { title: 'FileLink' },
);

const Rename = Type.Object(
  {
    name: Type.String({
      description:
        'The new name, which may move the file between folders: `a/b/c.txt` puts it in `a/b/`. ' +
        'At most 1024 characters, segments of at most 255, no control characters, no empty, `.` or `..` segments, ' +
        'no leading or trailing `/` or spaces around a segment (answered 400 `invalid_name`)',
    }),
  },
  { additionalProperties: false },
);

// Every route here is authenticated: the registry resolves the principal (or answers 401) before
// the handler runs, hence `principal!`.
const UNAUTHORIZED = { 401: 'No valid token' };
const NOT_FOUND = { 404: 'No such file of yours: ids of other users are answered exactly like unknown ids (`file_not_found`)' };

/** The file library: each user's completed uploads, as named files. */
export function registerFilesApi(api: ApiRegistry, ctx: HttpContext, prefix: string): void {
  const base = `${prefix}/files`;

  api.route(
    {
      method: 'GET',
      path: base,
      summary: 'List your files, a page at a time',
      tag: TAG,
      query: ListQuery,
      responses: { 200: { description: 'One page', schema: FileList }, ...errorResponses({ 400: 'A query value is invalid', ...UNAUTHORIZED }) },
    },
    async ({ principal, query, reply }) => {
      const filter = fileQuery(query);
      const { files, total } = await ctx.library.list(principal!, filter);
      await reply.send({ files: files.map(fileJson), total, limit: filter.limit, offset: filter.offset });
    },
  );

  api.route(
    {
      method: 'GET',
      path: `${base}/:id`,
      summary: 'One file',
      tag: TAG,
      responses: { 200: { description: 'The file', schema: FileJson }, ...errorResponses({ ...UNAUTHORIZED, ...NOT_FOUND }) },
    },
    async ({ principal, params, reply }) => {
      await reply.send(fileJson(await ctx.library.get(principal!, params.id!)));
    },
  );

  api.route(
    {
      method: 'PATCH',
      path: `${base}/:id`,
      summary: 'Rename or move a file',
      tag: TAG,
      body: Rename,
      responses: {
        200: { description: 'The renamed file', schema: FileJson },
        ...errorResponses({ 400: 'The name or the body is invalid', ...UNAUTHORIZED, ...NOT_FOUND, 415: 'The body is not JSON' }),
      },
    },
    async ({ principal, params, body, reply }) => {
      await reply.send(fileJson(await ctx.library.rename(principal!, params.id!, body.name)));
    },
  );

  api.route(
    {
      method: 'DELETE',
      path: `${base}/:id`,
      summary: 'Delete a file',
      tag: TAG,
      responses: {
        204: { description: 'Deleted. Content no other file names is removed from storage by a background job' },
        ...errorResponses({ ...UNAUTHORIZED, ...NOT_FOUND }),
      },
    },
    async ({ principal, params, reply }) => {
      await ctx.library.remove(principal!, params.id!);
      await reply.code(204).send();
    },
  );

  api.route(
    {
      method: 'POST',
      path: `${base}/:id/link`,
      summary: 'A link that downloads the file without a token',
      tag: TAG,
      responses: {
        200: { description: `The link, good for ${FILE_LINK_TTL_SECONDS / 60} minutes or until the token is revoked, for this file only`, schema: FileLink },
        ...errorResponses({ ...UNAUTHORIZED, ...NOT_FOUND }),
      },
    },
    async ({ principal, params, request, reply }) => {
      const file = await ctx.library.find(principal!, params.id!);
      const content = `${base}/${file.id}/content`;
      const secret = bearerSecret(request);
      // Without accounts there is no token to sign with, and the content needs none.
      const signed = ctx.config.auth === 'none' || secret === null ? null : await ctx.accounts.signFileLink(secret, file.id);
      await reply.send({
        url: signed ? `${content}?link=${signed.link}` : content,
        expiresAt: signed ? signed.expiresAt.toISOString() : null,
      });
    },
  );

  for (const method of ['GET', 'HEAD'] as const) {
    api.route(
      {
        method,
        path: `${base}/:id/content`,
        fileLink: true,
        summary: method === 'GET' ? 'Download a file' : 'The headers of a download',
        tag: TAG,
        headers: [
          { name: 'Range', description: 'One `bytes=` range; several ranges or other units get the whole file' },
          { name: 'If-Range', description: 'The ETag the Range was computed against; when it changed the whole file is sent' },
          { name: 'If-None-Match', description: 'ETags the client holds; answered 304 when one is current' },
        ],
        responses: {
          200: { description: 'The content, as an attachment (ETag: the quoted sha256)', mediaType: '*/*' },
          206: { description: 'The requested range, with Content-Range', mediaType: '*/*' },
          304: { description: 'The client holds the current content' },
          ...errorResponses({ ...UNAUTHORIZED, ...NOT_FOUND, 416: 'The range starts past the end (Content-Range: bytes */size)' }),
        },
      },
      (call) => download(ctx, call),
    );
  }
}

async function download(ctx: HttpContext, { principal, params, request, reply }: ApiCall<unknown, unknown>): Promise<void> {
  await sendFile(ctx, request, reply, await ctx.library.find(principal!, params.id!));
}

/** The API's query as the library's: defaults filled in, the folder validated like a name. */
function fileQuery(query: Static<typeof ListQuery>): FileQuery {
  const sort = query.sort ?? DEFAULT_SORT;
  return {
    sort,
    order: query.order ?? (sort === 'time' ? 'desc' : 'asc'),
    nameContains: query.q || null,
    folder: query.folder === undefined ? null : parseFolder(query.folder),
    limit: query.limit ?? DEFAULT_LIMIT,
    offset: query.offset ?? 0,
  };
}
