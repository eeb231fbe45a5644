import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function ferry(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 20_000 });
}

describe('ferry command', () => {
  it('prints its usage for help and exits 0', () => {
    const result = ferry(['help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /ferry <command>/);
    assert.match(result.stdout, /serve/);
  });

  it('rejects an unknown command with its usage and exit code 2', () => {
    const result = ferry(['frobnicate']);
    assert.equal(result.status, 2);
    assert.match(result.stdout, /Usage/);
  });

  it('refuses to start on a bad setting, naming it in one line', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
    try {
      const result = ferry(['serve'], { FERRY_PORT: 'http', FERRY_DATA_DIR: dataDir });
      assert.equal(result.status, 1);
      assert.equal(result.stderr.trim().split('\n').length, 1);
      assert.match(result.stderr, /^ferry: FERRY_PORT="http" is not valid: expected a whole number/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
