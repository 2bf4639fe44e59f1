/**
 * HMAC-SHA256 with each key prepared once as a KeyObject. Node 24's createHmac asks whether
 * a string or Buffer key is a KeyObject by catching the TypeError a private-field check
 * throws, which costs about 25 µs per call on the bench machine against 3 µs with a
 * KeyObject (Node 20: 3 µs either way); an upload URL takes three HMACs.
 */
import {
  type BinaryToTextEncoding,
  type KeyObject,
  createHmac,
  createSecretKey,
} from 'node:crypto';

/** Keys in use are few (owner key, account key, a delegation key at a time); bounded anyway. */
const MAX_PREPARED = 16;
const prepared = new Map<string, KeyObject>();

/** `key` as a KeyObject: its UTF-8 bytes, or its bytes decoded from base64 (storage keys). */
export function preparedKey(key: string, encoding: 'utf8' | 'base64' = 'utf8'): KeyObject {
  const id = `${encoding}:${key}`;
  let keyObject = prepared.get(id);
  if (!keyObject) {
    keyObject = createSecretKey(Buffer.from(key, encoding));
    if (prepared.size >= MAX_PREPARED) prepared.delete(prepared.keys().next().value as string);
    prepared.set(id, keyObject);
  }
  return keyObject;
}

export function hmacSha256(key: KeyObject, text: string, encoding: BinaryToTextEncoding): string {
  return createHmac('sha256', key).update(text, 'utf8').digest(encoding);
}
