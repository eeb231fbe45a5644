// @tus/server with @tus/file-store, default options, on node:http.
// Env: BENCH_PORT, BENCH_DATA_DIR.
import * as http from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const port = Number(process.env.BENCH_PORT);
const directory = process.env.BENCH_DATA_DIR ?? '';
if (!Number.isInteger(port) || port <= 0 || directory === '') {
  throw new Error('tus-server needs BENCH_PORT and BENCH_DATA_DIR');
}

const server = new Server({ path: '/files', datastore: new FileStore({ directory }) });

http
  .createServer((req, res) => {
    // The harness polls /healthz for readiness; everything else is @tus/server's.
    if (req.url === '/healthz') {
      res.writeHead(200).end();
      return;
    }
    void server.handle(req, res);
  })
  .listen(port, '127.0.0.1');
