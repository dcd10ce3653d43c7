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

/**
 * Active users of the registry, page by page, for the fan-out (lambdas/core/domain/fan-out.ts). One Query per call:
 * it reads `limit` registry items, so a page may come back short or empty (disabled users) before the end; the fan-out
 * bounds the users it examines per call and goes on from the cursor.
 */
export function registryUserLister(registry: UserRegistry): UserLister {
  return {
    listPage: async (cursor, limit) => {
      const page = await registry.listPage({ limit, status: 'active', ...(cursor === undefined ? {} : { cursor }) });
      const userIds = page.users.map((u) => u.userId);
      return page.cursor === undefined ? { userIds } : { userIds, cursor: page.cursor };
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
