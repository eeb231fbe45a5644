import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';

describe('config: limits on clients', () => {
  it('has defaults that bound what a client owes and leave a fast upload unthrottled', () => {
    const config = loadConfig({});
    assert.deepEqual(
      [config.headersTimeoutSeconds, config.idleTimeoutSeconds, config.minBodyBytesPerSecond, config.keepAliveTimeoutSeconds, config.maxHeaderBytes],
      [30, 60, 500, 65, 16 * 1024],
    );
    assert.deepEqual([config.rateLimitPerAddress, config.rateLimitPerUser, config.rateLimitWindowSeconds], [60_000, 20_000, 60]);
    assert.deepEqual(config.trustedProxies, []);
  });

  it('reads them from FERRY_* variables; 0 turns a rate limit or the rate floor off', () => {
    const config = loadConfig({
      FERRY_HEADERS_TIMEOUT_SECONDS: '5', FERRY_IDLE_TIMEOUT_SECONDS: '120', FERRY_MIN_BODY_BYTES_PER_SECOND: '0',
      FERRY_KEEP_ALIVE_TIMEOUT_SECONDS: '10', FERRY_MAX_HEADER_BYTES: '32768', FERRY_RATE_LIMIT_PER_ADDRESS: '0',
      FERRY_RATE_LIMIT_PER_USER: '100', FERRY_RATE_LIMIT_WINDOW_SECONDS: '1', FERRY_TRUSTED_PROXIES: '10.0.0.1, ::1',
    });
    assert.deepEqual(
      [config.headersTimeoutSeconds, config.idleTimeoutSeconds, config.minBodyBytesPerSecond, config.keepAliveTimeoutSeconds, config.maxHeaderBytes],
      [5, 120, 0, 10, 32768],
    );
    assert.deepEqual([config.rateLimitPerAddress, config.rateLimitPerUser, config.rateLimitWindowSeconds], [0, 100, 1]);
    assert.deepEqual(config.trustedProxies, ['10.0.0.1', '::1']);
  });

  it('refuses values that would disable a bound or cannot be a proxy address, naming the setting', () => {
    assert.throws(() => loadConfig({ FERRY_IDLE_TIMEOUT_SECONDS: '0' }), /FERRY_IDLE_TIMEOUT_SECONDS="0".*from 1/);
    assert.throws(() => loadConfig({ FERRY_HEADERS_TIMEOUT_SECONDS: '0' }), /FERRY_HEADERS_TIMEOUT_SECONDS/);
    assert.throws(() => loadConfig({ FERRY_KEEP_ALIVE_TIMEOUT_SECONDS: 'forever' }), /FERRY_KEEP_ALIVE_TIMEOUT_SECONDS.*whole number/);
    assert.throws(() => loadConfig({ FERRY_MAX_HEADER_BYTES: '100' }), /FERRY_MAX_HEADER_BYTES.*from 1024/);
    assert.throws(() => loadConfig({ FERRY_RATE_LIMIT_WINDOW_SECONDS: '0' }), /FERRY_RATE_LIMIT_WINDOW_SECONDS/);
    assert.throws(() => loadConfig({ FERRY_TRUSTED_PROXIES: '10.0.0.1,proxy.internal' }), /FERRY_TRUSTED_PROXIES="proxy.internal".*IP addresses/);
  });
});
