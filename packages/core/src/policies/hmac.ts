import { createHmac } from 'node:crypto';

/**
 * The keyed hash of `columns.hash`: hex HMAC-SHA256. Keyed (not a plain SHA-256), so a hashed email cannot
 * be reversed by hashing a list of known emails without the key; deterministic, so equal values stay
 * joinable across tables and sources hashed with the same key. Kept apart from ./columns (pure) because
 * it needs node:crypto.
 */
export function hmacHasher(key: string): (text: string) => string {
  return (text) => createHmac('sha256', key).update(text, 'utf8').digest('hex');
}
