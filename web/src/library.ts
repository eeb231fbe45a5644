import type { FerryClient, FerryFile } from '../../client/src/browser.js';
import { announce, byId, h } from './dom.js';
import { bytes, dateTime } from './format.js';
import { t } from './i18n.js';
import { describeError } from './messages.js';

const PAGE = 200;

/** The library list: the newest files first, with download, rename and delete. */
export class Library {
  private files: FerryFile[] = [];
  private total = 0;
  private query = '';
  private loading: Promise<void> | undefined;
  private again = false;
  private editing: string | undefined;
  private confirming: string | undefined;
  private readonly body = byId<HTMLTableSectionElement>('library-body');

  constructor(private readonly client: FerryClient) {
    let timer: number | undefined;
    byId<HTMLInputElement>('library-search').addEventListener('input', (event) => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        this.query = (event.target as HTMLInputElement).value.trim();
        void this.refresh();
      }, 250);
    });
  }

  /** Loads the list again; calls made while one load runs end in one more load after it. */
  refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        try {
          const page = await this.client.list({ sort: 'time', order: 'desc', limit: PAGE, ...(this.query ? { q: this.query } : {}) });
          this.files = page.files;
          this.total = page.total;
          this.showError(undefined);
        } catch (err) {
          this.showError(err);
        }
        this.render();
      } while (this.again);
    })().finally(() => { this.loading = undefined; });
    return this.loading;
  }

  render(): void {
    const empty = byId('library-empty');
    byId('library-count').textContent = this.total > 0 ? String(this.total) : '';
    empty.hidden = this.files.length > 0;
    empty.textContent = this.query ? t('libraryNoMatch', { query: this.query }) : t('libraryEmpty');
    byId('library').hidden = this.files.length === 0;
    const more = byId('library-more');
    more.hidden = this.total <= this.files.length;
    more.textContent = t('libraryMore', { shown: this.files.length, total: this.total });
    this.body.replaceChildren(...this.files.map((file) => this.row(file)));
  }

  private row(file: FerryFile): HTMLTableRowElement {
    const slash = file.name.lastIndexOf('/');
    const name = h('td', { class: 'name' },
      h('span', { class: 'file-name', title: file.name }, slash >= 0 ? h('span', { class: 'folder' }, file.name.slice(0, slash + 1)) : null, file.name.slice(slash + 1)));
    const row = h('tr', { 'data-id': file.id }, name, h('td', { class: 'num' }, bytes(file.size)), h('td', { class: 'date' }, dateTime(file.createdAt)));
    const actions = h('td', { class: 'actions' });
    row.append(actions);
    if (this.editing === file.id) this.renameForm(file, name, actions);
    else if (this.confirming === file.id) this.deleteConfirm(file, actions);
    else {
      actions.append(
        this.button(t('download'), t('actionLabel', { action: t('download'), name: file.name }), 'download', () => void this.download(file)),
        this.button(t('rename'), t('actionLabel', { action: t('rename'), name: file.name }), 'rename', () => this.edit(file.id, 'rename')),
        this.button(t('delete'), t('actionLabel', { action: t('delete'), name: file.name }), 'delete', () => this.edit(file.id, 'delete'), 'danger'),
      );
    }
    return row;
  }

  private renameForm(file: FerryFile, cell: HTMLElement, actions: HTMLElement): void {
    const input = h('input', { class: 'rename-input', value: file.name, 'aria-label': t('newName', { name: file.name }), spellcheck: 'false' });
    const form = h('form', { class: 'rename-form' }, input);
    const save = this.button(t('save'), undefined, 'save', () => form.requestSubmit(), 'primary');
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.rename(file, input.value.trim());
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.edit(undefined, 'rename', file.id, 'rename');
    });
    cell.replaceChildren(form);
    actions.append(save, this.button(t('cancel'), undefined, 'cancel', () => this.edit(undefined, 'rename', file.id, 'rename'), 'ghost'));
    queueMicrotask(() => {
      input.focus();
      // Select the name without its extension, as file managers do.
      const base = file.name.lastIndexOf('/') + 1;
      const dot = file.name.lastIndexOf('.');
      input.setSelectionRange(base, dot > base ? dot : file.name.length);
    });
  }

  private deleteConfirm(file: FerryFile, actions: HTMLElement): void {
    const question = h('span', { class: 'confirm', role: 'alert' }, t('confirmDelete', { name: file.name }));
    const yes = this.button(t('delete'), undefined, 'confirm-delete', () => void this.remove(file), 'danger');
    actions.append(question, yes, this.button(t('keep'), undefined, 'keep', () => this.edit(undefined, 'delete', file.id, 'delete'), 'ghost'));
    queueMicrotask(() => yes.focus());
  }

  private button(text: string, label: string | undefined, action: string, onClick: () => void, kind = 'ghost'): HTMLButtonElement {
    const button = h('button', { type: 'button', class: `button small ${kind}`, 'aria-label': label, 'data-action': action }, text);
    button.addEventListener('click', onClick);
    return button;
  }

  /** Opens (or with `id` undefined, closes) a rename or delete in a row; `focusId` gets the focus back on `focusAction`. */
  private edit(id: string | undefined, mode: 'rename' | 'delete', focusId?: string, focusAction?: string): void {
    this.editing = mode === 'rename' ? id : undefined;
    this.confirming = mode === 'delete' ? id : undefined;
    this.render();
    if (focusId) this.focus(focusId, focusAction!);
  }

  private focus(id: string, action: string): void {
    const target = this.body.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(id)}"] [data-action="${action}"]`);
    (target ?? byId('library-title')).focus();
  }

  private async rename(file: FerryFile, name: string): Promise<void> {
    if (!name || name === file.name) {
      this.edit(undefined, 'rename', file.id, 'rename');
      return;
    }
    try {
      await this.client.rename(file.id, name);
      this.editing = undefined;
      announce(t('renamed', { name }));
      await this.refresh();
      this.focus(file.id, 'rename');
    } catch (err) {
      this.showError(err);
      if (isGone(err)) {
        this.editing = undefined;
        await this.refresh();
      }
    }
  }

  private async remove(file: FerryFile): Promise<void> {
    const index = this.files.findIndex((f) => f.id === file.id);
    try {
      await this.client.remove(file.id);
      this.confirming = undefined;
      announce(t('deleted', { name: file.name }));
      await this.refresh();
      // The keyboard goes on to the file that took its place, or to the list's title.
      const next = this.files[Math.min(index, this.files.length - 1)];
      if (next) this.focus(next.id, 'download');
      else byId('library-title').focus();
    } catch (err) {
      this.confirming = undefined;
      this.showError(err);
      await this.refresh();
    }
  }

  /**
   * Downloads through a signed link (a link cannot carry the token): the browser streams the file
   * to disk itself, however large it is.
   */
  private async download(file: FerryFile): Promise<void> {
    try {
      const { url } = await this.client.fileLink(file.id);
      const link = h('a', { href: url, download: file.name.slice(file.name.lastIndexOf('/') + 1), hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      this.showError(err);
    }
  }

  private showError(err: unknown): void {
    const element = byId('library-error');
    element.hidden = err === undefined;
    element.textContent = err === undefined ? '' : describeError(err);
  }
}

function isGone(err: unknown): boolean {
  return (err as { status?: number }).status === 404;
}
