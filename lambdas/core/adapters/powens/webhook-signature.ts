/**
 * Powens webhook HMAC ("hmac_signature" auth provider): Powens sends `BI-Signature-Date` (UTC ISO 8601) and
 * `BI-Signature = base64(HMAC-SHA256("POST." + <path> + "." + <BI-Signature-Date> + "." + <raw body>, secret_key))`,
 * where <path> is the path of the URL registered in the Powens console (in AWS it includes the API stage, e.g.
 * `/v1/webhooks/powens/CONNECTION_SYNCED`). The sandbox signs with signPowensWebhook, the receiver verifies with
 * verifyPowensWebhookSignature: one definition for both sides.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'bi-signature';
export const SIGNATURE_DATE_HEADER = 'bi-signature-date';
/** A delivery whose date is further than this from our clock is refused (replay window). */
export const SIGNATURE_MAX_SKEW_MS = 5 * 60 * 1000;

function digest(secret: string, path: string, date: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(`POST.${path}.${date}.`).update(body).digest();
}

export function signPowensWebhook(input: { secret: string; path: string; date: string; body: Buffer }): string {
  return digest(input.secret, input.path, input.date, input.body).toString('base64');
}

/** Constant-time comparison of the decoded signature with the expected digest; any malformed value is false. */
export function verifyPowensWebhookSignature(input: {
  secret: string;
  path: string;
  date: string;
  signature: string;
  body: Buffer;
}): boolean {
  const expected = digest(input.secret, input.path, input.date, input.body);
  const trimmed = input.signature.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return false;
  const given = Buffer.from(trimmed, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
