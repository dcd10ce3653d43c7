/**
 * Powens API 2.0 wire types, as JSON arrives from `https://<domain>.biapi.pro/2.0`.
 *
 * Sources: Powens' OpenAPI (powenscompany/powens-sdks, lib/specs: connections.yml, bank-accounts.yml, core.yml) and
 * docs/powens-api.md. Where they disagree the OpenAPI wins for what is *required*, the fact sheet
 * for what may additionally appear (deprecated duplicates, extras seen in real payloads). DateTimes stay strings
 * ("YYYY-MM-DD HH:MM:SS", see ./datetime.ts): the client hands back what Powens sent, domain code parses.
 */

/** Powens "sql-date-time": `YYYY-MM-DD HH:MM:SS`, zone not stated by Powens (see ./datetime.ts). */
export type PowensDateTime = string;

/**
 * Connection states documented by Powens (docs/powens-api.md §3.1: the documentation's table and the OpenAPI `ConnectionState`).
 * Powens warns that new states may be added: `string & {}` keeps unknown values assignable without erasing the
 * autocompletion of the known ones. `null` means the last sync succeeded.
 */
export const KNOWN_CONNECTION_STATES = [
  'validating',
  'rateLimiting',
  'websiteUnavailable',
  'bug',
  'SCARequired',
  'webauthRequired',
  'additionalInformationNeeded',
  'decoupled',
  'actionNeeded',
  'passwordExpired',
  'wrongpass',
  'notSupported',
] as const;
export type KnownConnectionState = (typeof KNOWN_CONNECTION_STATES)[number];
export type ConnectionState = KnownConnectionState | (string & {});

/** OpenAPI `CredentialsField` (connectors.yml): a prompt shown for additionalInformationNeeded / wrongpass. */
export interface PowensCredentialsField {
  name: string;
  type: 'text' | 'list' | 'date' | 'number' | 'password' | (string & {});
  auth_mechanisms: string[];
  label: string;
  required: boolean;
  description?: string | null;
  regex?: string | null;
  values?: { value: string; label: string }[] | null;
}

/** OpenAPI `Currency` (bank-accounts.yml requires id, name, symbol, precision); extras seen in real payloads. */
export interface PowensCurrency {
  /** ISO 4217 code, e.g. "EUR". */
  id: string;
  name: string;
  symbol: string;
  precision: number;
  prefix?: boolean;
  crypto?: boolean;
  marketcap?: number | null;
  datetime?: PowensDateTime | null;
}

/** OpenAPI `BankAccountTypeName` (bank-account-types.yml); unknown future values stay assignable. */
export type PowensAccountType =
  | 'article83'
  | 'capitalisation'
  | 'card'
  | 'checking'
  | 'crowdlending'
  | 'deposit'
  | 'joint'
  | 'lifeinsurance'
  | 'loan'
  | 'madelin'
  | 'market'
  | 'pea'
  | 'pee'
  | 'per'
  | 'perco'
  | 'perp'
  | 'real_estate'
  | 'rsp'
  | 'savings'
  | 'unknown'
  | (string & {});

export type PowensAccountUsage = 'PRIV' | 'ORGA' | 'ASSO';

/**
 * OpenAPI `BankAccount`. Required there: id, id_connection, id_user, id_source, name, original_name, type, id_type,
 * usage, display, bookmarked. Powens' documentation calls id_connection/id_user/id_source/usage nullable and
 * `bookmarked` an int: the sandbox follows the OpenAPI, this type admits both so real payloads do not lie to it.
 */
export interface PowensBankAccount {
  id: number;
  id_connection: number | null;
  id_user: number | null;
  id_source: number | null;
  id_parent?: number | null;
  number: string | null;
  iban: string | null;
  original_name: string;
  name: string;
  /** Money is a JSON number (decimal); null when the bank gives none. */
  balance: number | null;
  coming: number | null;
  currency: PowensCurrency | null;
  type: PowensAccountType;
  id_type: number;
  usage: PowensAccountUsage | null;
  display: boolean;
  bookmarked: boolean | number;
  /** Last *successful* update of this account. */
  last_update: PowensDateTime | null;
  /** Set when the account is no longer found at the bank (listed only with `?all`). */
  deleted: PowensDateTime | null;
  /** Set when the account is not synced (new accounts are disabled by default; listed only with `?all`). */
  disabled: PowensDateTime | null;
  /** Last error code for this account. */
  error: string | null;
  company_name?: string | null;
  bic?: string | null;
  webid?: string | null;
  opening_date?: string | null;
  loan?: unknown;
  connection?: PowensConnection | null;
}

