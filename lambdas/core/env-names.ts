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
  /** Default freshness threshold (minutes) of refresh-balances when the input has no `maxAgeMinutes`. */
  freshnessMaxAgeMinutes: 'FRESHNESS_MAX_AGE_MINUTES',
  /** Days balance history items are kept (DynamoDB TTL). */
  historyTtlDays: 'HISTORY_TTL_DAYS',
  /**
   * Calls per minute the Powens client may make, shared by every Lambda through a DynamoDB token bucket
   * (adapters/powens/rate-budget.ts). Powens sandbox clients: 30; production: the figure agreed with Powens.
   */
  powensCallsPerMinute: 'POWENS_CALLS_PER_MINUTE',
  /** Calls that may go at once after idling (default: a sixth of the limit); sustained rate = limit − burst. */
  powensRateBurst: 'POWENS_RATE_BURST',
  /**
   * Optional cap (ms) on how long a Powens call waits for its rate slot. The wait is always bounded by the invocation's
   * remaining time minus the call's timeout; only a slot past that bound (or this cap) fails with RateLimited.
   */
  powensRateMaxWaitMs: 'POWENS_RATE_MAX_WAIT_MS',
  /** Bucket name (default: the host of POWENS_BASE_URL, i.e. one bucket per Powens domain/client). */
  powensRateBucket: 'POWENS_RATE_BUCKET',
  /**
   * User registry with KMS (AWS): key id/ARN that encrypts user tokens. Setting it (or TOKEN_KEY_FILE) switches users
   * and tokens from the Powens secret's list to the registry in TABLE_NAME.
   */
  tokenKmsKeyId: 'TOKEN_KMS_KEY_ID',
  /** User registry with a local AES-256-GCM key (npm start, tests): file holding the base64 32-byte key. */
  tokenKeyFile: 'TOKEN_KEY_FILE',
  /** refresh-api only: Secrets Manager secret holding the HMAC key that signs pagination cursors. */
  cursorSecretId: 'CURSOR_SECRET_ID',
  /** fan-out-page only: users per page, i.e. per Distributed Map run (1..1000, default 500). */
  fanOutPageSize: 'FANOUT_PAGE_SIZE',
  /** refresh-api only: state machine to start for named users or connections (the compiled refresh workflow). */
  stateMachineArn: 'STATE_MACHINE_ARN',
  /** refresh-api only: the fan-out state machine, started by `POST /refreshes` for everyone. */
  fanOutStateMachineArn: 'FAN_OUT_STATE_MACHINE_ARN',
} as const;
