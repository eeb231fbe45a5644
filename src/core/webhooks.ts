import { randomBytes } from 'node:crypto';
import type { OutboxEntry, OutboxRecords } from '../meta/types.js';
import type { UploadEventBus } from './events.js';
import type { StoredFile } from './file.js';
import type { LibraryService } from './library.js';
import type { Upload } from './upload.js';

export type WebhookEvent = 'upload.created' | 'upload.progress' | 'upload.completed' | 'upload.terminated' | 'upload.expired' | 'file.deleted';

export interface WebhookOptions {
  readonly urls: readonly string[];
  /** At most one progress event per upload in this interval. */
  readonly progressIntervalMs: number;
  readonly now?: () => Date;
}

/**
 * Turns core events into webhook messages in the outbox, one per endpoint and event, each with
 * its own id. An upload's messages share an ordering key, so they arrive in the order they
 * happened. Completion messages are queued in the completion's own transaction: a crash right
 * after an upload completes cannot lose them.
 */
export class Webhooks {
  private readonly lastProgress = new Map<string, number>();
  private readonly now: () => Date;

  constructor(private readonly outbox: OutboxRecords, private readonly options: WebhookOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Starts listening; `onQueued` is told when messages are waiting, to deliver them soon. */
  attach(events: UploadEventBus, library: LibraryService, onQueued: () => void): void {
    const queue = (event: WebhookEvent, key: string, subject: Record<string, unknown>) => {
      void this.outbox.enqueue(this.messages(event, key, subject)).then(onQueued, () => undefined);
    };
    events.on('created', (upload) => queue('upload.created', upload.id, { upload: uploadJson(upload) }));
    events.on('received', (upload) => {
      const at = this.now().getTime();
      if (at - (this.lastProgress.get(upload.id) ?? 0) < this.options.progressIntervalMs) return;
      this.lastProgress.set(upload.id, at);
      queue('upload.progress', upload.id, { upload: uploadJson(upload) });
    });
    const ended = (event: WebhookEvent) => (upload: Upload) => {
      this.lastProgress.delete(upload.id);
      queue(event, upload.id, { upload: uploadJson(upload) });
    };
    events.on('terminated', ended('upload.terminated'));
    events.on('expired', ended('upload.expired'));
    events.on('completed', (upload) => {
      this.lastProgress.delete(upload.id);
      onQueued();
    });
    events.on('fileDeleted', (file) => queue('file.deleted', file.id, { file: fileJson(file) }));
    library.addCompletionMessages((upload, file) => this.messages('upload.completed', upload.id, { upload: uploadJson(upload), file: fileJson(file) }));
  }

  private messages(event: WebhookEvent, key: string, subject: Record<string, unknown>): OutboxEntry[] {
    const createdAt = this.now();
    return this.options.urls.map((url) => {
      const id = randomBytes(16).toString('hex');
      return { id, destination: url, orderingKey: key, body: JSON.stringify({ id, type: event, occurredAt: createdAt.toISOString(), ...subject }), createdAt };
    });
  }
}

function uploadJson(upload: Upload): Record<string, unknown> {
  return {
    id: upload.id,
    ownerId: upload.ownerId,
    state: upload.state,
    size: upload.size,
    offset: upload.offset,
    metadata: upload.metadata,
    createdAt: upload.createdAt.toISOString(),
    fileId: upload.fileId,
  };
}

function fileJson(file: StoredFile): Record<string, unknown> {
  return { id: file.id, ownerId: file.ownerId, name: file.name, size: file.size, type: file.type, sha256: file.sha256 };
}
