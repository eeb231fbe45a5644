import type { BlockOutcome, BlockUploads, ByteSpan } from '../../core/block-uploads.js';
import { FerryError } from '../../core/errors.js';
import { readJson } from '../api/registry.js';
import type { HttpContext } from '../context.js';
import type { HttpReply, HttpRequest } from '../exchange.js';
import { receiveMultipart } from '../flow/multipart.js';
import type { Router } from '../router.js';
import type { BusinessServers } from './clients.js';
import type { FuploadTasks, Task } from './tasks.js';

const NEW_TASK = '/api/upload/new/task';
const BLOCK = '/api/upload/files/block';
const BLOCKS = '/api/upload/files/blocks/info';
const STATE = '/api/upload/files/state';

/** The original's answer codes, as its clients read them; the HTTP status says the same for everyone else. */
const FAILURES: [FerryError['code'][], string, string][] = [
  [['unauthorized'], '1', 'not authorized'],
  [['upload_not_found', 'upload_gone'], '2', 'can not find task'],
  [['upload_paused'], '4', 'task was pause'],
  [['digest_mismatch'], '7', 'temp part md5 error'],
  [['chunk_out_of_range', 'chunk_length_mismatch', 'client_aborted'], '8', 'temp part index error'],
];

export interface FuploadServices {
  readonly servers: BusinessServers;
  readonly tasks: FuploadTasks;
  readonly blocks: BlockUploads;
}

/**
 * gmluckly/fuploadServer's task API: a business server opens a task with its token; the client
 * then sends blocks (any byte ranges, each with its MD5) to the URLs it was given. Answers keep the
 * original's `{retCode, status, data}` shape and codes.
 */
export function registerFuploadRoutes(router: Router, ctx: HttpContext, fupload: FuploadServices): void {
  const handle = (work: (request: HttpRequest) => Promise<unknown>) => async (request: HttpRequest, reply: HttpReply) => {
    try {
      const data = await work(request);
      await reply.send(data instanceof StillExpected ? { retCode: '1', status: 'ok', data: data.spans } : { retCode: '0', status: 'ok', data: data ?? '' });
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      const [, retCode, status] = FAILURES.find(([codes]) => codes.includes(err.code)) ?? [[], err.status < 500 ? '6' : '20', err.status < 500 ? 'parameter error' : 'unknown system error'];
      await reply.code(err.status).send({ retCode, status, data: err.message });
    }
  };

  router.on('POST', NEW_TASK, handle(async (request) => {
    const body = await readObject(request);
    const server = fupload.servers.byToken(body.token);
    if (!server) throw new FerryError('unauthorized', 'not authorized');
    const { task, key } = await fupload.tasks.open(server, {
      userId: text(body.userId, 'userId', /^[A-Za-z0-9_.-]{1,40}$/),
      storePath: typeof body.storePath === 'string' ? body.storePath : '',
      fileName: text(body.fileName, 'fileName', /^[^/\\\0]{1,255}$/),
      fileSize: wholeNumber(body.fileSize, 'fileSize'),
      fileMd5: text(body.fileMd5, 'fileMd5', /^[0-9a-fA-F]{32}$/),
      feedback: body.feedBackParameter ?? body.feedbackParameter ?? null,
    });
    const base = ctx.config.publicUrl ?? `${request.protocol}://${request.host}`;
    const query = `taskId=${task.id}&key=${key}`;
    return { taskId: task.id, uploadUrl: `${base}${BLOCK}?${query}`, blocksUrl: `${base}${BLOCKS}?${query}`, stateUrl: `${base}${STATE}?${query}` };
  }));

  router.on('POST', BLOCK, handle(async (request) => {
    const task = await fromQuery(fupload.tasks, request);
    const outcome = await receiveMultipart(request, 'file', (fields, file) => {
      const start = wholeNumber(fields.startByte, 'startByte');
      const end = wholeNumber(fields.endByte, 'endByte');
      if (end < start) throw new FerryError('chunk_out_of_range', 'endByte is before startByte');
      const md5 = fields.partMd5 === undefined ? null : Buffer.from(text(fields.partMd5, 'partMd5', /^[0-9a-fA-F]{32}$/), 'hex');
      // endByte is inclusive, as in the original: n bytes from s end at s + n - 1.
      return fupload.blocks.putBlock(task.owner, task.upload.id, { start, end: end + 1, body: file.stream, md5 });
    });
    return blockAnswer(outcome);
  }));

  router.on('GET', BLOCKS, handle(async (request) => {
    const task = await fromQuery(fupload.tasks, request);
    const missing = await fupload.blocks.missing(task.upload);
    const status = task.upload.state === 'completed' ? 'finish' : task.upload.state === 'paused' ? 'pause' : 'uploading';
    return { totalSize: task.upload.size, status, expectBlocks: missing.map(inclusive) };
  }));

  router.on('POST', STATE, handle(async (request) => {
    const { status, taskId } = await readObject(request);
    // The original names the task in the body; the stateUrl handed out also carries it, with its key.
    const task = await fromQuery(fupload.tasks, request, typeof taskId === 'number' || typeof taskId === 'string' ? String(taskId) : undefined);
    if (status === 'cancel') {
      await fupload.tasks.cancel(task);
      return '';
    }
    if (status !== 'pause' && status !== 'upload') throw new FerryError('invalid_request', 'status must be pause, upload or cancel');
    const wanted = status === 'pause' ? 'paused' : 'open';
    if (task.upload.state === wanted) throw new FerryError('invalid_request', 'same as the old state');
    await fupload.blocks.setState(task.owner, task.upload.id, wanted);
    return '';
  }));
}

/** A block answer of retCode 1: the spans the client must still send. */
class StillExpected {
  constructor(readonly spans: { startByte: number; endByte: number }[]) {}
}

function blockAnswer(outcome: BlockOutcome): StillExpected | '' {
  if (outcome.kind === 'md5_mismatch') {
    throw new FerryError('sha256_mismatch', "the whole file's MD5 is not the declared one; the task is discarded");
  }
  if (outcome.kind === 'completed') return '';
  // Like the original, retCode 1 lists the holes behind the furthest byte stored, which the client
  // must fill; the stretch after it is simply what comes next.
  const size = outcome.upload.size ?? 0;
  const holes = outcome.missing.at(-1)?.end === size ? outcome.missing.slice(0, -1) : outcome.missing;
  return holes.length === 0 ? '' : new StillExpected(holes.map(inclusive));
}

async function fromQuery(tasks: FuploadTasks, request: HttpRequest, taskId?: string): Promise<Task> {
  const { query } = request;
  return tasks.find(query.get('taskId') ?? taskId ?? '', query.get('key') ?? '');
}

function inclusive(span: ByteSpan): { startByte: number; endByte: number } {
  return { startByte: span.start, endByte: span.end - 1 };
}

/** The JSON body, which these routes read as an object: `null`, an array or a number is refused. */
async function readObject(request: HttpRequest): Promise<Record<string, unknown>> {
  const body = await readJson(request);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new FerryError('invalid_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function text(value: unknown, name: string, pattern: RegExp): string {
  const raw = typeof value === 'number' ? String(value) : value;
  if (typeof raw !== 'string' || !pattern.test(raw)) throw new FerryError('invalid_request', `${name} is missing or malformed`);
  return raw;
}

/** A non-negative integer, sent as a JSON number or, as the original's own examples do, a string. */
function wholeNumber(value: unknown, name: string): number {
  const number = typeof value === 'string' && /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) throw new FerryError('invalid_request', `${name} must be a whole number`);
  return number;
}

