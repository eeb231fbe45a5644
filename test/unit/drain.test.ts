/**
 * Drain on a real node:http server, begun while its listener stays open, so requests that arrive
 * during a drain can be sent at will (in a real shutdown they are the ones already on open
 * connections): refused with 503 unless operational, every answer the last on its connection, and
 * settled() waiting for handlers, not for connections.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { Drain } from '../../src/http/drain.js';
import { send, type RequestOptions } from '../helpers/http-client.js';

/** Asks to keep the connection: a `Connection: close` answer is then the server's choice. */
const keepAlive = (options: RequestOptions = {}): RequestOptions => ({ ...options, headers: { ...options.headers, Connection: 'keep-alive' } });

describe('Drain', () => {
  let server: Server;
  let url: string;
  let drain: Drain;
  /** Ends the handler of /slow; it answers at once but keeps working until then. */
  let finishSlow: () => void = () => undefined;

  before(async () => {
    drain = new Drain();
    server = createServer((request, response) => {
      const handling = (async () => {
        try {
          drain.admit(request.url!, response);
        } catch (err) {
          assert.ok(isFerryError(err, 'service_unavailable'));
          response.writeHead(503).end();
          return;
        }
        response.end('ok');
        // Like an upload that answered (or lost its client) and still records its offset.
        if (request.url === '/slow') await new Promise<void>((resolve) => { finishSlow = resolve; });
      })();
      drain.track(response, handling);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  after(() => {
    finishSlow();
    server.close();
  });

  it('serves everything, on keep-alive, until the drain begins', async () => {
    const answer = await send(`${url}/files/`, keepAlive());
    assert.equal(answer.status, 200);
    assert.equal(answer.header('connection'), 'keep-alive');
    assert.equal(drain.draining, false);
    assert.equal(await drain.settled(0), true, 'nothing in flight');
  });

  it('once draining: 503 with Retry-After for requests, probes still answered, every connection closed after', async () => {
    const slow = await send(`${url}/slow`, keepAlive());
    assert.equal(slow.status, 200);
    drain.begin();
    assert.equal(drain.draining, true);

    const refused = await send(`${url}/files/`, keepAlive({ method: 'POST' }));
    assert.equal(refused.status, 503);
    assert.equal(refused.header('retry-after'), '1');
    assert.equal(refused.header('connection'), 'close');
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const probe = await send(`${url}${path}`, keepAlive());
      assert.equal(probe.status, 200, path);
      assert.equal(probe.header('connection'), 'close', path);
    }

    // /slow answered long ago but its handler still works: the drain is not over.
    assert.equal(await drain.settled(20), false);
    const settled = drain.settled(60_000);
    finishSlow();
    assert.equal(await settled, true);
  });
});
