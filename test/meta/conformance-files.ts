import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredFile } from '../../src/core/file.js';
import type { FileSort } from '../../src/meta/types.js';
import { at, fileQuery, insertUser, randomId, sha256Of, storeFile, useStore, type StoreFactory } from './conformance-fixtures.js';

const ids = (files: readonly StoredFile[]) => files.map((file) => file.id);

const KEY: Record<FileSort, (file: StoredFile) => string | number> = {
  name: (file) => file.name,
  size: (file) => file.size,
  time: (file) => file.createdAt.getTime(),
};

/** Ascending by the sort key (names by code point, as the files API documents), then by id: the order pages must follow. */
function expectedOrder(files: readonly StoredFile[], sort: FileSort): string[] {
  const compare = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  return ids([...files].sort((a, b) => compare(KEY[sort](a), KEY[sort](b)) || compare(a.id, b.id)));
}

/** LibraryRecords, the user's view: reading, listing and renaming files. */
export function fileConformance(factory: StoreFactory): void {
  describe('files', () => {
    const store = useStore(factory);

    /** Files of one new user, each with its own content, named as given. */
    async function filesNamed(names: readonly string[]): Promise<{ ownerId: string; files: StoredFile[] }> {
      const owner = await insertUser(store());
      const files: StoredFile[] = [];
      for (const name of names) files.push((await storeFile(store(), owner.id, { name, sha256: sha256Of(name) })).file);
      return { ownerId: owner.id, files };
    }

    async function namesMatching(ownerId: string, filter: { nameContains?: string; folder?: string }): Promise<string[]> {
      const { files } = await store().library.listFiles(ownerId, fileQuery(filter));
      return files.map((file) => file.name);
    }

    it('shows a file to its owner only', async () => {
      const [owner, other] = [await insertUser(store()), await insertUser(store())];
      const { file } = await storeFile(store(), owner.id);
      assert.deepEqual(await store().library.getFile(owner.id, file.id), file);
      assert.equal(await store().library.getFile(other.id, file.id), null);
      assert.equal(await store().library.getFile(owner.id, randomId()), null);
    });

    it('lists only the files of the owner, with their total', async () => {
      const [owner, other, idle] = [await insertUser(store()), await insertUser(store()), await insertUser(store())];
      const mine = [(await storeFile(store(), owner.id, { name: 'a.txt' })).file, (await storeFile(store(), owner.id, { name: 'b.txt' })).file];
      await storeFile(store(), other.id, { name: 'a.txt' });
      assert.deepEqual(await store().library.listFiles(owner.id, fileQuery()), { files: mine, total: 2 });
      assert.deepEqual(await store().library.listFiles(idle.id, fileQuery()), { files: [], total: 0 });
    });

    for (const sort of ['name', 'size', 'time'] as const) {
      it(`sorts by ${sort} both ways, ties broken by id`, async () => {
        const owner = await insertUser(store());
        const specs = [
          { name: 'b.txt', size: 300, minute: 1 },
          { name: 'a.txt', size: 100, minute: 3 },
          { name: 'c.txt', size: 200, minute: 2 },
          { name: 'a.txt', size: 200, minute: 2 },
          { name: 'B.txt', size: 100, minute: 1 },
          { name: 'é.txt', size: 250, minute: 4 },
        ];
        const files: StoredFile[] = [];
        for (const { minute, ...spec } of specs) {
          // `time` is when the file was added (the files API says so), not when it was last renamed.
          files.push((await storeFile(store(), owner.id, { ...spec, createdAt: at(minute), updatedAt: at(100 - minute) })).file);
        }

        const ascending = expectedOrder(files, sort);
        const asc = await store().library.listFiles(owner.id, fileQuery({ sort, order: 'asc' }));
        const desc = await store().library.listFiles(owner.id, fileQuery({ sort, order: 'desc' }));
        assert.deepEqual(ids(asc.files), ascending);
        assert.deepEqual(ids(desc.files), [...ascending].reverse());
        assert.equal(desc.total, 6);
      });
    }

    it('pages with limit and offset, counting every match in total', async () => {
      const { ownerId } = await filesNamed(['e', 'd', 'c', 'b', 'a']);
      const page = (limit: number, offset: number) => store().library.listFiles(ownerId, fileQuery({ limit, offset }));
      const pages = [await page(2, 0), await page(2, 2), await page(2, 4)];
      assert.deepEqual(pages.map((p) => p.files.map((f) => f.name)), [['a', 'b'], ['c', 'd'], ['e']]);
      assert.deepEqual(pages.map((p) => p.total), [5, 5, 5]);
      assert.deepEqual(await page(2, 10), { files: [], total: 5 });
      const filtered = await store().library.listFiles(ownerId, fileQuery({ nameContains: 'b', limit: 1, offset: 1 }));
      assert.deepEqual(filtered, { files: [], total: 1 });
    });

    it('filters by a substring of the name, ignoring case', async () => {
      const { ownerId } = await filesNamed(['Holiday Photo.JPG', 'photos/beach.jpg', 'notes.txt', 'PHOTOGRAPHY']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: 'photo' }), ['Holiday Photo.JPG', 'PHOTOGRAPHY', 'photos/beach.jpg']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: '.JpG' }), ['Holiday Photo.JPG', 'photos/beach.jpg']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: 'photo.jpg ' }), []);
      const { total } = await store().library.listFiles(ownerId, fileQuery({ nameContains: 'PHOTO', limit: 1 }));
      assert.equal(total, 3);
    });

    it('takes the name filter literally: % and _ are no wildcards', async () => {
      const { ownerId } = await filesNamed(['100%_done.txt', '100xxdone.txt', 'under_score', 'underscore']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: '%_' }), ['100%_done.txt']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: '_' }), ['100%_done.txt', 'under_score']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: '%' }), ['100%_done.txt']);
    });

    it('ignores the case of letters beyond ASCII in the name filter', async () => {
      const { ownerId } = await filesNamed(['résumé.pdf', 'STRASSE ÄRGER.txt']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: 'RÉSUMÉ' }), ['résumé.pdf']);
      assert.deepEqual(await namesMatching(ownerId, { nameContains: 'ärger' }), ['STRASSE ÄRGER.txt']);
    });

    it('filters by folder: names under the prefix, at any depth', async () => {
      const { ownerId } = await filesNamed(['a/x', 'a/b/y', 'ab/z', 'a', 'b/a/x', '50%/q', '50x/q']);
      assert.deepEqual(await namesMatching(ownerId, { folder: 'a/' }), ['a/b/y', 'a/x']);
      assert.deepEqual(await namesMatching(ownerId, { folder: 'a/b/' }), ['a/b/y']);
      assert.deepEqual(await namesMatching(ownerId, { folder: 'c/' }), []);
      assert.deepEqual(await namesMatching(ownerId, { folder: '50%/' }), ['50%/q']);
      assert.deepEqual(await namesMatching(ownerId, { folder: 'a/', nameContains: 'Y' }), ['a/b/y']);
      const { total } = await store().library.listFiles(ownerId, fileQuery({ folder: 'a/', limit: 1 }));
      assert.equal(total, 2);
    });

    it('renames a file of its owner only, stamping updatedAt', async () => {
      const [owner, other] = [await insertUser(store()), await insertUser(store())];
      const { file } = await storeFile(store(), owner.id, { name: 'draft.txt' });
      const later = at(90);

      assert.equal(await store().library.renameFile(other.id, file.id, 'stolen.txt', later), null);
      assert.equal(await store().library.renameFile(owner.id, randomId(), 'ghost.txt', later), null);
      assert.deepEqual(await store().library.getFile(owner.id, file.id), file);

      const renamed = { ...file, name: 'docs/final.txt', updatedAt: later };
      assert.deepEqual(await store().library.renameFile(owner.id, file.id, 'docs/final.txt', later), renamed);
      assert.deepEqual(await store().library.getFile(owner.id, file.id), renamed);
      assert.deepEqual(await namesMatching(owner.id, { folder: 'docs/' }), ['docs/final.txt']);
    });

    it('finds a file of the user with some content, and no one else\'s', async () => {
      const [alice, bob] = [await insertUser(store()), await insertUser(store())];
      const shared = sha256Of('shared');
      const own = (await storeFile(store(), alice.id, { sha256: shared })).file;
      const bobs = (await storeFile(store(), bob.id, { sha256: shared })).file;
      await storeFile(store(), bob.id, { sha256: sha256Of('only bob') });

      assert.deepEqual(await store().library.findOwnedContent(alice.id, shared), own);
      assert.deepEqual(await store().library.findOwnedContent(bob.id, shared), bobs);
      assert.equal(await store().library.findOwnedContent(alice.id, sha256Of('only bob')), null);
      await store().library.deleteFile(alice.id, own.id);
      assert.equal(await store().library.findOwnedContent(alice.id, shared), null);
    });
  });
}
