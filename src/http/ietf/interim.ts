import type { HttpReply } from '../exchange.js';

/**
 * Sends a `104 Upload Resumption Supported` interim response. Node has no public API for arbitrary
 * 1xx responses over HTTP/1.1, so the status line goes to the socket directly, and only while
 * nothing of the final response has been written.
 */
export function sendInterim(reply: HttpReply, headers: Readonly<Record<string, string | undefined>>): void {
  const { raw } = reply;
  const socket = raw.socket;
  // RFC 9110 §15.2: no 1xx response to an HTTP/1.0 client.
  if (raw.headersSent || !socket || socket.destroyed || raw.req.httpVersionMajor !== 1 || raw.req.httpVersionMinor < 1) return;
  let head = 'HTTP/1.1 104 Upload Resumption Supported\r\n';
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) head += `${name}: ${value.replace(/[\r\n]/g, '')}\r\n`;
  }
  socket.write(`${head}\r\n`);
}
