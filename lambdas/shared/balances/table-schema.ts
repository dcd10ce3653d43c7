/**
 * Key design of the single balances table, shared by the store (lambdas) and the table construct (CDK).
 *
 * | item                     | pk                                   | sk                         | TTL        |
 * |--------------------------|--------------------------------------|----------------------------|------------|
 * | latest balance           | TENANT#{tenantId}                    | LATEST#{accountId}         | none       |
 * | balance history          | ACCOUNT#{tenantId}#{accountId}       | AT#{ISO-8601 balance time} | expiresAt  |
 * | PSD2 sync slot (0..n-1)  | PSD2#{userId}#{connectionId}         | SLOT#{i}                   | expiresAt  |
 * | per-execution sync mark  | EXEC#{executionId}                   | CONN#{userId}#{cid}        | expiresAt  |
 *
 * Access patterns: latest by tenant (Query pk, begins_with LATEST#), history by account and time range (Query pk,
 * sk BETWEEN), PSD2 budget (conditional UpdateItem on one slot), retry idempotency (conditional Put).
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
} as const;
