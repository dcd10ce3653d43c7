/**
 * The refresh workflow's execution input, as typed in the Step Functions console, sent by the schedule and posted to
 * `POST /refreshes`. `{}` refreshes every user configured in the Powens secret. One JSON Schema serves the Lambdas
 * (ajv) and the API Gateway request model, so the API and the state machine accept exactly the same documents.
 */
export interface RefreshInput {
  /** Restrict to these Powens user ids (default: every configured user). */
  userIds?: number[];
  /** Restrict to these connection ids (default: every connection of the selected users). */
  connectionIds?: number[];
  /**
   * True only when the account holder is present and asked for the refresh (e.g. an API call on their behalf):
   * Powens then may ask for SCA, and the PSD2 unattended budget does not apply. Default false.
   */
  psuRequested?: boolean;
  /** Caller-chosen idempotency key; the API derives the execution name from it. */
  requestId?: string;
  /**
   * Freshness threshold: a connection Powens synced less than this many minutes ago is not forced (nor one whose
   * automatic sync is due within the hour). 0 forces every healthy connection, still within the PSD2 budget.
   * Default: the configuration's FRESHNESS_MAX_AGE_MINUTES (360).
   */
  maxAgeMinutes?: number;
}

export const REFRESH_INPUT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  title: 'RefreshInput',
  type: 'object',
  additionalProperties: false,
  properties: {
    // Ids are safe integers: above 2^53 JSON numbers silently lose digits (2^53 + 1 parses as 2^53), so such an id
    // would name another user or connection; it fails `maximum` instead (JSON parsing rounds upward, never below).
    userIds: {
      type: 'array',
      items: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
      maxItems: 100,
      uniqueItems: true,
    },
    connectionIds: {
      type: 'array',
      items: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
      maxItems: 500,
      uniqueItems: true,
    },
    psuRequested: { type: 'boolean' },
    requestId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    maxAgeMinutes: { type: 'integer', minimum: 0, maximum: 10080 },
  },
} as const;
