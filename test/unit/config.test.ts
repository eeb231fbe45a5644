import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, loadConfig } from '../../src/config.js';

describe('config', () => {
  it('uses the embedded defaults with an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.dataDir, resolve('./data'));
    assert.equal(config.maxUploadSize, null);
  });

  it('reads FERRY_* variables', () => {
    const config = loadConfig({ FERRY_PORT: '9000', FERRY_HOST: '0.0.0.0', FERRY_MAX_UPLOAD_SIZE: '1048576', FERRY_CORS_ORIGINS: 'https://a.example, https://b.example' });
    assert.equal(config.port, 9000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.maxUploadSize, 1048576);
    assert.deepEqual(config.corsOrigins, ['https://a.example', 'https://b.example']);
  });

  it('names the setting and what it expects when a value is bad', () => {
    assert.throws(() => loadConfig({ FERRY_PORT: 'eighty' }), (err) => err instanceof ConfigError && /FERRY_PORT="eighty".*whole number/.test(err.message));
    assert.throws(() => loadConfig({ FERRY_PORT: '70000' }), /FERRY_PORT.*0 to 65535/);
    assert.throws(() => loadConfig({ FERRY_LOG_LEVEL: 'loud' }), /FERRY_LOG_LEVEL/);
    assert.throws(() => loadConfig({ FERRY_PUBLIC_URL: 'not a url' }), /FERRY_PUBLIC_URL/);
  });

  it('takes a tier store only if it is another store than the upload store, with its settings', () => {
    const s3 = { FERRY_S3_BUCKET: 'b', FERRY_S3_ACCESS_KEY: 'k', FERRY_S3_SECRET_KEY: 's' };
    assert.equal(loadConfig({}).tierStorage, null);
    const tiered = loadConfig({ ...s3, FERRY_TIER_STORAGE: 's3', FERRY_TIER_AFTER_SECONDS: '3600' });
    assert.deepEqual([tiered.storage, tiered.tierStorage, tiered.tierAfterSeconds], ['local', 's3', 3600]);
    assert.equal(loadConfig({ ...s3, FERRY_STORAGE: 's3', FERRY_TIER_STORAGE: 'local' }).tierStorage, 'local');
    assert.throws(() => loadConfig({ FERRY_TIER_STORAGE: 'local' }), /FERRY_TIER_STORAGE must name another store/);
    assert.throws(() => loadConfig({ FERRY_TIER_STORAGE: 's3' }), /FERRY_TIER_STORAGE=s3 needs FERRY_S3_BUCKET/);
    assert.throws(() => loadConfig({ FERRY_TIER_STORAGE: 'tape' }), /FERRY_TIER_STORAGE.*one of local, s3/);
    assert.throws(() => loadConfig({ ...s3, FERRY_TIER_STORAGE: 's3', FERRY_TIER_AFTER_SECONDS: '-1' }), /FERRY_TIER_AFTER_SECONDS/);
  });

  it('reads a JSON config file, which the environment overrides', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
    try {
      const file = join(dir, 'ferry.json');
      await writeFile(file, JSON.stringify({ port: 7000, uploadExpirySeconds: 60 }));
      const config = loadConfig({ FERRY_CONFIG: file, FERRY_PORT: '7001' });
      assert.equal(config.port, 7001);
      assert.equal(config.uploadExpirySeconds, 60);
      assert.equal(config.checkpointBytes, DEFAULTS.checkpointBytes);
      await writeFile(file, JSON.stringify({ prot: 1 }));
      assert.throws(() => loadConfig({ FERRY_CONFIG: file }), /unknown settings.*prot/);
      await writeFile(file, '{ nope');
      assert.throws(() => loadConfig({ FERRY_CONFIG: file }), /cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
