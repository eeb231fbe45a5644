import { createHmac } from 'node:crypto';

/**
 * Signs a body the way receivers check it: `Ferry-Signature: t=<unix seconds>,v1=<hex>`, where
 * v1 is HMAC-SHA256 over `<t>.<body>` with the shared secret. The timestamp lets a receiver refuse
 * old replays; the secret never travels.
 */
export function signature(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}
