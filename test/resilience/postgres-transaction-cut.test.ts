/**
 * PostgreSQL going away while a transaction holds its connection between two statements (the soak
 * run found nodes exiting on it, seed five-local: "Unhandled 'error' event ... Connection
 * terminated unexpectedly" on the transaction's pg Client). The transaction must fail with a 503
 * and the process go on; the next transaction after the service is back works.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { isFerryError } from '../../src/core/errors.js';
import { PostgresDatabase } from '../../src/meta/postgres/database.js';
import { DATABASE_URL } from '../helpers/cluster.js';
import { sleep } from '../helpers/e2e.js';
import { Relay } from '../helpers/relay.js';

let relay: Relay;
let db: PostgresDatabase;

before(async () => {
  relay = await Relay.forUrl(DATABASE_URL, 5432);
  db = new PostgresDatabase(relay.urlFor(DATABASE_URL));
});

after(async () => {
  await relay.restore();
  await db.close();
  await relay.close();
});

it('a transaction whose connection breaks between statements fails with service_unavailable, and the process goes on', async () => {
  const failed = await db.transaction(async (client) => {
    await client.query('SELECT 1');
    await relay.cut();
    // The connection closes while the transaction holds it and no statement is running.
    await sleep(300);
    await client.query('SELECT 2');
  }).then(() => null, (err: unknown) => err);
  assert.ok(isFerryError(failed, 'service_unavailable'), `the transaction's error: ${String(failed)}`);

  await relay.restore();
  const { rows } = await db.transaction((client) => client.query<{ answer: number }>('SELECT 42 AS answer'));
  assert.deepEqual(rows, [{ answer: 42 }]);
});
