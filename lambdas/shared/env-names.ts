/**
 * Environment variable names shared by the Lambdas (which read them, in config.ts) and the CDK constructs (which set
 * them next to the matching grant). One list so the two never drift.
 */
export const ENV = {
  /** DynamoDB table holding latest balances, history and PSD2 counters. */
  tableName: 'TABLE_NAME',
  /** Powens API root, e.g. https://acme-sandbox.biapi.pro/2.0 */
  powensBaseUrl: 'POWENS_BASE_URL',
  /** In AWS: Secrets Manager secret (ARN or name) holding the Powens configuration JSON. */
  powensSecretId: 'POWENS_SECRET_ID',
  /** Locally: path of a JSON file with the same content as the secret. Exactly one of the two is set. */
  powensSecretFile: 'POWENS_SECRET_FILE',
  /** Tenant (family office) the balances belong to. */
  tenantId: 'TENANT_ID',
  /** Per-request timeout for Powens reads, ms. */
  powensTimeoutMs: 'POWENS_TIMEOUT_MS',
  /** Per-request timeout for a forced sync (PUT), ms: a sync can take minutes. */
  powensSyncTimeoutMs: 'POWENS_SYNC_TIMEOUT_MS',
  /** Unattended (psu_requested=false) syncs allowed per connection per rolling 24 h. PSD2 RTS Art. 36(5): 4. */
  psd2DailySyncLimit: 'PSD2_DAILY_SYNC_LIMIT',
  /**
   * Set to `true` only when a higher unattended frequency is agreed with the bank and the account holder consented
   * (RTS Art. 36(5)(b)); without it PSD2_DAILY_SYNC_LIMIT above 4 is rejected.
   */
  psd2HigherLimitAgreed: 'PSD2_HIGHER_LIMIT_AGREED',
  /** Days balance history items are kept (DynamoDB TTL). */
  historyTtlDays: 'HISTORY_TTL_DAYS',
  /**
   * Freshness threshold, minutes: a balance older than this is due for a refresh and is served as `stale`
   * (GET /balances, GET /positions, fetch-balances' output). One value for both uses.
   */
  maxAgeMinutes: 'MAX_AGE_MINUTES',
  /** refresh-api only: Secrets Manager secret holding the HMAC key that signs pagination cursors. */
  cursorSecretId: 'CURSOR_SECRET_ID',
  /** refresh-api only: state machine to start. */
  stateMachineArn: 'STATE_MACHINE_ARN',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
