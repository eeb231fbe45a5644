import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UploadEventBus } from '../core/events.js';
import type { HttpReply, HttpRequest } from './exchange.js';

/** Prometheus metrics: upload counters fed by core events, request durations by route and status. */
export class Metrics {
  private readonly registry = new Registry();
  private readonly active: Gauge;
  private readonly duration: Histogram<'route' | 'method' | 'status_code'>;

  constructor(events: UploadEventBus) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'ferry_process_' });
    const created = new Counter({ name: 'ferry_uploads_created_total', help: 'Uploads created', registers });
    const completed = new Counter({ name: 'ferry_uploads_completed_total', help: 'Uploads completed', registers });
    const failed = new Counter({ name: 'ferry_uploads_failed_total', help: 'Uploads that failed for good', registers });
    const received = new Counter({ name: 'ferry_bytes_received_total', help: 'Upload bytes durably stored', registers });
    this.active = new Gauge({ name: 'ferry_uploads_active', help: 'Requests streaming upload bytes right now', registers });
    this.duration = new Histogram({
      name: 'ferry_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['route', 'method', 'status_code'],
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600],
      registers,
    });
    events.on('created', () => created.inc());
    events.on('completed', () => completed.inc());
    events.on('failed', () => failed.inc());
    events.on('received', (_upload, bytes) => received.inc(bytes));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Counts the request while it runs; 'close' fires for every one, even when the client left. */
  track(request: HttpRequest, reply: HttpReply): void {
    const streaming = request.method === 'PATCH' || request.method === 'POST';
    if (streaming) this.active.inc();
    reply.raw.once('close', () => {
      if (streaming) this.active.dec();
      this.duration.observe(
        { route: request.route ?? 'unmatched', method: request.method, status_code: String(reply.raw.statusCode) },
        reply.elapsedMs / 1000,
      );
    });
  }
}