/**
 * OpenAPI `Connection` (required: id, id_connector, created, active). `error` is a deprecated duplicate of `state`
 * that Powens still returns; `last_update` is the last *successful* update, so it does not move when a sync fails.
 */
export interface PowensConnection {
  id: number;
  id_user: number | null;
  id_connector: number;
  connector_uuid?: string;
  /** null = last sync succeeded. */
  state: ConnectionState | null;
  /** Deprecated duplicate of `state`. */
  error?: ConnectionState | null;
  /** Bank message for the user; for webauthRequired it can be a full authorize URL. */
  error_message?: string | null;
  fields?: PowensCredentialsField[] | null;
  last_update: PowensDateTime | null;
  created: PowensDateTime | null;
  active: boolean;
  last_push?: PowensDateTime | null;
  /** PSD2 consent end (highest expiry among sources). */
  expire?: PowensDateTime | null;
  /** Next automatic synchronisation Powens has scheduled. */
  next_try?: PowensDateTime | null;
  /** `expand=accounts` (enabled accounts only). */
  accounts?: PowensBankAccount[] | null;
  /** `expand=all_accounts` (including disabled ones). */
  all_accounts?: PowensBankAccount[] | null;
  connector?: unknown;
  sources?: unknown[] | null;
}

/** Pagination links some lists carry (docs/powens-api.md §2.4); hrefs are opaque absolute URLs to follow as is. */
export interface PowensLinks {
  self?: { href: string } | null;
  prev?: { href: string } | null;
  next?: { href: string } | null;
}

/** OpenAPI `ConnectionsList`. */
export interface PowensConnectionsList {
  connections: PowensConnection[];
  total?: number;
  _links?: PowensLinks;
}

/**
 * OpenAPI `BankAccountsList`: `balances` is required there (per-currency totals of the listed accounts). It is
 * optional here because the client answers Powens' `400 noAccount` with `{ accounts: [] }` and no totals.
 */
export interface PowensAccountsList {
  accounts: PowensBankAccount[];
  balances?: Record<string, number | null>;
  coming_balances?: Record<string, number | null>;
  /** Grand total / count extras observed in real payloads; do not depend on them. */
  balance?: number;
  total?: number;
  _links?: PowensLinks;
}

/**
 * OpenAPI `ServiceError` (core.yml): every Powens error body. `request_id` is a string in the OpenAPI, an integer
 * in the error documentation, so both are admitted. `code` is open: Powens documents codes (notFound, invalidValue...) absent from the enum.
 */
export interface ServiceError {
  code: string;
  description: string;
  message?: string | null;
  request_id?: string | number | null;
}

/** GET /users/me. */
export interface PowensUser {
  id: number;
  signin: PowensDateTime;
}

/**
 * What the domain does with a connection given its state:
 * - `ok`: last sync succeeded (state null) — a forced sync is allowed.
 * - `in_progress`: Powens is validating right now — wait / poll, do not force.
 * - `transient`: Powens retries by itself (rateLimiting, websiteUnavailable, bug) — do not force.
 * - `needs_user`: only the account holder can unblock it (SCA, webauth, OTP...) — never force unattended, forcing
 *   can trigger an SCA (observed in real integrations, docs/powens-api.md §3.1).
 * - `unrecoverable`: notSupported and any state Powens adds later (Powens: "always fallback to a non-resolvable generic
 *   case") — needs attention, do not force.
 */
export type ConnectionStateClass = 'ok' | 'in_progress' | 'transient' | 'needs_user' | 'unrecoverable';

const STATE_CLASSES: Readonly<Record<KnownConnectionState, ConnectionStateClass>> = {
  validating: 'in_progress',
  rateLimiting: 'transient',
  websiteUnavailable: 'transient',
  bug: 'transient',
  SCARequired: 'needs_user',
  webauthRequired: 'needs_user',
  additionalInformationNeeded: 'needs_user',
  decoupled: 'needs_user',
  actionNeeded: 'needs_user',
  passwordExpired: 'needs_user',
  wrongpass: 'needs_user',
  notSupported: 'unrecoverable',
};

export function isKnownConnectionState(state: string): state is KnownConnectionState {
  return Object.prototype.hasOwnProperty.call(STATE_CLASSES, state);
}

export function classifyConnectionState(state: ConnectionState | null | undefined): ConnectionStateClass {
  if (state === null || state === undefined) return 'ok';
  return isKnownConnectionState(state) ? STATE_CLASSES[state] : 'unrecoverable';
}
