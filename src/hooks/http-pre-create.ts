import { FerryError } from '../core/errors.js';
import type { PreCreateHook, PreCreateRequest } from '../core/pre-create.js';
import { signature } from './signature.js';

const TIMEOUT_MS = 5_000;

/**
 * A pre-create hook at an HTTP endpoint: Ferry POSTs the upload it is about to create (signed like
 * webhooks). 2xx allows it; a 4xx refuses it with that status and the `message` of its JSON body;
 * anything else, or no answer, refuses it as 503: an unreachable hook must not wave uploads through.
 */
export class HttpPreCreateHook implements PreCreateHook {
  constructor(private readonly url: string, private readonly secret: string) {}

  async check(request: PreCreateRequest): Promise<void> {
    const body = JSON.stringify({ type: 'upload.pre-create', owner: request.owner, size: request.size, metadata: request.metadata });
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ferry-signature': signature(this.secret, body, new Date()) },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new FerryError('service_unavailable', 'the pre-create hook did not answer', { cause: err });
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    if (response.status >= 400 && response.status < 500) {
      const answer = (await response.json().catch(() => ({}))) as { message?: unknown };
      const message = typeof answer.message === 'string' && answer.message !== '' ? answer.message.slice(0, 500) : 'the upload was refused';
      throw new FerryError('rejected_by_hook', message, { status: response.status });
    }
    await response.body?.cancel();
    throw new FerryError('service_unavailable', `the pre-create hook failed (${response.status})`);
  }
}
