import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UploadEventBus } from '../core/events.js';

/** Prometheus metrics: upload counters fed by core events, request durations by route and status. */
export function registerMetrics(app: FastifyInstance, events: UploadEventBus): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ferry_process_' });
  const created = new Counter({ name: 'ferry_uploads_created_total', help: 'Uploads created', registers: [registry] });
  const completed = new Counter({ name: 'ferry_uploads_completed_total', help: 'Uploads completed', registers: [registry] });
  const failed = new Counter({ name: 'ferry_uploads_failed_total', help: 'Uploads that failed for good', registers: [registry] });
  const received = new Counter({ name: 'ferry_bytes_received_total', help: 'Upload bytes durably stored', registers: [registry] });
  const active = new Gauge({ name: 'ferry_uploads_active', help: 'Requests streaming upload bytes right now', registers: [registry] });
  const duration = new Histogram({
    name: 'ferry_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['route', 'method', 'status_code'],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [registry],
  });

  events.on('created', () => created.inc());
  events.on('completed', () => completed.inc());
  events.on('failed', () => failed.inc());
  events.on('received', (_upload, bytes) => received.inc(bytes));

  // 'close' fires for every request, including those whose client went away before a response.
  app.addHook('onRequest', async (request, reply) => {
    const streaming = request.method === 'PATCH' || request.method === 'POST';
    if (streaming) active.inc();
    reply.raw.once('close', () => {
      if (streaming) active.dec();
      duration.observe(
        { route: request.routeOptions.url ?? 'unmatched', method: request.method, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType).send(await registry.metrics());
  });
}
