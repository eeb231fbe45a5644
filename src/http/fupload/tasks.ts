import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { AccountService } from '../../core/accounts.js';
import type { BlockUploads } from '../../core/block-uploads.js';
import { FerryError, isFerryError } from '../../core/errors.js';
import { parseFileName } from '../../core/names.js';
import type { Principal } from '../../core/principal.js';
import type { Upload } from '../../core/upload.js';
import type { UploadService } from '../../core/uploads.js';
import type { MetaStore, OutboxEntry, OutboxRecords } from '../../meta/types.js';
import type { UploadEventBus } from '../../core/events.js';
import type { LibraryService } from '../../core/library.js';
import type { BusinessServer, BusinessServers } from './clients.js';

/** Aliases of fupload tasks live under this pseudo-owner: a task id alone names a task. */
const TASKS = 'fupload';

export const RET = { done: '0', md5: '-2', timeout: '-1' } as const;
const CALLBACK_STATUS: Record<string, string> = { '0': 'ok', '-2': 'md5 error', '-1': 'time out' };

export interface NewTask {
  readonly userId: string;
  readonly storePath: string;
  readonly fileName: string;
  readonly fileSize: number;
  readonly fileMd5: string;
  readonly feedback: unknown;
}

export interface Task {
  readonly id: number;
  readonly upload: Upload;
  readonly owner: Principal;
}

/**
 * fuploadServer's tasks over block uploads. A task has the numeric id its clients expect, and a key
 * that the URLs handed out carry: the block, state and blocks routes authenticate by that key (the
 * original let anyone who guessed a task id write to it).
 */
export class FuploadTasks {
  constructor(private readonly deps: {
    readonly servers: BusinessServers;
    readonly accounts: AccountService;
    readonly uploads: UploadService;
    readonly blocks: BlockUploads;
    readonly meta: MetaStore;
  }) {}

  /** Creates the task, or, like the original, hands back the unfinished task of this user and file. */
  async open(server: BusinessServer, request: NewTask): Promise<{ task: Task; key: string }> {
    const owner = await this.deps.accounts.delegatedUser(`fu-${server.tag}-${request.userId}`, `fupload-${server.tag}`);
    const name = parseFileName(`${folderOf(request.storePath)}${request.fileName}`);
    const md5 = request.fileMd5.toLowerCase();
    const previous = await this.deps.meta.uploads.findAlias(owner.userId, 'fupload', md5);
    const unfinished = previous ? await this.deps.meta.uploads.get(previous) : null;
    if (unfinished && (unfinished.state === 'open' || unfinished.state === 'paused') && unfinished.size === request.fileSize) {
      const id = Number(unfinished.metadata['fupload.task']);
      return { task: { id, upload: unfinished, owner }, key: taskKey(server, id) };
    }
    const id = randomInt(1, 2 ** 48);
    const upload = await this.deps.blocks.create(owner, {
      size: request.fileSize,
      expectedMd5: request.fileMd5,
      metadata: {
        filename: name,
        'fupload.task': String(id),
        'fupload.client': server.tag,
        'fupload.feedback': JSON.stringify(request.feedback ?? null),
      },
    });
    await this.deps.meta.uploads.claimAlias(TASKS, 'task', String(id), upload.id, null);
    await this.deps.meta.uploads.claimAlias(owner.userId, 'fupload', md5, upload.id, previous);
    return { task: { id, upload, owner }, key: taskKey(server, id) };
  }

  /** The task the id and key name; the same answer for a wrong key as for no task at all. */
  async find(taskId: string, key: string): Promise<Task> {
    const uploadId = /^\d{1,16}$/.test(taskId) ? await this.deps.meta.uploads.findAlias(TASKS, 'task', taskId) : null;
    const upload = uploadId ? await this.deps.meta.uploads.get(uploadId) : null;
    const server = upload ? this.deps.servers.byTag(upload.metadata['fupload.client'] ?? '') : null;
    if (!upload || !server || !keyMatches(taskKey(server, Number(taskId)), key) || upload.state === 'terminated' || upload.state === 'expired') {
      throw new FerryError('upload_not_found', 'can not find task');
    }
    const user = await this.deps.accounts.getUser(upload.ownerId);
    return { id: Number(taskId), upload, owner: { userId: upload.ownerId, tenant: user?.tenant ?? '' } };
  }

  async cancel(task: Task): Promise<void> {
    await this.deps.uploads.terminate(task.owner, task.upload.id).catch((err: unknown) => {
      if (!isFerryError(err, 'upload_gone')) throw err;
    });
  }

  /**
   * Sends the business server its callbacks: success in the completion's own transaction (a crash
   * cannot lose it), an MD5 mismatch when a task is discarded for it, a timeout when it expires.
   */
  attach(events: UploadEventBus, library: LibraryService, outbox: OutboxRecords, onQueued: () => void): void {
    library.addCompletionMessages((upload) => this.callback(upload, RET.done));
    events.on('completed', (upload) => { if (upload.metadata['fupload.task']) onQueued(); });
    const queue = (upload: Upload, retCode: string) => {
      const messages = this.callback(upload, retCode);
      if (messages.length > 0) void outbox.enqueue(messages).then(onQueued, () => undefined);
    };
    events.on('expired', (upload) => queue(upload, RET.timeout));
    events.on('discarded', (upload, reason) => { if (reason === 'md5_mismatch') queue(upload, RET.md5); });
  }

  /** The callback to the task's business server, if the upload is a task and its server is still configured. */
  callback(upload: Upload, retCode: string): OutboxEntry[] {
    const taskId = upload.metadata['fupload.task'];
    const server = this.deps.servers.byTag(upload.metadata['fupload.client'] ?? '');
    if (!taskId || !server) return [];
    const feedback = JSON.parse(upload.metadata['fupload.feedback'] ?? 'null') as unknown;
    const id = randomBytes(16).toString('hex');
    // The original sends the feedback as `date`, a typo of its own README's `data`: both, so either kind of receiver works.
    const body = JSON.stringify({ retCode, status: CALLBACK_STATUS[retCode], data: feedback, date: feedback, taskId: Number(taskId) });
    return [{ id, destination: server.notifyUrl, orderingKey: `fupload:${taskId}`, body, createdAt: new Date() }];
  }
}

/**
 * storePath names a folder of the user's library, never a place on disk. Business servers written
 * for the original send absolute paths ("/tmp/business/"): those count from the library's root.
 * `..`, NUL, backslashes and drive letters are refused.
 */
function folderOf(storePath: string): string {
  if (/\0|\\|^[A-Za-z]:/.test(storePath) || storePath.split('/').includes('..')) {
    throw new FerryError('invalid_name', 'storePath must be a folder name without "..", backslashes or drive letters');
  }
  const folder = storePath.split('/').filter((segment) => segment !== '' && segment !== '.').join('/');
  return folder === '' ? '' : `${folder}/`;
}

/**
 * The key in a task's URLs: derived from the business server's token, so it can be handed out again
 * when the server reopens the task, and never stored.
 */
function taskKey(server: BusinessServer, taskId: number): string {
  return createHmac('sha256', server.token).update(`fupload-task:${taskId}`).digest('base64url');
}

function keyMatches(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
