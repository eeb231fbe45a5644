import { fileSource, UploadCancelledError, type FerryClient, type UploadProgress, type UploadResult, type UploadTask } from '../../client/src/browser.js';
import { announce, h } from './dom.js';
import type { Picked } from './drop.js';
import { bytes, duration, percent } from './format.js';
import { t, type Key } from './i18n.js';
import { describeError, isTransient } from './messages.js';

/** Files uploading at once; each sends several chunks in parallel already. */
const ACTIVE = 2;
/** How often uploads stopped by the network or the server try again by themselves. */
const RETRY_MS = 30_000;

type RowState = 'waiting' | 'running' | 'paused' | 'done' | 'instant' | 'failed';

interface Row {
  readonly picked: Picked;
  readonly element: HTMLLIElement;
  state: RowState;
  task: UploadTask | undefined;
  progress: UploadProgress | undefined;
  result: UploadResult | undefined;
  error: unknown;
  startedAt: number;
  finishedAt: number;
}

/**
 * The uploads of this page: one row per file with its progress, speed and time left, and pause /
 * resume / cancel. Uploads run a few at a time; a file picked again after a reload continues its
 * saved upload (the SDK finds it in IndexedDB by the file's name, size and modification time).
 */
export class Uploads {
  private readonly rows: Row[] = [];

