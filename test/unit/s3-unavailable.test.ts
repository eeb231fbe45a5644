import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { openS3BlobStore } from '../../src/storage/s3/index.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

it('S3 that cannot be reached is a typed 503, keeping the cause', async () => {
  const { store, close } = openS3BlobStore({
    s3Endpoint: `http://127.0.0.1:${await closedPort()}`, s3Bucket: 'ferry', s3AccessKey: 'key', s3SecretKey: 'secret',
    s3Region: 'us-east-1', s3ForcePathStyle: true,
  });
  try {
    for (const attempt of [() => store.ping(), () => store.create('0123456789abcdef0123')]) {
      await assert.rejects(attempt(), (err) => isFerryError(err, 'service_unavailable') && err.status === 503 && err.cause !== undefined);
    }
  } finally {
    close();
  }
});
