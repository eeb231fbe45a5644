import { Type, type Static } from '@sinclair/typebox';
import type { FileDetails } from '../../core/library.js';
import type { ApiResponseSpec } from './registry.js';

/**
 * Schemas more than one group of /api/v1 routes answers with. They carry a `title` rather than an
 * `$id`: the registry inlines every schema where it is used, and one `$id` repeated across a
 * document would be ambiguous to JSON Schema tools.
 */

const HEX = (length: number) => ({ pattern: `^[0-9a-f]{${length}}$` });

/** The body of every error the API answers, whatever its status. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. `file_not_found`' }),
      message: Type.String({ description: 'For people; the wording may change' }),
    }),
  },
  { title: 'Error' },
);

/** Error responses for a route's spec, each described in the route's own words. */
export function errorResponses(descriptions: Readonly<Record<number, string>>): Record<number, ApiResponseSpec> {
  return Object.fromEntries(Object.entries(descriptions).map(([status, description]) => [status, { description, schema: ErrorBody }]));
}

export const FileJson = Type.Object(
  {
    id: Type.String(HEX(32)),
    name: Type.String({ description: 'Folders are `/`-separated prefixes: `photos/2026/cat.jpg` is `cat.jpg` in `photos/2026/`' }),
    size: Type.Integer({ minimum: 0, description: 'Bytes' }),
    type: Type.String({ description: 'Media type; application/octet-stream when the uploader gave none that is well-formed' }),
    sha256: Type.String({ ...HEX(64), description: 'Of the content; also the ETag of the download' }),
    sha1: Type.Union([Type.String(HEX(40)), Type.Null()], {
      description: 'Of the content; null until a background job has computed it, shortly after the content is first stored',
    }),
    md5: Type.Union([Type.String(HEX(32)), Type.Null()], {
      description: 'Of the content; null until a background job has computed it, shortly after the content is first stored',
    }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time', description: 'Last rename' }),
  },
  { title: 'File', additionalProperties: false },
);
export type FileJson = Static<typeof FileJson>;

/** The wire form of a library file: the owner is implied by the token and never shown. */
export function fileJson(file: FileDetails): FileJson {
  return {
    id: file.id,
    name: file.name,
    size: file.size,
    type: file.type,
    sha256: file.sha256,
    sha1: file.sha1,
    md5: file.md5,
    createdAt: file.createdAt.toISOString(),
    updatedAt: file.updatedAt.toISOString(),
  };
}
