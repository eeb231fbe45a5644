import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FerryError } from '../core/errors.js';
import { FILES_PREFIX, type HttpContext } from './context.js';
import { uploadLimit } from './ietf/handlers.js';
import { TUS_VERSION } from './tus/handlers.js';

const PROBLEM_TYPES: Partial<Record<FerryError['code'], string>> = {
  offset_mismatch: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
  inconsistent_length: 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length',
};

/**
 * The one place errors become responses. Domain errors keep their code and status; Fastify's own
 * client errors (bad JSON, unknown route) keep theirs; anything else is a bug, logged with its stack
 * and answered 500 without internals.
 */
export function sendError(ctx: HttpContext, request: FastifyRequest, reply: FastifyReply, err: unknown): void {
  const ferry = toFerryError(err);
  if (!ferry) {
    request.log.error({ err }, 'unhandled error');
    reply.code(500).type('application/json').send({ error: { code: 'internal', message: 'internal server error' } });
    return;
  }
  // A body nobody will read is not worth receiving: close the connection rather than drain it.
  if (!request.raw.complete && bodyIsLarge(request)) reply.header('Connection', 'close');
  reply.code(ferry.status);

  const version = ietfVersionOf(request);
  if (version !== null) {
    sendProblem(ctx, reply, ferry, version);
    return;
  }
  if (request.url.startsWith(FILES_PREFIX)) {
    reply.header('Tus-Resumable', TUS_VERSION);
    if (ferry.code === 'missing_tus_resumable') reply.header('Tus-Version', TUS_VERSION);
    if (ferry.code === 'offset_mismatch') reply.header('Upload-Offset', String(ferry.details.expectedOffset));
  }
  reply.type('application/json').send({ error: { code: ferry.code, message: ferry.message } });
}

function sendProblem(ctx: HttpContext, reply: FastifyReply, err: FerryError, version: number): void {
  reply.header('Upload-Complete', '?0');
  const problem: Record<string, unknown> = { type: PROBLEM_TYPES[err.code] ?? 'about:blank', title: err.message, code: err.code };
  if (err.code === 'offset_mismatch') {
    reply.header('Upload-Offset', String(err.details.expectedOffset));
    problem['expected-offset'] = err.details.expectedOffset;
    problem['provided-offset'] = err.details.providedOffset;
  }
  if (err.status === 413 && version >= 6) reply.header('Upload-Limit', uploadLimit(ctx, version));
  reply.type('application/problem+json').send(problem);
}

function toFerryError(err: unknown): FerryError | null {
  if (err instanceof FerryError) return err;
  const fastify = err as Partial<FastifyError> | undefined;
  const status = fastify?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 415 ? 'unsupported_media_type' : status === 413 ? 'too_large' : status === 404 ? 'upload_not_found' : 'invalid_request';
    return new FerryError(code, fastify?.message ?? 'bad request', { cause: err });
  }
  return null;
}

function ietfVersionOf(request: FastifyRequest): number | null {
  const raw = request.headers['upload-draft-interop-version'];
  return raw === undefined || Array.isArray(raw) ? null : Number.parseInt(raw, 10) || null;
}

function bodyIsLarge(request: FastifyRequest): boolean {
  const length = Number(request.headers['content-length'] ?? Number.NaN);
  return !(length <= 64 * 1024);
}
