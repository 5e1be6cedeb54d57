import { createHmac } from 'node:crypto';

/**
 * The `X-OT-Signature` header of a delivery: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>" under the webhook's secret>` (as Stripe signs; docs/API.md "Webhooks" shows how
 * to verify it).
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}
