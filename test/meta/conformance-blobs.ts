import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import type { Blob } from '../../src/core/file.js';
import type { MetaStore } from '../../src/meta/types.js';
import { at, insertUser, sampleUpload, sha256Of, storeFile, useStore, type StoreFactory } from './conformance-fixtures.js';

const digestsOf = (label: string) => ({
  sha1: createHash('sha1').update(label).digest('hex'),
  md5: createHash('md5').update(label).digest('hex'),
});

const shas = (blobs: readonly Blob[]) => blobs.map((blob) => blob.sha256).sort();

/** LibraryRecords around blobs: who may match them, their extra digests, and proof-of-possession challenges. */
export function blobConformance(factory: StoreFactory): void {
  describe('blobs', () => {
    const store = useStore(factory);

    it('finds a blob by scope: any for global, through a file of the tenant for tenant, none for user', async () => {
      const ann = await insertUser(store(), { tenant: 't1' });
      const ben = await insertUser(store(), { tenant: 't2' });
      const [x, y, none] = [sha256Of('x'), sha256Of('y'), sha256Of('none')];
      const annsX = await storeFile(store(), ann.id, { sha256: x });
      await storeFile(store(), ben.id, { sha256: x });
      await storeFile(store(), ben.id, { sha256: y });
      const blobX = await store().library.getBlob(x);
      assert.ok(blobX);
      const find = (sha256: string, tenant?: string) =>
        store().library.findBlobInScope(sha256, tenant === undefined ? { kind: 'global' } : { kind: 'tenant', tenant });

      assert.deepEqual(await find(x), blobX);
      assert.deepEqual(await find(y), await store().library.getBlob(y));
      assert.equal(await find(none), null);
      assert.deepEqual(await find(x, 't1'), blobX);
      assert.equal(await find(y, 't1'), null, 'no user of t1 has a file of y');
      assert.equal((await find(y, 't2'))?.sha256, y);
      assert.equal(await find(x, 't3'), null);
      assert.equal(await store().library.findBlobInScope(x, { kind: 'user' }), null);

      await store().library.deleteFile(ann.id, annsX.file.id);
      assert.equal(await find(x, 't1'), null, 'the last file of t1 is gone');
      assert.equal((await find(x, 't2'))?.refs, 1);
      assert.equal((await find(x))?.refs, 1);
    });

    it('lists blobs without digests until they are set', async () => {
      const owner = await insertUser(store());
      for (const label of ['a', 'b', 'c']) await storeFile(store(), owner.id, { sha256: sha256Of(label) });
      assert.deepEqual(shas(await store().library.listBlobsWithoutDigests(10)), [sha256Of('a'), sha256Of('b'), sha256Of('c')].sort());

      await store().library.setBlobDigests(sha256Of('b'), digestsOf('b'));
      const blob = await store().library.getBlob(sha256Of('b'));
      assert.deepEqual(blob && { sha1: blob.sha1, md5: blob.md5, refs: blob.refs }, { ...digestsOf('b'), refs: 1 });
      assert.deepEqual(shas(await store().library.listBlobsWithoutDigests(10)), [sha256Of('a'), sha256Of('c')].sort());
      const one = await store().library.listBlobsWithoutDigests(1);
      assert.equal(one.length, 1);
      assert.notEqual(one[0]?.sha256, sha256Of('b'));
      assert.equal(one[0]?.sha1, null);
    });

    it('keeps digests when the reference count changes, and ignores digests of unknown content', async () => {
      const owner = await insertUser(store());
      await storeFile(store(), owner.id, { sha256: sha256Of('d') });
      await store().library.setBlobDigests(sha256Of('d'), digestsOf('d'));
      const copy = await storeFile(store(), owner.id, { sha256: sha256Of('d') });
      await store().library.deleteFile(owner.id, copy.file.id);
      assert.equal((await store().library.getBlob(sha256Of('d')))?.sha1, digestsOf('d').sha1);

      await store().library.setBlobDigests(sha256Of('unknown'), digestsOf('unknown'));
      assert.equal(await store().library.getBlob(sha256Of('unknown')), null);
      assert.deepEqual(await store().library.listBlobsWithoutDigests(10), []);
    });

    it("finds a user's newest file by SHA-1 once the digests are set, never another user's", async () => {
      const [ann, ben] = [await insertUser(store()), await insertUser(store())];
      const [e, f] = [sha256Of('e'), sha256Of('f')];
      const older = await storeFile(store(), ann.id, { sha256: e, name: 'older', createdAt: at(1) });
      await storeFile(store(), ben.id, { sha256: e, name: 'bens', createdAt: at(9) });
      await storeFile(store(), ann.id, { sha256: f, name: 'other content', createdAt: at(8) });
      assert.equal(await store().library.findOwnedBySha1(ann.id, digestsOf('e').sha1), null, 'no digests yet');

      await store().library.setBlobDigests(e, digestsOf('e'));
      await store().library.setBlobDigests(f, digestsOf('f'));
      assert.deepEqual(await store().library.findOwnedBySha1(ann.id, digestsOf('e').sha1), older.file);
      const newer = await storeFile(store(), ann.id, { sha256: e, name: 'newer', createdAt: at(5) });
      assert.deepEqual(await store().library.findOwnedBySha1(ann.id, digestsOf('e').sha1), newer.file);
      assert.equal((await store().library.findOwnedBySha1(ben.id, digestsOf('e').sha1))?.name, 'bens');
      assert.equal(await store().library.findOwnedBySha1(ben.id, digestsOf('f').sha1), null, "ann's content is not ben's");
      assert.equal(await store().library.findOwnedBySha1(ann.id, digestsOf('none').sha1), null);

      await store().library.deleteFile(ann.id, newer.file.id);
      assert.deepEqual(await store().library.findOwnedBySha1(ann.id, digestsOf('e').sha1), older.file);
      await store().library.deleteFile(ann.id, older.file.id);
      assert.equal(await store().library.findOwnedBySha1(ann.id, digestsOf('e').sha1), null);
    });

    it('finds a blob by SHA-1 within the scope, like by SHA-256', async () => {
      const ann = await insertUser(store(), { tenant: 't1' });
      const ben = await insertUser(store(), { tenant: 't2' });
      const annsG = await storeFile(store(), ann.id, { sha256: sha256Of('g') });
      await storeFile(store(), ben.id, { sha256: sha256Of('h') });
      await storeFile(store(), ben.id, { sha256: sha256Of('unset') });
      await store().library.setBlobDigests(sha256Of('g'), digestsOf('g'));
      await store().library.setBlobDigests(sha256Of('h'), digestsOf('h'));
      const find = (label: string, scope: Parameters<MetaStore['library']['findBlobBySha1']>[1] = { kind: 'global' }) =>
        store().library.findBlobBySha1(digestsOf(label).sha1, scope);

      assert.deepEqual(await find('g'), await store().library.getBlob(sha256Of('g')));
      assert.equal((await find('h'))?.sha256, sha256Of('h'));
      assert.equal(await find('unset'), null, 'a blob without digests has no SHA-1 yet');
      assert.equal(await find('none'), null);
      assert.equal((await find('g', { kind: 'tenant', tenant: 't1' }))?.sha256, sha256Of('g'));
      assert.equal(await find('h', { kind: 'tenant', tenant: 't1' }), null, 'no user of t1 has a file of h');
      assert.equal(await find('g', { kind: 'user' }), null);

      await store().library.deleteFile(ann.id, annsG.file.id);
      assert.equal(await find('g'), null, 'the blob went with its last file');
    });

    it('hands out a challenge once', async () => {
      const upload = sampleUpload();
      await store().uploads.insert(upload);
      const record = { uploadId: upload.id, challenge: '{"offset":4096,"length":64}', expiresAt: at(5) };
      await store().library.putChallenge(record);
      assert.deepEqual(await store().library.takeChallenge(upload.id), record);
      assert.equal(await store().library.takeChallenge(upload.id), null);
    });

    it('replaces the challenge of an upload, keeping those of others', async () => {
      const [one, two] = [sampleUpload(), sampleUpload()];
      await store().uploads.insert(one);
      await store().uploads.insert(two);
      await store().library.putChallenge({ uploadId: one.id, challenge: 'first', expiresAt: at(5) });
      await store().library.putChallenge({ uploadId: two.id, challenge: 'other', expiresAt: at(6) });
      const second = { uploadId: one.id, challenge: 'second', expiresAt: at(7) };
      await store().library.putChallenge(second);

      assert.deepEqual(await store().library.takeChallenge(one.id), second);
      assert.equal(await store().library.takeChallenge(one.id), null);
      assert.deepEqual(await store().library.takeChallenge(two.id), { uploadId: two.id, challenge: 'other', expiresAt: at(6) });
    });

    it('answers each challenge once even when taken concurrently', async () => {
      const upload = sampleUpload();
      await store().uploads.insert(upload);
      await store().library.putChallenge({ uploadId: upload.id, challenge: 'race', expiresAt: at(5) });
      const taken = await Promise.all([1, 2, 3, 4].map(() => store().library.takeChallenge(upload.id)));
      assert.equal(taken.filter((record) => record !== null).length, 1);
    });
  });
}
