/**
 * Where the step Lambdas get users and tokens when the user registry is configured: client id/secret from the
 * Powens secret, users from the registry (only the requested ones are read and decrypted: a fan-out child asks for
 * one). The domain code sees the same SecretSource shape either way.
 *
 * Deprecated fallback, for the migration from the secret's user list: a user with no registry item but listed in the
 * secret is still refreshed from the secret (logged once per user and process, so an operator sees what is left to
 * import). A registry item always wins, and a disabled one is never replaced by the secret's copy.
 */
import type { UserLister } from '../../domain/fan-out';
import { settleWithConcurrency } from '../../concurrency';
import { ValidationFailedError } from '../../errors';
import type { UserRegistry } from '../dynamodb/user-registry';
import type { PowensSecret, PowensSecretUser, SecretSource } from './powens-secret';

export function registryCredentialSource(options: {
  secret: SecretSource;
  registry: UserRegistry;
  onSecretFallback?: (userIds: number[]) => void;
}): SecretSource {
  const { secret, registry } = options;
  const warned = new Set<number>();
  const fallback = (users: PowensSecretUser[]): PowensSecretUser[] => {
    const fresh = users.map((u) => u.userId).filter((id) => !warned.has(id));
    if (fresh.length > 0) {
      for (const id of fresh) warned.add(id);
      options.onSecretFallback?.(fresh);
    }
    return users;
  };
  return {
    description: `user registry (tenant ${registry.tenantId}) + ${secret.description}`,
    load: async (userIds?: readonly number[]): Promise<PowensSecret> => {
      const [base, resolved] = await Promise.all([secret.load(), registry.resolve(userIds)]);
      const registered = new Set(resolved.registered);
      const fromSecret =
        userIds === undefined
          ? base.users.filter((u) => !registered.has(u.userId))
          : base.users.filter((u) => resolved.missing.includes(u.userId));
      // Ids in neither place (or disabled) are left out: selectUsers() names them in its ValidationFailed.
      return {
        clientId: base.clientId,
        clientSecret: base.clientSecret,
        users: [...resolved.users, ...fallback(fromSecret)],
      };
    },
  };
}

/** Ids a secret-only warning names; the count is always given. */
export const MAX_SECRET_ONLY_IDS_LOGGED = 100;

/** The fields of the fan-out's warning about users still only in the secret: bounded, whatever the page size. */
export function secretOnlyWarning(userIds: readonly number[]): {
  count: number;
  userIds: number[];
  userIdsTruncated: boolean;
} {
  return {
    count: userIds.length,
    userIds: userIds.slice(0, MAX_SECRET_ONLY_IDS_LOGGED),
    userIdsTruncated: userIds.length > MAX_SECRET_ONLY_IDS_LOGGED,
  };
}

const REGISTRY_PHASE = 'registry:';
const SECRET_PHASE = 'secret:';

type ListerPosition = { phase: 'registry'; cursor?: string } | { phase: 'secret'; index: number };

/**
 * The cursor names its phase. Two older forms are accepted, so a fan-out in flight across a deploy goes on where it
 * was: a bare registry cursor (from the registry-only lister this one replaced; base64url JSON, so never all digits
 * and never a colon) and a bare index (secretUserLister's, a position in the same list the secret phase walks).
 */
function parseListerCursor(cursor: string | undefined): ListerPosition {
  if (cursor === undefined) return { phase: 'registry' };
  const secretIndex = (raw: string): ListerPosition => {
    const index = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(index)) {
      throw new ValidationFailedError('Fan-out cursor is not one this lister returned (bad secret position).');
    }
    return { phase: 'secret', index };
  };
  if (cursor.startsWith(REGISTRY_PHASE)) return { phase: 'registry', cursor: cursor.slice(REGISTRY_PHASE.length) };
  if (cursor.startsWith(SECRET_PHASE)) return secretIndex(cursor.slice(SECRET_PHASE.length));
  if (/^\d+$/.test(cursor)) return secretIndex(cursor);
  if (!cursor.includes(':')) return { phase: 'registry', cursor };
  throw new ValidationFailedError('Fan-out cursor is not one this lister returned (unknown phase).');
}

/**
 * The fan-out's users when the registry is configured, in two phases: the registry's active users (one Query of
 * `limit` items per call, so a page may come back short or empty before the end), then the deprecated fallback the
 * step Lambdas and the webhook receiver also honour: the secret's users that have NO registry item (a GetItem each;
 * the secret's list is small, 64 KB at most). A registry item always wins: a user in both is listed once, in the
 * registry phase, and a disabled one not at all. A user imported or removed between the two phases may be missed
 * (or, removed, listed twice) by that one run; the next run sees it right.
 *
 * Each call reads at most `limit` users, in either phase, as the fan-out's bound on users examined per call expects.
 * `onSecretOnly` gets the secret-only ids of each page (the operator's list of what is left to import).
 */
export function registryThenSecretUserLister(options: {
  registry: Pick<UserRegistry, 'listPage' | 'get'>;
  secret: SecretSource;
  onSecretOnly?: (userIds: number[]) => void;
  /** Parallel GetItem calls in the secret phase (default 8). */
  concurrency?: number;
}): UserLister {
  const { registry, secret } = options;
  const concurrency = options.concurrency ?? 8;

  const registryPage = async (cursor: string | undefined, limit: number) => {
    const page = await registry.listPage({ limit, status: 'active', ...(cursor === undefined ? {} : { cursor }) });
    const userIds = page.users.map((u) => u.userId);
    if (page.cursor !== undefined) return { userIds, cursor: `${REGISTRY_PHASE}${page.cursor}` };
    // A secret without users (the migration is done, or never started) ends the listing here.
    const { users } = await secret.load();
    return users.length === 0 ? { userIds } : { userIds, cursor: `${SECRET_PHASE}0` };
  };

  const secretPage = async (start: number, limit: number) => {
    const { users } = await secret.load();
    const candidates = users.slice(start, start + limit).map((u) => u.userId);
    const items = await settleWithConcurrency(candidates, concurrency, (id) => registry.get(id));
    const userIds = candidates.filter((_, i) => {
      const item = items[i] as PromiseSettledResult<unknown>;
      if (item.status === 'rejected') throw item.reason;
      return item.value === undefined;
    });
    if (userIds.length > 0) options.onSecretOnly?.(userIds);
    const end = start + candidates.length;
    return end < users.length ? { userIds, cursor: `${SECRET_PHASE}${end}` } : { userIds };
  };

  return {
    listPage: async (cursor, limit) => {
      const position = parseListerCursor(cursor);
      return position.phase === 'registry' ? registryPage(position.cursor, limit) : secretPage(position.index, limit);
    },
  };
}

/** Deprecated path (no registry): the secret's users, in the secret's order; the cursor is the next index. */
export function secretUserLister(secret: SecretSource): UserLister {
  return {
    listPage: async (cursor, limit) => {
      const { users } = await secret.load();
      const start = cursor === undefined ? 0 : Number(cursor);
      if (!Number.isSafeInteger(start) || start < 0)
        throw new ValidationFailedError('Fan-out cursor is not one this lister returned.');
      const userIds = users.slice(start, start + limit).map((u) => u.userId);
      const end = start + userIds.length;
      return end < users.length ? { userIds, cursor: String(end) } : { userIds };
    },
  };
}
