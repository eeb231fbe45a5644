/**
 * tus-js-client (tus 1.0 or its IETF draft modes), each request sent to a node of the soak's
 * choosing. An attempt runs the client until it succeeds, fails, or is aborted part-way (a client
 * going away mid-body); the next attempt resumes from the upload URL.
 */
import * as tus from 'tus-js-client';
import { idOf } from '../helpers/http-tus.js';
import { Transient, Unexpected, classify, type Step } from './attempt.js';
import type { Plan, Protocol, Session, UploadRef } from './protocol.js';

const MODES = ['tus-v1', 'ietf-draft-03', 'ietf-draft-05'] as const;
/** The client's options, with `protocol`, which its type definitions leave out. */
type Options = tus.UploadOptions & { protocol: (typeof MODES)[number] };
const KiB = 1024;

export const tusJsClient: Protocol = {
  name: 'tus-js-client',
  supports: () => true,
  async begin(plan, step) {
    const session = new TusJsSession(plan, step.rng.pick(MODES), step.rng.chance(0.3) ? Infinity : step.rng.int(256 * KiB, 8 * 1024 * KiB));
    // Creation is the first attempt's first request; a session without a URL has nothing to resume.
    await session.advance(step, true);
    return session;
  },
};

class TusJsSession implements Session {
  private url: string | null = null;

  constructor(private readonly plan: Plan, private readonly mode: (typeof MODES)[number], private readonly chunkSize: number) {}

  get ref(): UploadRef {
    return { kind: 'id', id: this.url ? idOf(this.url) : '' };
  }

  advance(step: Step, createOnly = false): Promise<boolean> {
    const what = `tus-js-client ${this.mode}`;
    const cutAfter = step.cut && !createOnly ? step.rng.int(1, this.plan.data.length - 1) : null;
    step.cut = false;
    return new Promise<boolean>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: boolean | Error) => {
        if (settled) return;
        settled = true;
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const inner = new tus.DefaultHttpStack({});
      const options: Options = {
        // Resuming names only the URL: without an endpoint the client reports a lost upload instead of quietly starting another.
        ...(this.url ? { uploadUrl: this.url } : { endpoint: `${step.base()}/files/` }),
        protocol: this.mode,
        chunkSize: this.chunkSize,
        retryDelays: [],
        storeFingerprintForResuming: false,
        metadata: { filename: this.plan.name },
        httpStack: {
          getName: () => 'soak',
          createRequest: (method, url) => {
            const target = new URL(url);
            target.host = new URL(step.base()).host;
            return inner.createRequest(method, target.toString());
          },
        },
        onUploadUrlAvailable: () => {
          this.url = upload.url;
          if (createOnly) void upload.abort().then(() => settle(false));
        },
        onProgress: (sent) => {
          if (cutAfter !== null && sent >= cutAfter) void upload.abort().then(() => settle(new Transient(`${what}: aborted by the client at ${sent} bytes`)));
        },
        onChunkComplete: () => step.progress(),
        onSuccess: () => settle(true),
        onError: (err) => settle(classifyError(err, what)),
      };
      const upload = new tus.Upload(this.plan.data, options);
      upload.start();
    });
  }

  downloadPath(): string {
    return `/files/${idOf(this.url!)}`;
  }
}

function classifyError(err: Error | tus.DetailedError, what: string): Error {
  const response = 'originalResponse' in err ? err.originalResponse : null;
  if (!response) return new Transient(`${what}: ${err.message.slice(0, 300)}`);
  try {
    // Nothing is expected of a failed request: classify() says what kind of failure it is.
    classify({ status: response.getStatus(), text: () => response.getBody() ?? '' }, what, []);
  } catch (classified) {
    return classified as Error;
  }
  return new Unexpected(`${what}: ${err.message}`);
}
