/**
 * Where the step Lambdas get users and tokens when the user registry is configured: client id/secret from the
 * Powens secret, users from the registry (only the requested ones are read and decrypted: a fan-out child asks for
 * one). The domain code sees the same SecretSource shape either way.
 *
 * Deprecated fallback, for the migration from the secret's user list: a user with no registry item but listed in the
 * secret is still refreshed from the secret (logged once per user and process, so an operator sees what is left to
 * import). A registry item always wins, and a disabled one is never replaced by the secret's copy.
 */
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
      return { clientId: base.clientId, clientSecret: base.clientSecret, users: [...resolved.users, ...fallback(fromSecret)] };
    },
  };
}
