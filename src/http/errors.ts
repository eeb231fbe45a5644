import type { HttpReply, HttpRequest } from './exchange.js';
import { FerryError } from '../core/errors.js';
import { FILES_PREFIX, type HttpContext } from './context.js';
import { uploadLimit } from './ietf/handlers.js';
import { TUS_VERSION } from './tus/handlers.js';

const PROBLEM_TYPES: Partial<Record<FerryError['code'], string>> = {
  offset_mismatch: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
  inconsistent_length: 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length',
};

/**
 * The one place errors become responses. Domain errors keep their code and status; anything else
 * is a bug, logged with its stack and answered 500 without internals.
 */
export async function sendError(ctx: HttpContext, request: HttpRequest, reply: HttpReply, err: unknown): Promise<void> {
  const ferry = err instanceof FerryError ? err : null;
  if (!ferry) {
    request.log.error({ err }, 'unhandled error');
    await reply.code(500).send({ error: { code: 'internal', message: 'internal server error' } });
    return;
  }
  // A body nobody will read is not worth receiving: close the connection rather than drain it.
  if (!request.raw.complete && bodyIsLarge(request)) reply.header('Connection', 'close');
  reply.code(ferry.status);
  // RFC 9110 §15.5.2: a 401 names the scheme that would be accepted.
  if (ferry.status === 401) reply.header('WWW-Authenticate', 'Bearer');

  const version = ietfVersionOf(request);
  if (version !== null) {
    await sendProblem(ctx, reply, ferry, version);
    return;
  }
  if (request.path.startsWith(FILES_PREFIX)) {
    reply.header('Tus-Resumable', TUS_VERSION);
    if (ferry.code === 'missing_tus_resumable') reply.header('Tus-Version', TUS_VERSION);
    if (ferry.code === 'offset_mismatch') reply.header('Upload-Offset', String(ferry.details.expectedOffset));
  }
  await reply.send({ error: { code: ferry.code, message: ferry.message } });
}

async function sendProblem(ctx: HttpContext, reply: HttpReply, err: FerryError, version: number): Promise<void> {
  reply.header('Upload-Complete', '?0');
  const problem: Record<string, unknown> = { type: PROBLEM_TYPES[err.code] ?? 'about:blank', title: err.message, code: err.code };
  if (err.code === 'offset_mismatch') {
    reply.header('Upload-Offset', String(err.details.expectedOffset));
    problem['expected-offset'] = err.details.expectedOffset;
    problem['provided-offset'] = err.details.providedOffset;
  }
  if (err.status === 413 && version >= 6) reply.header('Upload-Limit', uploadLimit(ctx, version));
  await reply.type('application/problem+json').send(problem);
}

/**
 * Which error format the client speaks. Unlike ietf.interopVersion this never throws: an error
 * about an unsupported version (even an empty or unreadable one) must still be answered in the
 * draft's format, so any Upload-Draft-Interop-Version header selects it; 0 stands for unreadable.
 */
function ietfVersionOf(request: HttpRequest): number | null {
  const raw = request.headers['upload-draft-interop-version'];
  if (raw === undefined) return null;
  return Number.parseInt(Array.isArray(raw) ? raw[0] ?? '' : raw, 10) || 0;
}

function bodyIsLarge(request: HttpRequest): boolean {
  const length = Number(request.headers['content-length'] ?? Number.NaN);
  return !(length <= 64 * 1024);
}
