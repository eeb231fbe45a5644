import './style.css';
import { FerryApiError, FerryClient, type User } from '../../client/src/browser.js';
import { announce, byId, h } from './dom.js';
import { droppedFiles, pickedFiles, type Picked } from './drop.js';
import { bytes } from './format.js';
import { lang, onLangChange, setLang, t, translateStatic, type Lang } from './i18n.js';
import { Library } from './library.js';
import { describeError } from './messages.js';
import { Uploads } from './uploads.js';

const TOKEN_KEY = 'ferry.token';
/** FERRY_AUTH=none: every request acts for the local user and the page needs no sign-in. */
const openServer = document.querySelector<HTMLMetaElement>('meta[name="ferry-auth"]')?.content === 'none';

const client = new FerryClient({ baseUrl: location.origin, token: localStorage.getItem(TOKEN_KEY) ?? undefined });
let authMode: 'signIn' | 'signUp' = 'signIn';
const refreshers: (() => void)[] = [];

function show(view: 'loading' | 'auth' | 'app'): void {
  byId('loading').hidden = view !== 'loading';
  byId('auth').hidden = view !== 'auth';
  byId('app').hidden = view !== 'app';
}

function renderAuth(): void {
  const signIn = authMode === 'signIn';
  byId('auth-title').textContent = t(signIn ? 'signInTitle' : 'signUpTitle');
  byId('auth-submit').textContent = t(signIn ? 'signIn' : 'signUp');
  byId('auth-switch-text').textContent = t(signIn ? 'noAccount' : 'haveAccount');
  byId('auth-switch').textContent = t(signIn ? 'signUp' : 'signIn');
  byId<HTMLInputElement>('password').autocomplete = signIn ? 'current-password' : 'new-password';
}

function authError(message: string | undefined): void {
  const element = byId('auth-error');
  element.hidden = message === undefined;
  element.textContent = message ?? '';
}

function setupAuth(): void {
  const form = byId<HTMLFormElement>('auth-form');
  const username = byId<HTMLInputElement>('username');
  const password = byId<HTMLInputElement>('password');
  byId('auth-switch').addEventListener('click', () => {
    authMode = authMode === 'signIn' ? 'signUp' : 'signIn';
    authError(undefined);
    renderAuth();
    username.focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const input of [username, password]) input.removeAttribute('aria-invalid');
    // The browser's own bubbles are not translated with the page: check here, in its language.
    const invalid = !username.checkValidity() ? username : !password.checkValidity() ? password : undefined;
    if (invalid) {
      invalid.setAttribute('aria-invalid', 'true');
      authError(t(invalid === username ? 'usernameInvalid' : 'passwordInvalid'));
      invalid.focus();
      return;
    }
    const submit = byId<HTMLButtonElement>('auth-submit');
    submit.disabled = true;
    try {
      const session = authMode === 'signIn'
        ? await client.login(username.value.trim(), password.value)
        : await client.signup(username.value.trim(), password.value);
      localStorage.setItem(TOKEN_KEY, session.token);
      password.value = '';
      authError(undefined);
      await enter(session.user);
    } catch (err) {
      authError(describeError(err));
      (err instanceof FerryApiError && err.code === 'username_taken' ? username : password).focus();
    } finally {
      submit.disabled = false;
    }
  });
  refreshers.push(renderAuth);
}

