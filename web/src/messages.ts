import { FerryApiError, FerryNetworkError } from '../../client/src/browser.js';
import { t, type Key } from './i18n.js';

const BY_CODE: Record<string, Key> = {
  invalid_credentials: 'errCredentials',
  username_taken: 'errUsernameTaken',
  rate_limited: 'errRateLimited',
  unauthorized: 'errSession',
  storage_full: 'errStorageFull',
  quota_exceeded: 'errQuota',
  too_large: 'errTooLarge',
  invalid_name: 'errInvalidName',
  file_not_found: 'errNotFound',
  service_unavailable: 'errUnavailable',
  sha256_mismatch: 'errChanged',
  digest_mismatch: 'errChanged',
};

/** An error as a sentence for the person using the page, in the page's language. */
export function describeError(err: unknown): string {
  if (err instanceof FerryNetworkError) return t('errNetwork');
  if (err instanceof FerryApiError) {
    const key = BY_CODE[err.code];
    if (key) return t(key);
    if (err.status >= 500) return t('errUnavailable');
    return t('errServer', { detail: err.message });
  }
  if (err instanceof DOMException && (err.name === 'NotReadableError' || err.name === 'NotFoundError')) return t('errUnreadable');
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) return t('errNetwork');
  if (err instanceof Error && err.message.startsWith('the hashing worker')) return t('errHashing', { detail: err.message });
  return t('errUnknown', { detail: err instanceof Error ? err.message : String(err) });
}

/** Whether trying again later may succeed (the network or the server was away). */
export function isTransient(err: unknown): boolean {
  return err instanceof FerryNetworkError || (err instanceof FerryApiError && (err.status >= 500 || err.status === 429));
}
