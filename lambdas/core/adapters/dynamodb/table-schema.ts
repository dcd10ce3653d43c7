/**
 * Key design of the single balances table, shared by the store (lambdas) and the table construct (CDK).
 *
 * | item                     | pk                                   | sk                         | TTL        |
 * |--------------------------|--------------------------------------|----------------------------|------------|
 * | latest balance           | TENANT#{tenantId}                    | LATEST#{accountId}         | none       |
 * | balance history          | ACCOUNT#{tenantId}#{accountId}       | AT#{ISO-8601 balance time} | expiresAt  |
 * | PSD2 sync slot (0..n-1)  | PSD2#{userId}#{connectionId}         | SLOT#{i}                   | expiresAt  |
 * | PSD2 observed sync       | PSD2#{userId}#{connectionId}         | SEEN#{ISO sync time}       | expiresAt  |
 * | per-execution sync mark  | EXEC#{executionId}                   | CONN#{userId}#{cid}        | expiresAt  |
 * | Powens rate bucket       | RATE#{bucket}                        | BUCKET                     | none       |
 * | connection health        | HEALTH#{tenantId}                    | CONN#{userId}#{cid}        | none       |
 * | webhook delivery (dedup) | WEBHOOK#{tenantId}                   | ID#{id_webhook_data}       | expiresAt  |
 * | registered Powens user   | USERS#{tenantId}                     | USER#{userId, 16 digits}   | none       |
 *
 * Access patterns: latest by tenant (Query pk, begins_with LATEST#), history by account and time range (Query pk,
 * sk BETWEEN), PSD2 budget (conditional UpdateItem on one slot), retry idempotency (conditional UpdateItem), one
 * user's connection health (Query pk, begins_with `CONN#{userId}#`: the fan-out, one Query per user).
 *
 * As implemented: latest and history items carry the AccountBalanceRecord fields plus `balanceAt` (epoch ms of
 * lastUpdatedAt; latest is written only if `attribute_not_exists(pk) OR balanceAt < :t`). History `expiresAt` =
 * balance time + HISTORY_TTL_DAYS. Slots carry `usedAt` (epoch ms; free when older than 24 h) and `expiresAt` =
 * usedAt + 48 h. Markers carry `status` (started|done), `attempts`, `slot`, `result` and `expiresAt` = +7 days.
 * Every write is single-item (no transactions: dynalite has none), see balances/store.ts and psd2/budget.ts.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
} as const;

/**
 * Key builders: the only place the `#`-joined key strings are spelled, so the store, the PSD2 budget, the execution
 * markers and the tests agree. Ids must not contain `#` (config.ts rejects such a tenant id; Powens ids are ints).
 */
export const TABLE_KEY_PREFIX = {
  tenant: 'TENANT#',
  latest: 'LATEST#',
  account: 'ACCOUNT#',
  at: 'AT#',
  psd2: 'PSD2#',
  slot: 'SLOT#',
  seen: 'SEEN#',
  execution: 'EXEC#',
  connection: 'CONN#',
  rate: 'RATE#',
  health: 'HEALTH#',
  webhook: 'WEBHOOK#',
  webhookId: 'ID#',
  users: 'USERS#',
  user: 'USER#',
} as const;

export const tableKeys = {
  latest: (tenantId: string, accountId: string) => ({
    pk: `${TABLE_KEY_PREFIX.tenant}${tenantId}`,
    sk: `${TABLE_KEY_PREFIX.latest}${accountId}`,
  }),
  /** `balanceAtIso` must be `Date#toISOString()` output: fixed width, so string order is time order. */
  history: (tenantId: string, accountId: string, balanceAtIso: string) => ({
    pk: `${TABLE_KEY_PREFIX.account}${tenantId}#${accountId}`,
    sk: `${TABLE_KEY_PREFIX.at}${balanceAtIso}`,
  }),
  psd2Slot: (userId: number, connectionId: number, slot: number) => ({
    pk: `${TABLE_KEY_PREFIX.psd2}${userId}#${connectionId}`,
    sk: `${TABLE_KEY_PREFIX.slot}${slot}`,
  }),
  executionMarker: (executionId: string, userId: number, connectionId: number) => ({
    pk: `${TABLE_KEY_PREFIX.execution}${executionId}`,
    sk: `${TABLE_KEY_PREFIX.connection}${userId}#${connectionId}`,
  }),
  /** One token bucket per Powens client (../powens/rate-budget.ts): `tokens`, `refilledAt` (epoch ms), `version`. */
  rateBucket: (bucket: string) => ({ pk: `${TABLE_KEY_PREFIX.rate}${bucket}`, sk: 'BUCKET' }),
  /** Last known state of one Powens connection (./connection-health.ts), written by the workflow and the webhooks. */
  connectionHealth: (tenantId: string, userId: number, connectionId: number) => ({
    pk: `${TABLE_KEY_PREFIX.health}${tenantId}`,
    sk: `${TABLE_KEY_PREFIX.connection}${userId}#${connectionId}`,
  }),
  /** Sort-key prefix of one user's connection-health items (the `#` ends the user id: 1 is not a prefix of 10). */
  connectionHealthOfUser: (userId: number) => `${TABLE_KEY_PREFIX.connection}${userId}#`,
  /** One Powens webhook delivery, by Powens' `id_webhook_data` (idempotency). */
  webhookDelivery: (tenantId: string, idWebhookData: number) => ({
    pk: `${TABLE_KEY_PREFIX.webhook}${tenantId}`,
    sk: `${TABLE_KEY_PREFIX.webhookId}${idWebhookData}`,
  }),
  /** The user registry of a tenant is one partition (../dynamodb/user-registry.ts); sort keys in numeric order. */
  userRegistryPartition: (tenantId: string) => `${TABLE_KEY_PREFIX.users}${tenantId}`,
  registeredUser: (tenantId: string, userId: number) => ({
    pk: `${TABLE_KEY_PREFIX.users}${tenantId}`,
    sk: `${TABLE_KEY_PREFIX.user}${String(userId).padStart(16, '0')}`,
  }),
} as const;

/**
 * CreateTable input for tests and the local run (the CDK table construct declares the same keys). TTL cannot be
 * enabled here: dynalite has no UpdateTimeToLive, so readers filter expired items themselves.
 */
export function balancesTableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' as const },
    ],
  };
}
