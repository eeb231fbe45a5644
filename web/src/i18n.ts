/** The page's words in English and Simplified Chinese; `{name}` marks a value filled in. */
const en = {
  skip: 'Skip to content',
  tagline: 'Resumable uploads',
  language: 'Language',
  loading: 'Loading…',
  signIn: 'Sign in',
  signUp: 'Create account',
  signOut: 'Sign out',
  signInTitle: 'Sign in to Ferry',
  signUpTitle: 'Create your Ferry account',
  authLead: 'Send big files over any connection: uploads survive dropped networks and page reloads.',
  noAccount: 'New here?',
  haveAccount: 'Already have an account?',
  username: 'Username',
  password: 'Password',
  usernameHint: 'Letters, digits, dots, dashes and underscores; at least 3.',
  passwordHint: 'At least 8 characters.',
  usernameInvalid: 'Use at least 3 letters, digits, dots, dashes or underscores.',
  passwordInvalid: 'The password needs at least 8 characters.',
  signedInAs: 'Signed in as {name}',
  uploadTitle: 'Upload files',
  dropTitle: 'Drop files or folders here',
  dropActive: 'Drop to upload',
  chooseFiles: 'Choose files',
  chooseFolder: 'Choose a folder',
  dropHint: 'Any size. If the connection drops or the page reloads, the upload continues where it stopped.',
  unfinishedTitle: 'Unfinished uploads',
  unfinishedHint: 'Choose or drop the same file again to continue where it stopped.',
  unfinishedStatus: '{done} of {total} already uploaded',
  forget: 'Forget',
  forgetLabel: 'Forget the unfinished upload of {name}',
  uploadsTitle: 'Uploads',
  clearFinished: 'Clear finished',
  waiting: 'Waiting…',
  hashing: 'Preparing… {percent}',
  proving: 'Checking with the server…',
  uploading: 'Uploading',
  completing: 'Finishing…',
  done: 'Uploaded',
  instant: 'Instant',
  instantDetail: 'Already stored, so nothing had to be sent',
  paused: 'Paused',
  sizeOf: '{done} of {total}',
  speed: '{speed}/s',
  etaLeft: '{eta} left',
  sentIn: '{size} in {time}',
  pause: 'Pause',
  resume: 'Resume',
  cancel: 'Cancel',
  retry: 'Try again',
  remove: 'Remove',
  actionLabel: '{action}: {name}',
  progressLabel: 'Progress of {name}',
  libraryTitle: 'Your files',
  search: 'Search files',
  libraryEmpty: 'No files yet. Files you upload appear here.',
  libraryNoMatch: 'No file names contain “{query}”.',
  libraryMore: 'Showing the newest {shown} of {total} files.',
  colName: 'Name',
  colSize: 'Size',
  colDate: 'Uploaded',
  colActions: 'Actions',
  download: 'Download',
  rename: 'Rename',
  delete: 'Delete',
  save: 'Save',
  keep: 'Keep',
  newName: 'New name for {name}',
  confirmDelete: 'Delete “{name}”?',
  renamed: 'Renamed to {name}',
  deleted: 'Deleted {name}',
  uploadDone: '{name} is uploaded',
  uploadInstant: '{name} completed instantly: it was already stored',
  uploadFailed: '{name} stopped: {error}',
  uploadPaused: '{name} is paused',
  alreadyQueued: '{name} is already in the list',
  errNetwork: 'Cannot reach the server. Check the connection and try again.',
  autoRetry: 'The upload continues where it stopped as soon as the connection is back.',
  errCredentials: 'Wrong username or password.',
  errUsernameTaken: 'That username is taken. Choose another one.',
  errRateLimited: 'Too many attempts. Wait a minute, then try again.',
  errSession: 'Your session has ended. Sign in again.',
  errStorageFull: 'The server has run out of storage space. Try again later.',
  errQuota: 'Your account has no space left for this file. Delete some files and try again.',
  errTooLarge: 'This file is larger than the server accepts.',
  errInvalidName: 'That name cannot be used: no empty folders, “..”, or “/” at the start or end.',
  errNotFound: 'That file no longer exists. The list has been refreshed.',
  errUnavailable: 'The server is busy or restarting. Try again in a moment.',
  errChanged: 'The file changed while it was being uploaded. Choose it again to upload the new version.',
  errUnreadable: 'The file can no longer be read (moved, deleted or changed?). Choose it again.',
  errHashing: 'The file could not be prepared for upload: {detail}',
  errServer: 'The server could not do this ({detail}).',
  errUnknown: 'Something went wrong: {detail}',
  unitB: 'B', unitKB: 'KB', unitMB: 'MB', unitGB: 'GB', unitTB: 'TB',
  seconds: '{n} s',
  minutes: '{n} min',
  hours: '{h} h {m} min',
};

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  skip: '跳到主要内容',
  tagline: '可续传上传',
  language: '语言',
  loading: '正在加载…',
  signIn: '登录',
  signUp: '注册',
  signOut: '退出登录',
  signInTitle: '登录 Ferry',
  signUpTitle: '注册 Ferry 账号',
  authLead: '在任何网络下发送大文件：断网或刷新页面后，上传都会从中断处继续。',
  noAccount: '还没有账号？',
  haveAccount: '已有账号？',
  username: '用户名',
  password: '密码',
  usernameHint: '字母、数字、点、连字符和下划线，至少 3 个字符。',
  passwordHint: '至少 8 个字符。',
  usernameInvalid: '用户名至少 3 个字符，只能包含字母、数字、点、连字符或下划线。',
  passwordInvalid: '密码至少需要 8 个字符。',
  signedInAs: '已登录：{name}',
  uploadTitle: '上传文件',
  dropTitle: '把文件或文件夹拖到这里',
  dropActive: '松开即可上传',
  chooseFiles: '选择文件',
  chooseFolder: '选择文件夹',
  dropHint: '不限大小。断网或刷新页面后，上传会从中断处继续。',
  unfinishedTitle: '未完成的上传',
  unfinishedHint: '再次选择或拖入同一个文件，即可从中断处继续。',
  unfinishedStatus: '已上传 {done}，共 {total}',
  forget: '放弃',
  forgetLabel: '放弃未完成的上传：{name}',
  uploadsTitle: '上传列表',
  clearFinished: '清除已完成',
  waiting: '等待中…',
  hashing: '准备中… {percent}',
  proving: '正在与服务器核对…',
  uploading: '上传中',
  completing: '即将完成…',
  done: '已上传',
  instant: '秒传',
  instantDetail: '服务器上已有相同内容，无需发送',
  paused: '已暂停',
  sizeOf: '{done} / {total}',
  speed: '{speed}/秒',
  etaLeft: '剩余 {eta}',
  sentIn: '{size}，用时 {time}',
  pause: '暂停',
  resume: '继续',
  cancel: '取消',
  retry: '重试',
  remove: '移除',
  actionLabel: '{action}：{name}',
  progressLabel: '{name} 的进度',
  libraryTitle: '我的文件',
  search: '搜索文件',
  libraryEmpty: '还没有文件。上传的文件会显示在这里。',
  libraryNoMatch: '没有文件名包含“{query}”的文件。',
  libraryMore: '显示最新的 {shown} 个文件，共 {total} 个。',
  colName: '名称',
  colSize: '大小',
  colDate: '上传时间',
  colActions: '操作',
  download: '下载',
  rename: '重命名',
  delete: '删除',
  save: '保存',
  keep: '保留',
  newName: '{name} 的新名称',
  confirmDelete: '删除“{name}”？',
  renamed: '已重命名为 {name}',
  deleted: '已删除 {name}',
  uploadDone: '{name} 已上传',
  uploadInstant: '{name} 秒传完成：服务器上已有相同内容',
  uploadFailed: '{name} 已停止：{error}',
  uploadPaused: '{name} 已暂停',
  alreadyQueued: '{name} 已在列表中',
  errNetwork: '无法连接服务器。请检查网络后重试。',
  autoRetry: '网络恢复后，上传会自动从中断处继续。',
  errCredentials: '用户名或密码错误。',
  errUsernameTaken: '该用户名已被占用，请换一个。',
  errRateLimited: '尝试次数过多，请稍等一分钟再试。',
  errSession: '登录已过期，请重新登录。',
  errStorageFull: '服务器存储空间已满，请稍后再试。',
  errQuota: '账号空间不足，无法存放此文件。请删除一些文件后重试。',
  errTooLarge: '文件超过了服务器允许的大小。',
  errInvalidName: '不能使用这个名称：不能有空文件夹、“..”，也不能以“/”开头或结尾。',
  errNotFound: '该文件已不存在，列表已刷新。',
  errUnavailable: '服务器繁忙或正在重启，请稍后再试。',
  errChanged: '文件在上传过程中被修改了。请重新选择以上传新版本。',
  errUnreadable: '无法再读取该文件（已移动、删除或修改？）。请重新选择。',
  errHashing: '无法准备上传该文件：{detail}',
  errServer: '服务器无法完成此操作（{detail}）。',
  errUnknown: '出错了：{detail}',
  unitB: 'B', unitKB: 'KB', unitMB: 'MB', unitGB: 'GB', unitTB: 'TB',
  seconds: '{n} 秒',
  minutes: '{n} 分钟',
  hours: '{h} 小时 {m} 分钟',
};

export type Lang = 'en' | 'zh-CN';
const dictionaries: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zh };
const STORAGE_KEY = 'ferry.lang';

let current: Lang = initialLang();
const listeners: (() => void)[] = [];

/** The saved choice, else the first of the browser's languages that the page has (any Chinese reads 简体中文 best of the two). */
function initialLang(): Lang {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  for (const listener of listeners) listener();
}

/** Runs `render` now and after every change of language. */
export function onLangChange(render: () => void): void {
  listeners.push(render);
  render();
}

export function t(key: Key, values: Record<string, string | number> = {}): string {
  return dictionaries[current][key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
}

/** Fills `data-i18n` (text) and `data-i18n-placeholder` elements under `root`. */
export function translateStatic(root: ParentNode): void {
  for (const element of root.querySelectorAll<HTMLElement>('[data-i18n]')) element.textContent = t(element.dataset.i18n as Key);
  for (const element of root.querySelectorAll<HTMLInputElement>('[data-i18n-placeholder]')) element.placeholder = t(element.dataset.i18nPlaceholder as Key);
}