function setupSignOut(): void {
  byId('signout').addEventListener('click', async () => {
    const token = client.token;
    localStorage.removeItem(TOKEN_KEY);
    // Revoke the session on the server too; the page reloads signed out whatever the answer.
    if (token) await fetch('/api/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    location.reload();
  });
}

async function enter(user: User): Promise<void> {
  const who = byId('who');
  who.hidden = false;
  byId('signout').hidden = openServer;
  refreshers.push(() => { who.textContent = t('signedInAs', { name: user.username }); });
  who.textContent = t('signedInAs', { name: user.username });
  show('app');
  byId('main').focus();

  const library = new Library(client);
  const uploads = new Uploads(client, user.id, byId<HTMLUListElement>('uploads'), (event) => {
    byId('uploads-section').hidden = uploads.count === 0;
    byId('clear-finished').hidden = uploads.finished === 0;
    if (event === 'finished') void library.refresh();
    if (event === 'added') void showUnfinished();
  });
  refreshers.push(() => { library.render(); uploads.renderAll(); void showUnfinished(); });

  const add = (files: Picked[]) => {
    if (files.length > 0) uploads.add(files);
  };
  setupPickers(add);
  setupDrop(add);
  byId('clear-finished').addEventListener('click', () => {
    uploads.clearFinished();
    byId('drop').querySelector<HTMLElement>('button')?.focus();
  });

  /** Uploads an earlier page left unfinished, until their files are picked again. */
  async function showUnfinished(): Promise<void> {
    const list = byId('unfinished-list');
    let pending: Awaited<ReturnType<FerryClient['unfinishedUploads']>> = [];
    try {
      pending = (await client.unfinishedUploads(user.id)).filter((u) => !uploads.has(u.name, u.size, u.lastModified));
    } catch {
      // Unreadable state or server away: nothing to offer now; the uploads themselves still resume.
    }
    byId('unfinished').hidden = pending.length === 0;
    list.replaceChildren(...pending.map((upload) => {
      const forget = h('button', { type: 'button', class: 'button small ghost', 'aria-label': t('forgetLabel', { name: upload.name }) }, t('forget'));
      forget.addEventListener('click', async () => {
        await client.forgetUpload(upload).catch(() => undefined);
        await showUnfinished();
      });
      return h('li', { class: 'row unfinished-row', 'data-name': upload.name },
        h('div', { class: 'row-main' },
          h('div', { class: 'row-title' }, h('span', { class: 'row-name' }, upload.name)),
          h('div', { class: 'row-meta' }, h('span', { class: 'row-detail' }, t('unfinishedStatus', { done: bytes(upload.receivedBytes), total: bytes(upload.size) })))),
        h('div', { class: 'row-actions' }, forget));
    }));
  }

  await Promise.all([library.refresh(), showUnfinished()]);
}

function setupPickers(add: (files: Picked[]) => void): void {
  for (const [button, input] of [['choose-files', 'pick-files'], ['choose-folder', 'pick-folder']] as const) {
    const picker = byId<HTMLInputElement>(input);
    byId(button).addEventListener('click', () => picker.click());
    picker.addEventListener('change', () => {
      add(pickedFiles(picker));
      picker.value = '';
    });
  }
}

/** The whole window takes drops (the zone lights up), so a file dropped a little beside it is not opened by the browser instead. */
function setupDrop(add: (files: Picked[]) => void): void {
  const zone = byId('drop');
  let depth = 0;
  const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
  const light = (on: boolean) => {
    zone.classList.toggle('active', on);
    zone.querySelector('.drop-title')!.textContent = t(on ? 'dropActive' : 'dropTitle');
  };
  window.addEventListener('dragenter', (event) => {
    if (!carriesFiles(event) || byId('app').hidden) return;
    depth += 1;
    light(true);
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) light(false);
  });
  window.addEventListener('dragover', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer!.dropEffect = byId('app').hidden ? 'none' : 'copy';
  });
  window.addEventListener('drop', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    light(false);
    if (byId('app').hidden) return;
    droppedFiles(event.dataTransfer!).then(add, (err: unknown) => announce(describeError(err)));
  });
}

function setupLanguage(): void {
  const select = byId<HTMLSelectElement>('lang');
  select.value = lang();
  select.addEventListener('change', () => setLang(select.value as Lang));
  document.documentElement.lang = lang();
  onLangChange(() => {
    translateStatic(document);
    document.title = `Ferry · ${t('tagline')}`;
    for (const refresh of refreshers) refresh();
  });
}

async function start(): Promise<void> {
  setupLanguage();
  setupAuth();
  setupSignOut();
  renderAuth();
  if (!openServer && !client.token) {
    show('auth');
    return;
  }
  try {
    await enter(await client.me());
  } catch (err) {
    if (err instanceof FerryApiError && err.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      client.token = undefined;
      show('auth');
      if (!openServer) return;
    }
    show('auth');
    authError(describeError(err));
  }
}

void start();
