import type { Config } from '../config.js';
import type { HttpReply } from './exchange.js';

/**
 * What every response carries so that a browser never runs or frames what Ferry serves: stored
 * files are other people's bytes, and a download of an HTML file must not run as a page of this
 * origin. A route that serves a page of its own (the upload page) replaces the CSP with its own.
 *
 * Cross-Origin-Resource-Policy only concerns no-cors loads (an <img>, a <script>): CORS requests
 * of upload clients are not affected. Where other origins are allowed, their pages may also embed
 * downloads; with no allowed origins, only this origin may.
 */
export function applySecurityHeaders(reply: HttpReply, config: Pick<Config, 'corsOrigins'>): void {
  reply
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('X-Frame-Options', 'DENY')
    .header('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'; sandbox")
    .header('Cross-Origin-Resource-Policy', config.corsOrigins.length === 0 ? 'same-origin' : 'cross-origin');
}