  constructor(
    private readonly client: FerryClient,
    private readonly userId: string,
    private readonly list: HTMLUListElement,
    private readonly onChange: (event: 'added' | 'finished' | 'removed') => void,
  ) {
    // Whatever stopped for want of a network or a server goes on by itself: when the browser is back
    // online, when the page is shown again (a laptop opened), and every RETRY_MS meanwhile.
    const retryStopped = () => {
      for (const row of this.rows) if (row.state === 'failed' && isTransient(row.error)) this.requeue(row);
    };
    window.addEventListener('online', retryStopped);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') retryStopped();
    });
    window.setInterval(retryStopped, RETRY_MS);
  }

  add(files: readonly Picked[]): void {
    for (const picked of files) {
      const twin = this.rows.find((row) => row.picked.name === picked.name && sameFile(row.picked.file, picked.file) && !isFinished(row.state));
      if (twin) {
        announce(t('alreadyQueued', { name: picked.name }));
        continue;
      }
      const row: Row = { picked, element: h('li', { class: 'row' }), state: 'waiting', task: undefined, progress: undefined, result: undefined, error: undefined, startedAt: 0, finishedAt: 0 };
      this.rows.push(row);
      this.list.append(row.element);
      this.render(row);
    }
    this.onChange('added');
    this.pump();
  }

  /** Whether a file of this name and identity is in the list. */
  has(name: string, size: number, lastModified: number): boolean {
    return this.rows.some((row) => row.picked.name === name && row.picked.file.size === size && row.picked.file.lastModified === lastModified);
  }

  get count(): number {
    return this.rows.length;
  }

  get finished(): number {
    return this.rows.filter((row) => isFinished(row.state)).length;
  }

  clearFinished(): void {
    for (const row of this.rows.filter((r) => isFinished(r.state))) this.drop(row);
  }

  renderAll(): void {
    for (const row of this.rows) this.render(row);
  }

  private pump(): void {
    // A paused upload gives its turn to the next one.
    const running = this.rows.filter((row) => row.state === 'running').length;
    const next = this.rows.filter((row) => row.state === 'waiting').slice(0, Math.max(0, ACTIVE - running));
    for (const row of next) void this.run(row);
  }

  private async run(row: Row): Promise<void> {
    row.state = 'running';
    row.error = undefined;
    row.startedAt = performance.now();
    const task = this.client.createUpload(fileSource(row.picked.file, this.userId, row.picked.name), {
      onProgress: (progress) => {
        row.progress = progress;
        this.render(row);
      },
    });
    row.task = task;
    this.render(row);
    try {
      row.result = await task.start();
      row.finishedAt = performance.now();
      row.state = row.result.instant ? 'instant' : 'done';
      announce(t(row.result.instant ? 'uploadInstant' : 'uploadDone', { name: row.picked.name }));
      this.onChange('finished');
    } catch (err) {
      if (err instanceof UploadCancelledError) {
        this.drop(row);
      } else {
        row.state = 'failed';
        row.error = err;
        announce(t('uploadFailed', { name: row.picked.name, error: describeError(err) }));
      }
    } finally {
      row.task = undefined;
      if (this.rows.includes(row)) this.render(row);
      this.pump();
    }
  }

  private requeue(row: Row): void {
    row.state = 'waiting';
    row.error = undefined;
    this.render(row);
    this.pump();
  }

  private drop(row: Row): void {
    const index = this.rows.indexOf(row);
    const hadFocus = row.element.contains(document.activeElement);
    this.rows.splice(index, 1);
    row.element.remove();
    this.onChange('removed');
    // The keyboard goes on to the row that took its place, or back to the file picker.
    if (hadFocus) {
      const next = this.rows[Math.min(index, this.rows.length - 1)];
      (next?.element.querySelector<HTMLElement>('button') ?? document.getElementById('choose-files'))?.focus();
    }
  }

  private pause(row: Row): void {
    if (row.task) {
      row.task.pause();
      row.state = 'paused';
      announce(t('uploadPaused', { name: row.picked.name }));
    }
    this.render(row);
    this.pump();
  }

  private resume(row: Row): void {
    if (row.task) {
      row.task.resume();
      row.state = 'running';
    }
    this.render(row);
  }

  private async cancel(row: Row): Promise<void> {
    if (row.task) await row.task.cancel();
    else this.drop(row);
  }

  /** Builds the row once; later renders update its text and bar, and its buttons when the state changes. */
  private render(row: Row): void {
    const { picked, progress, state } = row;
    let parts = rowParts.get(row.element);
    if (!parts) {
      const slash = picked.name.lastIndexOf('/');
      const name = h('span', { class: 'row-name', title: picked.name },
        slash >= 0 ? h('span', { class: 'folder' }, picked.name.slice(0, slash + 1)) : null, picked.name.slice(slash + 1));
      parts = {
        title: h('div', { class: 'row-title' }, name),
        status: h('span', { class: 'row-status' }),
        detail: h('span', { class: 'row-detail' }),
        actions: h('div', { class: 'row-actions' }),
        bar: h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, h('div', { class: 'bar-fill' })),
        shown: '',
      };
      rowParts.set(row.element, parts);
      row.element.append(h('div', { class: 'row-main' }, parts.title, h('div', { class: 'row-meta' }, parts.status, parts.detail)), parts.actions, parts.bar);
    }
    const total = picked.file.size;
    const hashing = state === 'running' && (!progress || progress.phase === 'hashing');
    const fraction = isFinished(state) ? 1 : hashing ? (progress?.hashedBytes ?? 0) / Math.max(1, total) : (progress?.uploadedBytes ?? 0) / Math.max(1, total);
    const status = this.statusText(row);
    row.element.dataset.state = state;
    parts.status.textContent = status;
    parts.detail.textContent = this.detailText(row);
    parts.bar.setAttribute('aria-label', t('progressLabel', { name: picked.name }));
    parts.bar.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
    parts.bar.setAttribute('aria-valuetext', `${status} ${percent(fraction, 1)}`);
    parts.bar.classList.toggle('hashing', hashing);
    (parts.bar.firstChild as HTMLElement).style.transform = `scaleX(${Math.min(1, fraction)})`;

    const actions: [Key, () => void, string][] = [];
    if (state === 'running' && row.task) actions.push(['pause', () => this.pause(row), '']);
    if (state === 'paused') actions.push(['resume', () => this.resume(row), 'primary']);
    if (state === 'failed') actions.push(['retry', () => this.requeue(row), 'primary']);
    if (!isFinished(state)) actions.push(['cancel', () => void this.cancel(row), 'ghost']);
    else actions.push(['remove', () => this.drop(row), 'ghost']);
    const shown = `${actions.map(([key]) => key).join()}|${t('cancel')}|${state === 'instant'}`;
    if (shown === parts.shown) return;
    parts.shown = shown;
    const hadFocus = parts.actions.contains(document.activeElement);
    parts.actions.replaceChildren(...actions.map(([key, action, kind]) => {
      const button = h('button', { type: 'button', class: `button small ${kind}`, 'aria-label': t('actionLabel', { action: t(key), name: picked.name }), 'data-action': key }, t(key));
      button.addEventListener('click', action);
      return button;
    }));
    // The buttons are new elements: keep the keyboard on the row (pause becomes resume, and back).
    if (hadFocus) (parts.actions.firstElementChild as HTMLElement | null)?.focus();
    parts.title.querySelector('.badge')?.remove();
    if (state === 'instant') parts.title.append(h('span', { class: 'badge instant' }, t('instant')));
  }

  private statusText(row: Row): string {
    const { progress } = row;
    switch (row.state) {
      case 'waiting': return t('waiting');
      case 'paused': return t('paused');
      case 'done': return t('done');
      case 'instant': return t('instantDetail');
      case 'failed': return describeError(row.error);
      case 'running':
        if (!progress || progress.phase === 'hashing') return t('hashing', { percent: percent(progress?.hashedBytes ?? 0, row.picked.file.size) });
        if (progress.phase === 'proving') return t('proving');
        if (progress.phase === 'completing') return t('completing');
        return `${t('uploading')} ${percent(progress.uploadedBytes, row.picked.file.size)}`;
    }
  }

  private detailText(row: Row): string {
    const total = row.picked.file.size;
    const { progress, result } = row;
    if (row.state === 'done' && result) return t('sentIn', { size: bytes(total), time: duration((row.finishedAt - row.startedAt) / 1000) });
    if (row.state === 'instant') return bytes(total);
    if (row.state === 'failed' && isTransient(row.error)) return t('autoRetry');
    const parts = [t('sizeOf', { done: bytes(progress?.uploadedBytes ?? 0), total: bytes(total) })];
    if (row.state === 'running' && progress && progress.phase === 'uploading' && progress.speed > 0) {
      parts.push(t('speed', { speed: bytes(progress.speed) }));
      if (progress.etaSeconds !== null) parts.push(t('etaLeft', { eta: duration(progress.etaSeconds) }));
    }
    return parts.join(' · ');
  }
}

interface RowParts {
  title: HTMLElement;
  status: HTMLElement;
  detail: HTMLElement;
  actions: HTMLElement;
  bar: HTMLElement;
  /** Which buttons (and in which language) the row shows now. */
  shown: string;
}
const rowParts = new WeakMap<HTMLElement, RowParts>();

function isFinished(state: RowState): boolean {
  return state === 'done' || state === 'instant';
}

function sameFile(a: File, b: File): boolean {
  return a.size === b.size && a.lastModified === b.lastModified;
}
