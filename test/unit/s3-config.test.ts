import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('S3 storage settings', () => {
  it('keeps blobs on local disk unless FERRY_STORAGE=s3', () => {
    assert.equal(loadConfig({}).storage, 'local');
    assert.throws(() => loadConfig({ FERRY_STORAGE: 'ftp' }), /FERRY_STORAGE.*local, s3/);
  });

  it('reads every FERRY_S3_* variable', () => {
    const config = loadConfig({
      FERRY_STORAGE: 's3', FERRY_S3_ENDPOINT: 'http://127.0.0.1:7490', FERRY_S3_BUCKET: 'ferry', FERRY_S3_ACCESS_KEY: 'key',
      FERRY_S3_SECRET_KEY: 'secret', FERRY_S3_REGION: 'eu-west-1', FERRY_S3_FORCE_PATH_STYLE: 'true',
    });
    assert.equal(config.storage, 's3');
    assert.equal(config.s3Endpoint, 'http://127.0.0.1:7490');
    assert.equal(config.s3Bucket, 'ferry');
    assert.equal(config.s3AccessKey, 'key');
    assert.equal(config.s3SecretKey, 'secret');
    assert.equal(config.s3Region, 'eu-west-1');
    assert.equal(config.s3ForcePathStyle, true);
    assert.equal(loadConfig({}).s3ForcePathStyle, false);
    assert.throws(() => loadConfig({ FERRY_S3_FORCE_PATH_STYLE: 'maybe' }), /FERRY_S3_FORCE_PATH_STYLE.*true or false/);
    assert.throws(() => loadConfig({ FERRY_S3_ENDPOINT: 'ftp://host' }), /FERRY_S3_ENDPOINT/);
  });

  it('needs the bucket and both keys with FERRY_STORAGE=s3, and never repeats the secret', () => {
    assert.throws(() => loadConfig({ FERRY_STORAGE: 's3', FERRY_S3_SECRET_KEY: 'hunter2' }), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /FERRY_S3_BUCKET, FERRY_S3_ACCESS_KEY/);
      assert.doesNotMatch(err.message, /hunter2|FERRY_S3_SECRET_KEY/);
      return true;
    });
    assert.throws(() => loadConfig({ FERRY_STORAGE: 's3', FERRY_S3_BUCKET: 'b', FERRY_S3_ACCESS_KEY: 'k' }), /needs FERRY_S3_SECRET_KEY/);
  });
});
