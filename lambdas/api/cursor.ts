/**
 * Opaque pagination cursors: a DynamoDB LastEvaluatedKey, signed with HMAC-SHA256 over the key AND the query it
 * continues (tenant, route, account, time range). A cursor is therefore only accepted for the same query of the same
 * tenant: one copied from another tenant's (or another account's) listing, edited, truncated or forged is a 400
 * naming `cursor`, never a read of someone else's partition. The key is not encrypted (it holds only the account id
 * and the balance time the caller just received), only authenticated.
 *
 * Format: `base64url(JSON {v:1, pk, sk}) "." base64url(HMAC(key, scope "\n" payload))`, bounded to 1 KiB.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PageKey } from '../core/adapters/dynamodb/balance-store';
import { readSecretString } from '../core/adapters/secrets/powens-secret';
import { ENV } from '../core/env-names';
import { badRequest } from './http';

export const MAX_CURSOR_LENGTH = 1024;
const CURSOR_SHAPE = /^[A-Za-z0-9_-]{1,900}\.[A-Za-z0-9_-]{43}$/;

/** The signing key (≥ 32 bytes). Loaded lazily: a listing that fits in one page never needs it. */
export type CursorKeySource = () => Promise<Buffer>;

/**
 * The key stored as a Secrets Manager string, read on first use (most listings fit one page and never need it) and
 * kept for the container; a failed read is retried by the next request.
 */
export function secretCursorKey(secretId: string): CursorKeySource {
  let cursorKey: Promise<Buffer> | undefined;
  return () => {
    if (cursorKey === undefined) {
      // One rejection handler per read, not one more per request on the cached promise.
      const loading = readSecretString(secretId, ENV.cursorSecretId).then((text) => Buffer.from(text, 'utf8'));
      cursorKey = loading;
      loading.catch(() => {
        if (cursorKey === loading) cursorKey = undefined;
      });
    }
    return cursorKey;
  };
}

export interface CursorCodec {
  /** `scope` names the query the cursor continues, e.g. `balances|{tenant}`. */
  encode(scope: string, key: PageKey): Promise<string>;
  /** Throws a 400 naming `cursor` unless `cursor` was issued for `scope`; `expectedPk` is checked as well. */
  decode(scope: string, cursor: string, expectedPk: string): Promise<PageKey>;
}

const invalid = (why: string) =>
  badRequest(
    `Invalid cursor: ${why}. Pass back the nextCursor of the previous page of the same request unchanged, or omit cursor to start over.`,
  );

function sign(key: Buffer, scope: string, payload: string): Buffer {
  return createHmac('sha256', key).update(`${scope}\n${payload}`).digest();
}

export function createCursorCodec(keySource: CursorKeySource): CursorCodec {
  async function signingKey(): Promise<Buffer> {
    const key = await keySource();
    if (key.length < 32) throw new Error('cursor signing key is shorter than 32 bytes');
    return key;
  }
  return {
    async encode(scope, { pk, sk }) {
      const payload = Buffer.from(JSON.stringify({ v: 1, pk, sk })).toString('base64url');
      const cursor = `${payload}.${sign(await signingKey(), scope, payload).toString('base64url')}`;
      // Keys are short (tenant and account ids are bounded): a longer cursor would be a bug, not user input.
      if (cursor.length > MAX_CURSOR_LENGTH)
        throw new Error(`cursor of ${cursor.length} characters exceeds ${MAX_CURSOR_LENGTH}`);
      return cursor;
    },
    async decode(scope, cursor, expectedPk) {
      if (cursor.length > MAX_CURSOR_LENGTH || !CURSOR_SHAPE.test(cursor))
        throw invalid('not a cursor this API issued');
      const [payload = '', mac = ''] = cursor.split('.');
      const expected = sign(await signingKey(), scope, payload);
      const given = Buffer.from(mac, 'base64url');
      // Canonical encoding only: base64 ignores the low bits of the last character, which would let two texts pass.
      if (
        given.length !== expected.length ||
        given.toString('base64url') !== mac ||
        !timingSafeEqual(given, expected)
      ) {
        throw invalid('it was not issued for this request (other tenant, account, range or route) or was altered');
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        throw invalid('unreadable');
      }
      const { v, pk, sk } = (parsed ?? {}) as { v?: unknown; pk?: unknown; sk?: unknown };
      // Signed by us, so these only fail if the format changes: checked anyway, a start key must stay in its partition.
      if (v !== 1 || typeof pk !== 'string' || typeof sk !== 'string' || pk !== expectedPk)
        throw invalid('unsupported version');
      return { pk, sk };
    },
  };
}
