/** Which PostgreSQL driver errors become a 503 (service_unavailable) or a 507 (storage_full), and which stay what they are. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { FerryError, isFerryError } from '../../src/core/errors.js';
import { asFerryError } from '../../src/meta/postgres/database.js';

function withCode(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

it('maps an unreachable, restarting or saturated PostgreSQL to service_unavailable, keeping the cause', () => {
  for (const err of [
    withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    withCode('read ECONNRESET', 'ECONNRESET'),
    withCode('Connection terminated unexpectedly'),
    withCode('Connection terminated due to connection timeout'),
    withCode('timeout exceeded when trying to connect'),
    withCode('Client has encountered a connection error and is not queryable'),
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('the database system is starting up', '57P03'),
    withCode('sorry, too many clients already', '53300'),
    withCode('connection failure', '08006'),
  ]) {
    const mapped = asFerryError(err);
    assert.ok(isFerryError(mapped, 'service_unavailable'), err.message);
    assert.equal((mapped as FerryError).status, 503);
    assert.equal((mapped as FerryError).cause, err);
    assert.match((mapped as FerryError).message, /PostgreSQL/);
  }
});

it('maps a PostgreSQL whose disk is full to storage_full (507), as a full disk under local storage', () => {
  const err = withCode('could not extend file "base/16384/16385": No space left on device', '53100');
  const mapped = asFerryError(err);
  assert.ok(isFerryError(mapped, 'storage_full'));
  assert.equal((mapped as FerryError).status, 507);
  assert.equal((mapped as FerryError).cause, err);
});

it('leaves query errors and domain errors alone', () => {
  const unique = withCode('duplicate key value violates unique constraint', '23505');
  const syntax = withCode('syntax error at or near "SELEC"', '42601');
  const domain = new FerryError('upload_not_found', 'no such upload');
  for (const err of [unique, syntax, domain]) assert.equal(asFerryError(err), err);
  assert.equal(asFerryError('a string'), 'a string');
});
