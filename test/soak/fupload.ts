/**
 * fuploadServer's task API as a business server and its client use it: the business server opens a
 * task, the client sends byte-range blocks with their MD5 to whichever node, and asks for the holes
 * before each attempt. The completed file belongs to the task's business user, so the audit reads
 * it from storage rather than through this (auth-less) soak user's API.
 */
import { createHash } from 'node:crypto';
import { Transient, call, cutPoint, type Step } from './attempt.js';
import { multipartBody } from './chunks.js';
import type { Plan, Protocol, Session } from './protocol.js';

/** The business server's token: FERRY_FUPLOAD_CLIENTS maps it to the soak's callback sink. */
export const FUPLOAD_TOKEN = 'soak-business-server-token';

const KiB = 1024;
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

interface TaskUrls {
  readonly taskId: number;
  readonly uploadUrl: string;
  readonly blocksUrl: string;
}

interface Answer {
  readonly retCode: string;
  readonly data: unknown;
}

export const fupload: Protocol = {
  name: 'fupload',
  // Blocks are written where they belong in the file, which S3 cannot do.
  supports: (storage) => storage === 'local',
  async begin(plan, step) {
    const body = JSON.stringify({
      token: FUPLOAD_TOKEN, userId: 'soak', storePath: '/soak/', fileName: plan.name, fileSize: plan.data.length, fileMd5: md5(plan.data),
      feedBackParameter: { label: plan.label },
    });
    const created = await call(`${step.base()}/api/upload/new/task`, 'fupload new task', { method: 'POST', headers: { 'content-type': 'application/json' }, body, expect: [200] });
    const answer = created.json() as Answer & { data: TaskUrls };
    if (answer.retCode !== '0') throw new Transient(`fupload new task: retCode ${answer.retCode}`);
    return new FuploadSession(plan, answer.data);
  },
};

class FuploadSession implements Session {
  readonly ref;

  constructor(private readonly plan: Plan, private readonly task: TaskUrls) {
    this.ref = { kind: 'fupload', taskId: task.taskId } as const;
  }

  async advance(step: Step): Promise<boolean> {
    const info = await call(this.on(step, this.task.blocksUrl), 'fupload blocks', { expect: [200] });
    const state = (info.json() as Answer & { data: { status: string; expectBlocks: { startByte: number; endByte: number }[] } }).data;
    if (state.status === 'finish') return true;
    for (const span of state.expectBlocks) {
      for (let start = span.startByte; start <= span.endByte;) {
        const end = Math.min(span.endByte, start + step.rng.logInt(16 * KiB, 4096 * KiB) - 1);
        const bytes = this.plan.data.subarray(start, end + 1);
        const { body, contentType } = multipartBody({ startByte: String(start), endByte: String(end), partMd5: md5(bytes) }, 'file', bytes);
        const res = await call(this.on(step, this.task.uploadUrl), `fupload block ${start}-${end}`, {
          method: 'POST', headers: { 'content-type': contentType }, body, cutAt: cutPoint(step, body.length), expect: [200, 400],
        });
        const answer = res.json() as Answer;
        // A block overlapping one that is stored: an earlier, cut copy of it may have landed after all.
        if (res.status === 400 && answer.retCode === '8') throw new Transient(`fupload block ${start}-${end}: ${JSON.stringify(answer)}`);
        if (res.status === 400) throw new Transient(`fupload block: 400 ${JSON.stringify(answer)}`, `fupload block ${start}-${end}: 400 ${JSON.stringify(answer)}`);
        step.progress();
        start = end + 1;
      }
    }
    const after = await call(this.on(step, this.task.blocksUrl), 'fupload blocks', { expect: [200] });
    return (after.json() as { data: { status: string } }).data.status === 'finish';
  }

  /** The task URL, on the node this request goes to. */
  private on(step: Step, url: string): string {
    const target = new URL(url);
    target.host = new URL(step.base()).host;
    return target.toString();
  }

  downloadPath(): null {
    return null;
  }
}
